package ticket

import (
	"os"
	"syscall"
)

// openNoPoll opens path as os.OpenFile does, but gives the descriptor to os.NewFile.
// os.OpenFile tries to register every file it opens with the Go runtime's network poller;
// on Linux, for a regular file or a directory, that costs four fcntl(2) and an
// epoll_ctl(2) that fails. A drain opens each raw mail four times (created, parsed,
// fsynced, its directory fsynced): 20 system calls per mail, which this cuts to 4, one
// fcntl(F_GETFL) in os.NewFile per open (81.8 → 65.6 system calls per mail in a drain,
// BENCHMARKS.md, issue 12). Reads and writes of the file block in the kernel, as
// they do after os.OpenFile's failed registration.
func openNoPoll(path string, flag int, perm os.FileMode) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
