package worknice

import (
	"errors"
	"fmt"
)

// ErrRaiseRefused is returned by Apply when the kernel does not let the process raise a
// thread to the clerks' nice value; Apply then changed nothing.
var ErrRaiseRefused = errors.New("worknice: the kernel refused to raise a thread to the clerks' nice value")

// ErrThreadGone is returned by SetThreadNice for a thread id that is not, or no longer,
// one of this process's threads.
var ErrThreadGone = errors.New("worknice: not a thread of this process")

// ErrUnsupported is returned by Apply where threads have no nice values of their own
// (every system but Linux); Apply then changed nothing.
var ErrUnsupported = errors.New("worknice: per-thread nice values need Linux")

// Apply lowers every thread of the process to nice value work, after it has checked that
// a thread can still be raised to request (web.request_nice) from there. It never raises a
// thread: a thread already at work or below in priority (a higher nice value) is left
// alone. work = 0 or request = 0 turns it off (nil, nothing changed).
//
// Call it before the web server answers its first request: a thread raised for a clerk
// before Apply would be lowered with the others.
func Apply(work, request int) error {
	if work == 0 || request == 0 {
		return nil
	}
	if work < 0 || work > 19 || request < -20 || request > 0 {
		return fmt.Errorf("worknice: work nice %d must be 1..19 and request nice %d -20..-1", work, request)
	}
	return apply(work, request)
}
