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

// pollReadable waits up to d in ppoll(2) for fd to be readable or to report the peer's
// close or an error. It reports false only when d passed or a signal interrupted the wait
// (the caller waits again); any other failure of ppoll counts as ready, so that the read
// that follows, not a loop here, meets it.
func pollReadable(fd uintptr, d time.Duration) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLRDHUP}}
	ts := unix.NsecToTimespec(d.Nanoseconds())
	n, err := unix.Ppoll(fds, &ts, nil)
	if err != nil {
		return err != unix.EINTR
	}
	return n > 0
}

// shutdownRead shuts down the reading side of socket fd, which wakes a ppoll(2) on it
// (shutdown(2); on Linux the peer is not told).
func shutdownRead(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_RD) }
