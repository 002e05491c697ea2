package intake

import (
	"context"
	"github.com/intake-office/intake/internal/syncbuf"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

type fakeIndex struct {
	mu      sync.Mutex
	deleted []uint64
	calls   int
}

func (f *fakeIndex) Delete(seqs ...uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, seqs...)
	f.calls++
	return nil
}

func (f *fakeIndex) state() ([]uint64, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deleted), f.calls
}

func TestRetentionSweep(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	closed := t0.Add(time.Hour)
	tests := []struct {
		name       string
		retention  map[string]time.Duration
		now        time.Time
		wantPurged []uint64
		wantSweeps bool
	}{
		{"expired case purged", map[string]time.Duration{"post": 24 * time.Hour}, closed.Add(25 * time.Hour), []uint64{1}, true},
		{"not yet expired", map[string]time.Duration{"post": 24 * time.Hour}, closed.Add(23 * time.Hour), nil, true},
		{"no retention, no sweep", map[string]time.Duration{"post": 0}, closed.Add(1000 * time.Hour), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, err := ticket.Open(t.TempDir(), ticket.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			reg, err := store.Register(ticket.Incoming{Prefix: "STK", Message: ticket.Message{
				Mailbox: "post", UIDValidity: 1, UID: 1, MessageID: "a@secret.example",
				From: "buerger@secret.example", Subject: "Geheimer Betreff", Received: t0}, SuppressReason: "TEST"})
			if err != nil {
				t.Fatal(err)
			}
			if err := store.SetStatus(reg.Reference, ticket.StatusInProgress, closed); err != nil {
				t.Fatal(err)
			}
			if err := store.SetStatus(reg.Reference, ticket.StatusClosed, closed); err != nil {
				t.Fatal(err)
			}
			var logs syncbuf.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ix := &fakeIndex{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				runRetention(ctx, store, ix, tt.retention, log, 5*time.Millisecond, 5*time.Millisecond, func() time.Time { return tt.now })
			}()
			if !tt.wantSweeps {
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Fatal("runRetention without retention did not return")
				}
				cancel()
				if logs.String() != "" {
					t.Errorf("logged %q", logs.String())
				}
				return
			}
			// Wait for at least two sweeps: the second one must find nothing new.
			deadline := time.Now().Add(5 * time.Second)
			for strings.Count(logs.String(), "retention sweep done") < 2 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("runRetention did not stop")
			}
			out := logs.String()
			if strings.Count(out, "retention sweep done") < 2 {
				t.Fatalf("fewer than two sweeps logged:\n%s", out)
			}
			got, _ := ix.state()
			if !slices.Equal(got, tt.wantPurged) {
				t.Errorf("search index deletions = %v, want %v", got, tt.wantPurged)
			}
			c, err := store.Lookup(reg.Reference)
			if err != nil {
				t.Fatal(err)
			}
			if purged := !c.Purged.IsZero(); purged != (tt.wantPurged != nil) {
				t.Errorf("Purged = %v", c.Purged)
			}
			if tt.wantPurged != nil && !strings.Contains(out, "cases=1") {
				t.Errorf("log lacks the count:\n%s", out)
			}
			for _, s := range []string{"secret.example", "Geheimer", reg.Reference.String()} {
				if strings.Contains(out, s) {
					t.Errorf("log holds %q:\n%s", s, out)
				}
			}
		})
	}
}
