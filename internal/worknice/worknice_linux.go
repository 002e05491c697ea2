package worknice

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxPasses bounds Apply's walks over the process's threads. A thread the Go runtime
// creates during a walk is cloned from one not yet lowered and is found by the next walk;
// a walk that lowers nothing ends it.
const maxPasses = 10

func apply(work, request int) error {
	if err := probeRaise(request); err != nil {
		return fmt.Errorf("%w (nice %d: %v)", ErrRaiseRefused, request, err)
	}
	for range maxPasses {
		lowered, err := lowerAll(work)
		if err != nil {
			return err
		}
		if lowered == 0 {
			return nil
		}
	}
	return fmt.Errorf("worknice: threads still appeared at a higher priority after %d passes", maxPasses)
}

// probeRaise raises the calling goroutine's thread to nice value request and puts it back.
// Going back down is always allowed; should it fail, the goroutine ends while it holds the
// thread locked, so the Go runtime ends the thread (runtime.LockOSThread) rather than let
// it run other work raised.
func probeRaise(request int) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		tid := unix.Gettid()
		was, err := threadNice(tid)
		if err == nil {
			err = unix.Setpriority(unix.PRIO_PROCESS, tid, request)
		}
		if err == nil && unix.Setpriority(unix.PRIO_PROCESS, tid, was) != nil {
			done <- nil
			return // still raised: the thread ends with this goroutine
		}
		runtime.UnlockOSThread()
		done <- err // after the thread is back, so that Apply's walk finds it as it stays
	}()
	return <-done
}

// lowerAll sets every thread of the process whose nice value is below work to work and
// reports how many it changed. A thread that ended meanwhile is skipped.
func lowerAll(work int) (int, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, fmt.Errorf("worknice: list the threads: %w", err)
	}
	lowered := 0
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		nice, err := threadNice(tid)
		if err != nil || nice >= work {
			continue // gone, or already this low
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, work); err != nil {
			if err == unix.ESRCH {
				continue
			}
			return lowered, fmt.Errorf("worknice: lower thread %d to nice %d: %w", tid, work, err)
		}
		lowered++
	}
	return lowered, nil
}

// threadNice returns the nice value of thread tid. The raw getpriority(2) system call
// returns 20 - nice, so that no valid answer is negative (getpriority(2), NOTES); unix.Getpriority
// passes that on unchanged.
func threadNice(tid int) (int, error) {
	p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return 0, err
	}
	return 20 - p, nil
}
