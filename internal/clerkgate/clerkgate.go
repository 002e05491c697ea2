package clerkgate

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	// DefaultMaxWait bounds one wait: a full-text search that takes longer lets the
	// drain go on by one mail or acknowledgement every DefaultMaxWait.
	DefaultMaxWait = 10 * time.Millisecond
	// DefaultWindow and DefaultBudget: the drain waits at most half of every second.
	DefaultWindow = time.Second
	DefaultBudget = 500 * time.Millisecond
)

// Options of New; a zero field takes its default.
type Options struct {
	MaxWait time.Duration // longest single wait
	Window  time.Duration // the period Budget applies to
	Budget  time.Duration // most waiting, of all waiters together, per Window
	// Now is the clock of the windows (tests move it); default time.Now.
	Now func() time.Time
}

// Gate counts the clerks' requests in flight and lets the mail work wait for them. The
// zero value is not usable; a nil *Gate never waits. Safe for concurrent use.
type Gate struct {
	maxWait, window, budget time.Duration
	now                     func() time.Time

	// inFlight counts the requests in flight. It changes only under mu (with idle) and
	// is read without it on the drain's path.
	inFlight atomic.Int32

	mu          sync.Mutex
	idle        chan struct{} // closed when inFlight drops to zero
	windowStart time.Time
	used        time.Duration // waiting reserved in the current window
	waiters     int
}

// New returns a gate with opts.
func New(opts Options) *Gate {
	g := &Gate{maxWait: opts.MaxWait, window: opts.Window, budget: opts.Budget, now: opts.Now}
	if g.maxWait <= 0 {
		g.maxWait = DefaultMaxWait
	}
	if g.window <= 0 {
		g.window = DefaultWindow
	}
	if g.budget <= 0 {
		g.budget = DefaultBudget
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g
}

// Begin counts a clerk's request in flight until End.
func (g *Gate) Begin() {
	g.mu.Lock()
	if g.inFlight.Add(1) == 1 {
		g.idle = make(chan struct{})
	}
	g.mu.Unlock()
}

// End ends a request counted by Begin.
func (g *Gate) End() {
	g.mu.Lock()
	if g.inFlight.Load() > 0 && g.inFlight.Add(-1) == 0 {
		close(g.idle)
	}
	g.mu.Unlock()
}

// Wait returns at once when no clerk's request is in flight. Otherwise it waits until
// none is, MaxWait has passed, the window's budget is used up or ctx ends, and returns
// how long it waited.
func (g *Gate) Wait(ctx context.Context) time.Duration {
	if g == nil || g.inFlight.Load() == 0 {
		return 0
	}
	g.mu.Lock()
	if g.inFlight.Load() == 0 {
		g.mu.Unlock()
		return 0
	}
	now := g.now()
	if now.Sub(g.windowStart) >= g.window || now.Before(g.windowStart) {
		g.windowStart, g.used = now, 0
	}
	allowed := min(g.maxWait, g.budget-g.used)
	if allowed <= 0 {
		g.mu.Unlock()
		return 0
	}
	// Reserved first, so that waiters at once cannot together exceed the budget.
	g.used += allowed
	window, idle := g.windowStart, g.idle
	g.waiters++
	g.mu.Unlock()

	start := time.Now()
	t := time.NewTimer(allowed)
	select {
	case <-idle:
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	waited := min(time.Since(start), allowed)

	g.mu.Lock()
	g.waiters--
	if g.windowStart.Equal(window) {
		g.used -= allowed - waited // what was not waited goes back
	}
	g.mu.Unlock()
	return waited
}

// Waiters reports how many callers of Wait are waiting now.
func (g *Gate) Waiters() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiters
}

// InFlight reports how many clerks' requests are in flight.
func (g *Gate) InFlight() int {
	return int(g.inFlight.Load())
}
