package web

import (
	"sync"
	"time"
)

// limiter counts failed logins per key ("u:NAME", "ip:ADDR"). Once a key has threshold
// failures, each further attempt must wait 2^(failures-threshold) seconds after the last
// failure, at most maxDelay; a success resets the key. Entries untouched for forgetAfter
// are dropped.
type limiter struct {
	mu sync.Mutex
	m  map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

const (
	maxDelay      = 15 * time.Minute
	forgetAfter   = 24 * time.Hour
	limiterSweepN = 10000
)

func newLimiter() *limiter { return &limiter{m: map[string]*failures{}} }

// delay returns the delay after n failures with the given threshold.
func delay(n, threshold int) time.Duration {
	if n < threshold {
		return 0
	}
	shift := n - threshold
	if shift > 10 { // 2^10 s > maxDelay
		return maxDelay
	}
	return min(time.Duration(1<<shift)*time.Second, maxDelay)
}

// wait returns how long key must still wait at now (0 = may try).
func (l *limiter) wait(key string, threshold int, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.m[key]
	if !ok {
		return 0
	}
	if d := f.last.Add(delay(f.n, threshold)).Sub(now); d > 0 {
		return d
	}
	return 0
}

// fail records a failure of key at now.
func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= limiterSweepN {
		for k, f := range l.m {
			if now.Sub(f.last) > forgetAfter {
				delete(l.m, k)
			}
		}
	}
	f, ok := l.m[key]
	if !ok || now.Sub(f.last) > forgetAfter {
		f = &failures{}
		l.m[key] = f
	}
	f.n++
	f.last = now
}

// reset forgets the failures of key.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}
