package intake

import (
	"testing"
	"time"
)

// The reconnect schedule (issue 9, finding 3): a quick first retry, waits capped INCLUDING
// jitter, short waits through the first minutes of an outage (mail flows within seconds of
// the server's return), a longer cap after that, and a fresh start after a successful
// login and SELECT.
func TestReconnectBackoffSchedule(t *testing.T) {
	for _, r := range []struct {
		name string
		rnd  float64
	}{{"least jitter", 0}, {"most jitter", 0.999999}, {"middle", 0.5}} {
		t.Run(r.name, func(t *testing.T) {
			b := newReconnectBackoff(time.Second, 50*time.Second, func() float64 { return r.rnd })
			now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
			start := now
			first := b.next(now)
			if first > 250*time.Millisecond || first <= 0 {
				t.Errorf("first retry after %v, want a quick one (0, 250ms]", first)
			}
			now = now.Add(first)
			var longest time.Duration
			for now.Sub(start) < 20*time.Minute {
				w := b.next(now)
				if w <= 0 {
					t.Fatalf("wait %v at %v", w, now.Sub(start))
				}
				if now.Sub(start) < DefaultReconnectFastFor && w > DefaultReconnectFastMax {
					t.Fatalf("wait %v at %v into the outage, want at most %v", w, now.Sub(start), DefaultReconnectFastMax)
				}
				if w > 50*time.Second {
					t.Fatalf("wait %v beyond the cap (jitter included)", w)
				}
				longest = max(longest, w)
				now = now.Add(w)
			}
			if r.rnd > 0.9 && longest < 40*time.Second {
				t.Errorf("longest wait %v in a 20-minute outage; the cap is never approached", longest)
			}
			b.reset()
			if w := b.next(now); w > 250*time.Millisecond {
				t.Errorf("after a reset the first retry waits %v", w)
			}
		})
	}
}

// ReconnectMax below the fast cap (tests use tiny waits) wins.
func TestReconnectBackoffSmallMax(t *testing.T) {
	b := newReconnectBackoff(20*time.Millisecond, 200*time.Millisecond, func() float64 { return 0.999 })
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for range 50 {
		w := b.next(now)
		if w > 200*time.Millisecond {
			t.Fatalf("wait %v beyond ReconnectMax", w)
		}
		now = now.Add(w)
	}
}
