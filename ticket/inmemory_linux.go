package ticket

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// memorySyscalls returns the kernel's side of KeepInMemory on Linux.
func memorySyscalls() (memorySys, error) {
	return memorySys{mappingLength: mappingLength, lock: lockPages}, nil
}

// lockPages asks the kernel to read n bytes at addr ahead (madvise MADV_WILLNEED: one
// large read instead of a fault per page) and locks them (mlock(2)), which reads in
// what is still missing. The address is bbolt's mapping, so there is no Go slice for
// it: the raw system calls take it as a number.
func lockPages(addr uintptr, n int64) error {
	// Only advice: a refusal changes nothing the lock does not do itself.
	unix.Syscall(unix.SYS_MADVISE, addr, uintptr(n), unix.MADV_WILLNEED)
	if _, _, errno := unix.Syscall(unix.SYS_MLOCK, addr, uintptr(n), 0); errno != 0 {
		if errno == unix.EPERM || errno == unix.ENOMEM || errno == unix.EAGAIN {
			// mlock(2): EPERM without CAP_IPC_LOCK and a zero RLIMIT_MEMLOCK, ENOMEM past
			// the limit, EAGAIN when some pages could not be locked.
			return fmt.Errorf("%w: mlock: %w", ErrMemoryLockRefused, errno)
		}
		return fmt.Errorf("mlock: %w", errno)
	}
	return nil
}

// mappingLength returns the length of this process's mapping of a file that starts at
// addr, from /proc/self/maps (proc(5): "start-end perms offset dev inode path", numbers in
// hex). Locking a part of a mapping splits it into areas of their own, each a line: the
// mapping is the line starting at addr and those that continue it in memory and in the
// file.
func mappingLength(addr uintptr) (int64, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("find the register's mapping: %w", err)
	}
	defer f.Close()
	return mappingLengthIn(f, uint64(addr))
}

// mappingLengthIn is mappingLength reading the maps from r.
func mappingLengthIn(r io.Reader, addr uint64) (int64, error) {
	var (
		found         bool
		end, offset   uint64 // where the next area must start, in memory and in the file
		device, inode string
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		a, err := parseMapsLine(sc.Bytes())
		if err != nil {
			return 0, fmt.Errorf("find the register's mapping: %w", err)
		}
		switch {
		case !found && a.start == addr:
			found = true
			device, inode = a.device, a.inode
		case !found:
			continue
		case a.start != end || a.offset != offset || a.device != device || a.inode != inode:
			return int64(end - addr), nil
		}
		end, offset = a.end, a.offset+(a.end-a.start)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("find the register's mapping: %w", err)
	}
	if !found {
		return 0, errors.New("find the register's mapping: not in /proc/self/maps")
	}
	return int64(end - addr), nil
}

// mapsArea is a line of /proc/self/maps.
type mapsArea struct {
	start, end, offset uint64
	device, inode      string
}

func parseMapsLine(line []byte) (mapsArea, error) {
	fields := bytes.Fields(line)
	if len(fields) < 5 {
		return mapsArea{}, fmt.Errorf("/proc/self/maps line %q", line)
	}
	from, to, _ := bytes.Cut(fields[0], []byte("-"))
	var a mapsArea
	var err1, err2, err3 error
	a.start, err1 = strconv.ParseUint(string(from), 16, 64)
	a.end, err2 = strconv.ParseUint(string(to), 16, 64)
	a.offset, err3 = strconv.ParseUint(string(fields[2]), 16, 64)
	if err := errors.Join(err1, err2, err3); err != nil || a.end <= a.start {
		return mapsArea{}, fmt.Errorf("/proc/self/maps line %q", line)
	}
	a.device, a.inode = string(fields[3]), string(fields[4])
	return a, nil
}

// MemoryLimit is KeepInMemory's default limit: a quarter of the machine's memory.
func MemoryLimit() (int64, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0, fmt.Errorf("sysinfo: %w", err)
	}
	return int64(si.Totalram) * int64(si.Unit) / 4, nil
}
