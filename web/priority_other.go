//go:build !linux

package web

import (
	"errors"
	"time"
)

// setThreadNice: only Linux sets the priority of one thread.
func setThreadNice(int) error {
	return errors.New("a thread's priority is only set on Linux")
}

// currentThread: without a raised thread no read waits on its own (raisedConn).
func currentThread() int { return -1 }

// pollReadable is never reached off Linux (no thread is raised there).
func pollReadable(uintptr, time.Duration) bool { return true }

// shutdownRead is never reached off Linux (no read waits in ppoll there).
func shutdownRead(uintptr) {}
