package worknice

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxPasses bounds Apply's walks over the process's threads (the fallback, below).
const maxPasses = 10

// quietPasses is how many walks in a row must lower nothing before the fallback ends: a
// thread cloned from one not yet lowered gets its nice value at the clone, but may show in
// /proc/self/task only after the walk that lowered its parent, so one quiet walk is not
// proof.
const quietPasses = 3

func apply(work, request int) error { return applyWith(work, request, true) }

// applyWith is apply; allAtOnce = false always walks the threads (the tests run both ways).
func applyWith(work, request int, allAtOnce bool) error {
	if err := probeRaise(request); err != nil {
		return fmt.Errorf("%w (nice %d: %v)", ErrRaiseRefused, request, err)
	}
	nices, err := allNice()
	if err != nil {
		return err
	}
	if allAtOnce && slices.Max(nices) < work {
		// The usual case: every thread is above work in priority. Set them all at once,
		// with the world stopped, so that no thread is created meanwhile (setpriority(2)
		// with who = 0 on Linux changes the calling thread).
		_, _, errno := syscall.AllThreadsSyscall(unix.SYS_SETPRIORITY, unix.PRIO_PROCESS, 0, uintptr(work))
		switch errno {
		case 0:
			return nil
		case unix.ENOTSUP: // a binary linked with cgo (the race detector): walk instead
		default:
			return fmt.Errorf("worknice: lower the threads to nice %d: %w", work, errno)
		}
	}
	// Some thread is already at work or below in priority, which must not be raised, or
	// the runtime cannot stop the world for a system call: walk the threads.
	quiet := 0
	for range maxPasses {
		lowered, err := lowerAll(work)
		if err != nil {
			return err
		}
		if lowered > 0 {
			quiet = 0
		} else if quiet++; quiet == quietPasses {
			return nil
		}
	}
	return fmt.Errorf("worknice: threads still appeared at a higher priority after %d passes", maxPasses)
}

// allNice returns the nice value of every thread of the process.
func allNice() ([]int, error) {
	tids, err := threads()
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(tids))
	for _, tid := range tids {
		nice, err := threadNice(tid)
		if err == unix.ESRCH {
			continue // ended meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("worknice: read the nice value of thread %d: %w", tid, err)
		}
		out = append(out, nice)
	}
	return out, nil
}

// threads lists the thread ids of the process.
func threads() ([]int, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("worknice: list the threads: %w", err)
	}
	out := make([]int, 0, len(tasks))
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			out = append(out, tid)
		}
	}
	return out, nil
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
	tids, err := threads()
	if err != nil {
		return 0, err
	}
	lowered := 0
	for _, tid := range tids {
		nice, err := threadNice(tid)
		if err == unix.ESRCH {
			continue // ended meanwhile
		}
		if err != nil {
			return lowered, fmt.Errorf("worknice: read the nice value of thread %d: %w", tid, err)
		}
		if nice >= work {
			continue // already this low
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
