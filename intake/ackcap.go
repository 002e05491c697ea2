package intake

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Settings keys of the hourly cap in the register.
const (
	settingCapReset   = "ack_cap_reset"   // RFC 3339 time an admin lifted the cap
	settingCapTripped = "ack_cap_tripped" // RFC 3339 time the cap was reached; absent when not
)

// ackCap is the daemon-wide circuit breaker of autoreply-rules.md R3
// (RFC 3834 §6: a sorcerer's-apprentice loop must not flood anyone): when
// more acknowledgements than the daemon-wide hourly_cap (HourlyCap: the
// smallest of the mailboxes') went out in the last hour from all mailboxes
// together, every responder stops sending until the hour has passed or an
// admin resumes. Registration goes on; the acknowledgements wait in the outbox.
type ackCap struct {
	store   capStore
	now     func() time.Time // the clock
	log     *slog.Logger
	wakeAll func() // wakes every responder (an admin lifted the cap)

	// limit is the daemon-wide hourly_cap in force (HourlyCap), set at the
	// start and on every reload.
	limit atomic.Int64

	mu      sync.Mutex
	tripped time.Time // zero when not tripped
}

// CapState is the hourly cap as the local API reports it.
type CapState struct {
	Tripped      bool      `json:"tripped"`
	TrippedAt    time.Time `json:"tripped_at,omitzero"`
	SentLastHour int       `json:"sent_last_hour"`
	Since        time.Time `json:"since"`
}

// capStore is what the hourly cap needs of the register (ticket.Store):
// the acknowledgements sent since a time, and its own two settings.
type capStore interface {
	AcksSentSince(t time.Time) (int, error)
	UnverifiedAcksSentSince(t time.Time) (int, error)
	GetSetting(key string) ([]byte, error)
	PutSetting(key string, value []byte) error
}

func newAckCap(store capStore, now func() time.Time, log *slog.Logger, wakeAll func()) *ackCap {
	return &ackCap{store: store, now: now, log: log, wakeAll: wakeAll}
}

// isTripped reports whether the cap holds acknowledgements back.
func (c *ackCap) isTripped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.tripped.IsZero()
}

// windowStart is where the hour counted begins: an hour ago, or the last
// reset by an admin if that is later.
func (c *ackCap) windowStart(now time.Time) (time.Time, error) {
	since := now.Add(-time.Hour)
	b, err := c.store.GetSetting(settingCapReset)
	if err != nil {
		return since, err
	}
	if b != nil {
		if reset, err := time.Parse(time.RFC3339Nano, string(b)); err == nil && reset.After(since) {
			since = reset
		}
	}
	return since, nil
}

// setLimit sets the daemon-wide hourly_cap.
func (c *ackCap) setLimit(n int) { c.limit.Store(int64(n)) }

// allow reports whether one more acknowledgement may go out under the
// daemon-wide hourly_cap, and trips or lifts the breaker accordingly.
func (c *ackCap) allow() (bool, error) {
	limit := int(c.limit.Load())
	now := c.now()
	since, err := c.windowStart(now)
	if err != nil {
		return false, err
	}
	n, err := c.store.AcksSentSince(since)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n >= limit {
		if c.tripped.IsZero() {
			c.tripped = now
			c.log.Error("hourly cap reached: acknowledgements stopped, registration goes on; 'intake ack resume' lifts it",
				"sent_last_hour", n, "hourly_cap", limit)
			if err := c.store.PutSetting(settingCapTripped, []byte(now.Format(time.RFC3339Nano))); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	if !c.tripped.IsZero() {
		c.tripped = time.Time{}
		c.log.Warn("hourly cap lifted: acknowledgements go out again", "sent_last_hour", n, "hourly_cap", limit)
		if err := c.store.PutSetting(settingCapTripped, nil); err != nil {
			return true, err
		}
	}
	return true, nil
}

// allowUnverified reports whether one more acknowledgement to an unverified
// sender fits limit (unverified_hourly_cap) in the hour counted by allow. It
// never trips the breaker: verified senders' acknowledgements go on.
func (c *ackCap) allowUnverified(limit int) (bool, error) {
	since, err := c.windowStart(c.now())
	if err != nil {
		return false, err
	}
	n, err := c.store.UnverifiedAcksSentSince(since)
	if err != nil {
		return false, err
	}
	return n < limit, nil
}

// resume is an admin's reset: only acknowledgements sent from now on count.
func (c *ackCap) resume() error {
	now := c.now()
	if err := c.store.PutSetting(settingCapReset, []byte(now.Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("reset hourly cap: %w", err)
	}
	c.log.Warn("hourly cap reset by an admin")
	c.wakeAll()
	return nil
}

func (c *ackCap) state() (CapState, error) {
	now := c.now()
	since, err := c.windowStart(now)
	if err != nil {
		return CapState{}, err
	}
	n, err := c.store.AcksSentSince(since)
	if err != nil {
		return CapState{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return CapState{Tripped: !c.tripped.IsZero(), TrippedAt: c.tripped, SentLastHour: n, Since: since}, nil
}
