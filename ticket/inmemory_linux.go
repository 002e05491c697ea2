package ticket

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// memorySyscalls returns the kernel's side of KeepInMemory on Linux.
func memorySyscalls() (memorySys, error) {
	return memorySys{mappingLength: mappingLength, lockedTotal: lockedTotal, lock: lockPages, unlock: unlockPages}, nil
}

// lockPages asks the kernel to read n bytes at addr ahead (madvise MADV_WILLNEED: the
// whole range at once, where bbolt's MADV_RANDOM turns off the readahead of a fault) and
// locks them (mlock(2)), which reads in what is still missing. The address is bbolt's
// mapping, so there is no Go slice for it: the raw system calls take it as a number.
func lockPages(addr uintptr, n int64) error {
	// Only advice: a refusal changes nothing the lock does not do itself.
	unix.Syscall(unix.SYS_MADVISE, addr, uintptr(n), unix.MADV_WILLNEED)
	if _, _, errno := unix.Syscall(unix.SYS_MLOCK, addr, uintptr(n), 0); errno != 0 {
		if errno == unix.EPERM || errno == unix.ENOMEM || errno == unix.EAGAIN {
			// mlock(2): EPERM without CAP_IPC_LOCK and a zero RLIMIT_MEMLOCK, ENOMEM past
			// the limit (also for a range not mapped, which the read transaction rules
			// out), EAGAIN when some pages could not be locked.
			return fmt.Errorf("%w: mlock: %w", ErrMemoryLockRefused, errno)
		}
		return fmt.Errorf("mlock: %w", errno)
	}
	return nil
}

// unlockPages unlocks n bytes at addr (munlock(2)).
func unlockPages(addr uintptr, n int64) error {
	if _, _, errno := unix.Syscall(unix.SYS_MUNLOCK, addr, uintptr(n), 0); errno != 0 {
		return fmt.Errorf("munlock: %w", errno)
	}
	return nil
}

// lockedTotal returns the memory this process has locked: VmLck of /proc/self/status
// (proc(5)), in bytes.
func lockedTotal() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("check the register's locks: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmLck:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("check the register's locks: VmLck %q", rest)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("check the register's locks: no VmLck in /proc/self/status")
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

// MemoryLimit is KeepInMemory's default limit: a quarter of the memory intake may use,
// the machine's or, when less, its control group's (memory.max and memory.high of cgroup
// v2, of intake's group and the groups above it: a container's or a systemd unit's
// MemoryMax=). Locked pages count against a group's limit and cannot be reclaimed.
func MemoryLimit() (int64, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0, fmt.Errorf("sysinfo: %w", err)
	}
	total := int64(si.Totalram) * int64(si.Unit)
	if group, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		total = min(total, cgroupMemory("/sys/fs/cgroup", string(group)))
	}
	return total / 4, nil
}

// cgroupMemory returns the smallest memory.max or memory.high set along the cgroup v2 path
// that the contents of /proc/self/cgroup name ("0::/system.slice/intake.service"), under
// root; math.MaxInt64 when none is set or there is no cgroup v2.
func cgroupMemory(root, procCgroup string) int64 {
	least := int64(math.MaxInt64)
	for line := range strings.Lines(procCgroup) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "0::")
		if !ok {
			continue
		}
		for dir := filepath.Join(root, filepath.Clean("/"+rest)); ; dir = filepath.Dir(dir) {
			for _, name := range []string{"memory.max", "memory.high"} {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					continue
				}
				if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 {
					least = min(least, v)
				}
			}
			if dir == root || !strings.HasPrefix(dir, root) {
				break
			}
		}
	}
	return least
}

// MemoryLockAllowance returns how many bytes the kernel lets this process lock:
// math.MaxInt64 with CAP_IPC_LOCK in its effective set or an unlimited RLIMIT_MEMLOCK,
// else the limit's soft value (mlock(2), getrlimit(2), capabilities(7)).
func MemoryLockAllowance() (int64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	if caps[unix.CAP_IPC_LOCK/32].Effective&(1<<(unix.CAP_IPC_LOCK%32)) != 0 {
		return math.MaxInt64, nil
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur == unix.RLIM_INFINITY || lim.Cur > math.MaxInt64 {
		return math.MaxInt64, nil
	}
	return int64(lim.Cur), nil
}
