package web

import (
	"time"

	"golang.org/x/sys/unix"
)

// setThreadNice sets the nice value of the calling thread only: on Linux PRIO_PROCESS
// with a thread id names that one thread (setpriority(2), NOTES).
func setThreadNice(nice int) error {
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice)
}

// currentThread returns the id of the calling thread.
func currentThread() int { return unix.Gettid() }

// pollReadable waits up to d in poll(2) for fd to be readable or to report the peer's
// close or an error; it reports whether the wait ended for one of those. An interrupted
// poll counts as not ready (the caller polls again).
func pollReadable(fd uintptr, d time.Duration) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLRDHUP}}
	ts := unix.NsecToTimespec(d.Nanoseconds())
	n, err := unix.Ppoll(fds, &ts, nil)
	return err == nil && n > 0
}
