package clerkgate

import (
	"context"
	"sync"
	"testing"
	"time"
)

// waitForWaiters waits for the event "n callers are waiting in Wait".
func waitForWaiters(t *testing.T, g *Gate, n int) {
	t.Helper()
	for g.Waiters() != n {
		time.Sleep(time.Millisecond)
	}
}

// waitInBackground calls g.Wait(ctx) on a goroutine of its own and returns once that call
// is the n-th waiter; the channel then gets what it returns.
func waitInBackground(t *testing.T, g *Gate, ctx context.Context, n int) <-chan time.Duration {
	t.Helper()
	ch := make(chan time.Duration, 1)
	go func() { ch <- g.Wait(ctx) }()
	waitForWaiters(t, g, n)
	return ch
}

func TestWaitReturnsAtOnceWithoutClerks(t *testing.T) {
	var nilGate *Gate
	if d := nilGate.Wait(context.Background()); d != 0 {
		t.Fatalf("nil gate waited %v", d)
	}
	g := New(Options{MaxWait: time.Hour, Budget: time.Hour, Window: 2 * time.Hour})
	if d := g.Wait(context.Background()); d != 0 {
		t.Fatalf("idle gate waited %v", d)
	}
	g.Begin()
	g.End()
	if d := g.Wait(context.Background()); d != 0 {
		t.Fatalf("gate after the request ended waited %v", d)
	}
	if g.InFlight() != 0 {
		t.Fatalf("in flight %d after Begin/End", g.InFlight())
	}
}

func TestWaitEndsWithTheLastRequest(t *testing.T) {
	g := New(Options{MaxWait: time.Hour, Budget: 3 * time.Hour, Window: 4 * time.Hour})
	g.Begin()
	g.Begin() // two clerks
	done := waitInBackground(t, g, context.Background(), 1)
	g.End()
	// One clerk is still answered: the waiter stays (a second waiter shows it is
	// still admitted after the first End).
	second := waitInBackground(t, g, context.Background(), 2)
	g.End()
	for _, ch := range []<-chan time.Duration{done, second} {
		if d := <-ch; d <= 0 || d >= time.Hour {
			t.Fatalf("waited %v, want more than 0 and less than MaxWait", d)
		}
	}
	if g.Waiters() != 0 || g.InFlight() != 0 {
		t.Fatalf("waiters %d, in flight %d after the requests ended", g.Waiters(), g.InFlight())
	}
	g.End() // one End too many changes nothing
	if g.InFlight() != 0 {
		t.Fatalf("in flight %d after an extra End", g.InFlight())
	}
}

func TestWaitBounds(t *testing.T) {
	t.Run("max wait", func(t *testing.T) {
		g := New(Options{MaxWait: 5 * time.Millisecond, Budget: time.Hour, Window: 2 * time.Hour})
		g.Begin() // never ends
		if d := g.Wait(context.Background()); d <= 0 || d > 5*time.Millisecond {
			t.Fatalf("waited %v, want (0, 5ms]", d)
		}
	})
	t.Run("budget", func(t *testing.T) {
		now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
		g := New(Options{MaxWait: time.Hour, Budget: 5 * time.Millisecond, Window: time.Second,
			Now: func() time.Time { return now }})
		g.Begin() // a clerk who never stops
		if d := g.Wait(context.Background()); d <= 0 || d > 5*time.Millisecond {
			t.Fatalf("first wait %v, want (0, 5ms]", d)
		}
		// The window's budget is used up: the drain goes on.
		if d := g.Wait(context.Background()); d != 0 {
			t.Fatalf("wait after the budget %v, want 0", d)
		}
		now = now.Add(time.Second) // a new window
		if d := g.Wait(context.Background()); d <= 0 {
			t.Fatalf("wait in a new window %v, want more than 0", d)
		}
	})
	t.Run("budget shared by waiters", func(t *testing.T) {
		now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
		g := New(Options{MaxWait: time.Hour, Budget: time.Hour, Window: 2 * time.Hour,
			Now: func() time.Time { return now }})
		g.Begin()
		first := waitInBackground(t, g, context.Background(), 1)
		// The first waiter reserved the whole budget (MaxWait = Budget): a second
		// one does not wait.
		if d := g.Wait(context.Background()); d != 0 {
			t.Fatalf("second waiter waited %v with the budget reserved", d)
		}
		g.End()
		<-first
		// What the first did not use is back.
		g.Begin()
		defer g.End()
		ctx, cancel := context.WithCancel(context.Background())
		second := waitInBackground(t, g, ctx, 1)
		cancel()
		if d := <-second; d <= 0 {
			t.Fatalf("wait after the refund %v, want more than 0", d)
		}
	})
}

func TestWaitEndsWithItsContext(t *testing.T) {
	g := New(Options{MaxWait: time.Hour, Budget: time.Hour, Window: 2 * time.Hour})
	g.Begin()
	defer g.End()
	ctx, cancel := context.WithCancel(context.Background())
	done := waitInBackground(t, g, ctx, 1)
	cancel()
	if d := <-done; d >= time.Hour {
		t.Fatalf("waited %v after the context ended", d)
	}
}

func TestConcurrentUse(t *testing.T) {
	g := New(Options{MaxWait: time.Millisecond})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 200 {
				g.Begin()
				g.End()
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				g.Wait(context.Background())
			}
		}()
	}
	wg.Wait()
	if g.InFlight() != 0 || g.Waiters() != 0 {
		t.Fatalf("in flight %d, waiters %d after balanced use", g.InFlight(), g.Waiters())
	}
}
