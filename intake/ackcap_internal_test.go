package intake

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

// scanCountingStore is a register for the hourly cap that counts how often
// the cap scans its sent index, and records sends as the real one does.
type scanCountingStore struct {
	sent       []time.Time // the sent index: every ack and interim notice
	unverified []time.Time // the acks to unverified senders
	settings   map[string][]byte
	scans      int
}

func newScanCountingStore() *scanCountingStore {
	return &scanCountingStore{settings: map[string][]byte{}}
}

func since(ts []time.Time, t time.Time) []time.Time {
	var out []time.Time
	for _, x := range ts {
		if !x.Before(t) {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

func (s *scanCountingStore) AckSendTimesSince(t time.Time) (all, unverified []time.Time, err error) {
	s.scans++
	return since(s.sent, t), since(s.unverified, t), nil
}

// The scans of the code before the running count: counted too, so that a cap
// that scanned before every send fails TestHourlyCapScansTheRegisterOnce.
func (s *scanCountingStore) AcksSentSince(t time.Time) (int, error) {
	s.scans++
	return len(since(s.sent, t)), nil
}

func (s *scanCountingStore) UnverifiedAcksSentSince(t time.Time) (int, error) {
	s.scans++
	return len(since(s.unverified, t)), nil
}

func (s *scanCountingStore) GetSetting(key string) ([]byte, error) { return s.settings[key], nil }

func (s *scanCountingStore) PutSetting(key string, value []byte) error {
	if value == nil {
		delete(s.settings, key)
	} else {
		s.settings[key] = value
	}
	return nil
}

// record is RecordAck(AckSent) in the register, then the responder's report to the cap.
func (s *scanCountingStore) record(c *ackCap, at time.Time, unverified bool) {
	s.sent = append(s.sent, at)
	if unverified {
		s.unverified = append(s.unverified, at)
	}
	c.sent(at, unverified)
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func testCap(store capStore, clock *fakeClock, limit int) *ackCap {
	c := newAckCap(store, clock.now, slog.New(slog.NewTextHandler(io.Discard, nil)), func() {})
	c.setLimit(limit)
	return c
}

// TestHourlyCapScansTheRegisterOnce: the cap reads the register's sent index
// once per start, not before every send (which made a drain of a backlog
// O(backlog²)); an admin's reset needs no scan either.
func TestHourlyCapScansTheRegisterOnce(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := &fakeClock{t0}
	store := newScanCountingStore()
	for i := range 50 { // sent before the start, within the hour
		store.sent = append(store.sent, t0.Add(-time.Duration(i+1)*time.Minute/2))
	}
	const limit = 1000
	c := testCap(store, clock, limit)
	sent := 50
	for i := range 2000 {
		clock.t = t0.Add(time.Duration(i) * time.Second)
		ok, err := c.allow(0)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if _, err := c.allowUnverified(limit, 0); err != nil {
				t.Fatal(err)
			}
			store.record(c, clock.t, i%3 == 0)
			sent++
		}
	}
	if store.scans != 1 {
		t.Errorf("%d scans of the sent index for 2000 checks; want 1 (at the start)", store.scans)
	}
	if sent != limit {
		t.Errorf("%d sent under a cap of %d", sent, limit)
	}
	if err := c.resume(); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.allow(0); !ok || err != nil {
		t.Errorf("after the reset: allow = %v, %v; want true", ok, err)
	}
	if st, _ := c.state(); st.SentLastHour != 0 || st.Tripped {
		t.Errorf("after the reset: %+v, want nothing sent and not tripped", st)
	}
	if store.scans > 2 {
		t.Errorf("%d scans after a reset; want at most one more", store.scans)
	}
}

// TestHourlyCapExactAcrossRestart: a cap that starts on a register (a
// restart) counts exactly what the running one counted - the sends of the
// last hour, or since the admin's reset, and the unverified share - at every
// moment as the window moves.
func TestHourlyCapExactAcrossRestart(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		resetAt time.Duration // from t0; 0: no reset
	}{
		{"no reset", 0},
		{"reset in the window", 70 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t0}
			store := newScanCountingStore()
			running := testCap(store, clock, 1<<30)
			// 100 minutes of sends, one every 20 s, every 4th unverified.
			for i := range 300 {
				clock.t = t0.Add(time.Duration(i) * 20 * time.Second)
				if tc.resetAt > 0 && clock.t.Equal(t0.Add(tc.resetAt)) {
					if err := running.resume(); err != nil {
						t.Fatal(err)
					}
				}
				if ok, err := running.allow(0); !ok || err != nil {
					t.Fatalf("allow = %v, %v", ok, err)
				}
				store.record(running, clock.t, i%4 == 0)
			}
			for _, d := range []time.Duration{0, time.Second, 20 * time.Second, 10 * time.Minute, 59 * time.Minute, time.Hour, 2 * time.Hour} {
				clock.t = t0.Add(100*time.Minute + d)
				restarted := testCap(store, clock, 1<<30)
				want, _ := running.state()
				got, err := restarted.state()
				if err != nil {
					t.Fatal(err)
				}
				// What the register holds for the window, counted by hand.
				start := clock.t.Add(-time.Hour)
				if tc.resetAt > 0 && t0.Add(tc.resetAt).After(start) {
					start = t0.Add(tc.resetAt)
				}
				n := len(since(store.sent, start))
				if got.SentLastHour != n || want.SentLastHour != n || !got.Since.Equal(want.Since) {
					t.Errorf("+%v: restarted %d since %v, running %d since %v; register %d", d, got.SentLastHour, got.Since, want.SentLastHour, want.Since, n)
				}
				nu := len(since(store.unverified, start))
				for _, limit := range []int{nu, nu + 1} {
					a, _ := restarted.allowUnverified(limit, 0)
					b, _ := running.allowUnverified(limit, 0)
					if a != (nu < limit) || b != (nu < limit) {
						t.Errorf("+%v: allowUnverified(%d) restarted %v, running %v; %d unverified sent", d, limit, a, b, nu)
					}
				}
			}
		})
	}
}

