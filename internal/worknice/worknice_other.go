//go:build !linux

package worknice

func apply(work, request int) error { return ErrUnsupported }

// Threads needs per-thread nice values, which only Linux has.
func Threads(pid int) (map[int]int, error) { return nil, ErrUnsupported }

// SetThreadNice needs per-thread nice values, which only Linux has.
func SetThreadNice(tid, nice int) error { return ErrUnsupported }

// ThreadNice needs per-thread nice values, which only Linux has.
func ThreadNice(tid int) (int, error) { return 0, ErrUnsupported }
