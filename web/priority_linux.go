package web

import "golang.org/x/sys/unix"

// setThreadNice sets the nice value of the calling thread only: on Linux PRIO_PROCESS
// with a thread id names that one thread (setpriority(2), NOTES).
func setThreadNice(nice int) error {
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice)
}
