//go:build !linux

package web

import "errors"

// setThreadNice: only Linux sets the priority of one thread.
func setThreadNice(int) error {
	return errors.New("a thread's priority is only set on Linux")
}