// TestHourlyCapWindowEdges: a send exactly at the window's start counts, one
// before it does not (AcksSentSince: sent at or after).
func TestHourlyCapWindowEdges(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := &fakeClock{t0}
	store := newScanCountingStore()
	c := testCap(store, clock, 2)
	if ok, _ := c.allow(0); !ok {
		t.Fatal("nothing sent yet, but not allowed")
	}
	store.record(c, t0, false)
	store.record(c, t0.Add(time.Second), false)
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0.Add(time.Hour - time.Nanosecond), false},
		{t0.Add(time.Hour), false}, // the first is exactly at the start: still counted
		{t0.Add(time.Hour + time.Nanosecond), true},
	} {
		clock.t = tc.at
		if ok, err := c.allow(0); ok != tc.want || err != nil {
			t.Errorf("at %v: allow = %v, %v; want %v", tc.at.Sub(t0), ok, err, tc.want)
		}
	}
}

// BenchmarkCapAllow: one hourly cap check (as before every send) with
// 20,000 acknowledgements in the window of a real register.
func BenchmarkCapAllow(b *testing.B) {
	store, err := ticket.Open(b.TempDir(), ticket.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	now := time.Now().UTC()
	const n = 20000
	var ins []ticket.Incoming
	for i := range n {
		ins = append(ins, ticket.Incoming{Prefix: "STK", Message: ticket.Message{
			Mailbox: "post", UIDValidity: 1, UID: uint32(i + 1), MessageID: fmt.Sprintf("m%d@example.org", i),
			From: "buerger@example.org", Subject: "Antrag", Received: now.Add(-30 * time.Minute)},
			AckRecipient: "buerger@example.org", AckDomain: "example.org"})
	}
	for chunk := range slices.Chunk(ins, 1000) {
		regs, err := store.RegisterBatch(chunk)
		if err != nil {
			b.Fatal(err)
		}
		for i, reg := range regs {
			at := now.Add(-30*time.Minute + time.Duration(i)*time.Millisecond)
			if err := store.RecordAck(reg.Seq, ticket.AckResult{Status: ticket.AckSent, At: at}); err != nil {
				b.Fatal(err)
			}
		}
	}
	c := newAckCap(store, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)), func() {})
	c.setLimit(n + 1)
	if st, err := c.state(); err != nil || st.SentLastHour != n {
		b.Fatalf("state = %+v, %v; want %d sent", st, err, n)
	}
	b.ResetTimer()
	for range b.N {
		if ok, err := c.allow(0); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
