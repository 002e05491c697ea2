package worknice

import (
	"errors"
	"fmt"
	"maps"
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
	nices, err := Threads(0)
	if err != nil {
		return err
	}
	if allAtOnce && slices.Max(slices.Collect(maps.Values(nices))) < work {
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

// Threads returns the nice value of every thread of process pid (0: this one) by thread
// id, from /proc/PID/task and getpriority(2); a thread that ends meanwhile is left out.
// Reading needs no right, also for another process.
func Threads(pid int) (map[int]int, error) {
	dir := "/proc/self/task"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/task"
	}
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("worknice: list the threads: %w", err)
	}
	out := make(map[int]int, len(tasks))
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		nice, err := ThreadNice(tid)
		if err == unix.ESRCH {
			continue // ended meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("worknice: read the nice value of thread %d: %w", tid, err)
		}
		out[tid] = nice
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
		was, err := ThreadNice(tid)
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
	nices, err := Threads(0)
	if err != nil {
		return 0, err
	}
	lowered := 0
	for tid, nice := range nices {
		if nice >= work {
			continue // already this low
		}
		if err := SetThreadNice(tid, work); err != nil {
			if errors.Is(err, ErrThreadGone) {
				continue // ended meanwhile
			}
			return lowered, fmt.Errorf("worknice: lower thread %d to nice %d: %w", tid, work, err)
		}
		lowered++
	}
	return lowered, nil
}

// SetThreadNice sets the nice value of thread tid of this process. setpriority(2) names
// any thread of the machine by its id, so the thread is first looked up among this
// process's (tgkill(2) with signal 0): the id of one that ended may since be another
// process's. A thread that is not, or no longer, this process's gives ErrThreadGone.
func SetThreadNice(tid, nice int) error {
	if unix.Tgkill(unix.Getpid(), tid, 0) != nil { // signal 0: only whether it is ours
		return ErrThreadGone
	}
	err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice)
	if err == unix.ESRCH {
		return ErrThreadGone // ended meanwhile
	}
	return err
}

// ThreadNice returns the nice value of thread tid. The raw getpriority(2) system call
// returns 20 - nice, so that no valid answer is negative (getpriority(2), NOTES); unix.Getpriority
// passes that on unchanged.
func ThreadNice(tid int) (int, error) {
	p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return 0, err
	}
	return 20 - p, nil
}
