package intake

import (
	"fmt"
	"log/slog"
	"slices"
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

	// The running count (under mu): the send times of the window, seeded
	// once from the register (AckSendTimesSince) on first use, appended to by
	// sent as each send is recorded, and pruned from the front as the window
	// moves - O(1) amortised per send instead of a scan of the sent index
	// before every send (O(backlog²) in a drain). At most the sends of one
	// hour are held: the cap stops sending at hourly_cap.
	seeded     bool
	reset      time.Time // the admin's last reset (settingCapReset); zero when none
	all        sendTimes // every ack and interim notice sent in the window
	unverified sendTimes // the acks to unverified senders among them
}

// sendTimes is an ascending queue of send times.
type sendTimes struct {
	t    []time.Time
	head int
}

func (q *sendTimes) len() int { return len(q.t) - q.head }

// add inserts at in order; sends are recorded nearly in order, so this is
// an append but for a few concurrent responders' reordering.
func (q *sendTimes) add(at time.Time) {
	i := len(q.t)
	for i > q.head && q.t[i-1].After(at) {
		i--
	}
	q.t = slices.Insert(q.t, i, at)
}

// prune drops the times before since: the window counts sends at or after
// it, as AcksSentSince does.
func (q *sendTimes) prune(since time.Time) {
	for q.head < len(q.t) && q.t[q.head].Before(since) {
		q.t[q.head] = time.Time{}
		q.head++
	}
	if q.head > 0 && q.head >= len(q.t)/2 {
		q.t = append(q.t[:0], q.t[q.head:]...)
		q.head = 0
	}
}

// CapState is the hourly cap as the local API reports it.
type CapState struct {
	Tripped      bool      `json:"tripped"`
	TrippedAt    time.Time `json:"tripped_at,omitzero"`
	SentLastHour int       `json:"sent_last_hour"`
	Since        time.Time `json:"since"`
}

// capStore is what the hourly cap needs of the register (ticket.Store):
// the send times of the acknowledgements sent since a time (read once, to
// seed the running count), and its own two settings.
type capStore interface {
	AckSendTimesSince(t time.Time) (all, unverified []time.Time, err error)
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
// reset by an admin if that is later. Called with mu held, after seed.
func (c *ackCap) windowStart(now time.Time) time.Time {
	since := now.Add(-time.Hour)
	if c.reset.After(since) {
		since = c.reset
	}
	return since
}

// seed loads the admin's last reset and the send times of the window from
// the register, once (called with mu held). Everything sent later passes
// through sent, so the count stays exact - across a restart too, as the
// register is the seed.
func (c *ackCap) seed(now time.Time) error {
	if c.seeded {
		return nil
	}
	b, err := c.store.GetSetting(settingCapReset)
	if err != nil {
		return fmt.Errorf("read the hourly cap's reset: %w", err)
	}
	c.reset = time.Time{}
	if b != nil {
		if reset, err := time.Parse(time.RFC3339Nano, string(b)); err == nil {
			c.reset = reset
		}
	}
	all, unverified, err := c.store.AckSendTimesSince(c.windowStart(now))
	if err != nil {
		return fmt.Errorf("seed the hourly cap: %w", err)
	}
	c.all = sendTimes{t: all}
	c.unverified = sendTimes{t: unverified}
	c.seeded = true
	return nil
}

// count seeds if need be, moves the window to now and returns its start.
// Called with mu held.
func (c *ackCap) count(now time.Time) (time.Time, error) {
	if err := c.seed(now); err != nil {
		return time.Time{}, err
	}
	since := c.windowStart(now)
	c.all.prune(since)
	c.unverified.prune(since)
	return since, nil
}

// sent counts one acknowledgement or interim notice the register recorded
// as sent at at (the time RecordAck / RecordInterim put in the sent index);
// unverified when it went to an unverified sender (Message.AckVerified).
// Before the first seed it does nothing: the seed reads it from the register.
func (c *ackCap) sent(at time.Time, unverified bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.seeded {
		return
	}
	c.all.add(at)
	if unverified {
		c.unverified.add(at)
	}
}

// setLimit sets the daemon-wide hourly_cap.
func (c *ackCap) setLimit(n int) { c.limit.Store(int64(n)) }

// allow reports whether one more acknowledgement may go out under the
// daemon-wide hourly_cap, and trips or lifts the breaker accordingly. pending
// is how many acknowledgements the caller has let through already and not yet
// counted as sent: one whose end of data is out while the next is checked on
// a pipelined connection. They count as sent here.
func (c *ackCap) allow(pending int) (bool, error) {
	limit := int(c.limit.Load())
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.count(now); err != nil {
		return false, err
	}
	n := c.all.len()
	if n < limit && n+pending >= limit {
		// The acks under way may reach the cap: wait for their results before
		// another, without tripping the breaker for sends that may yet fail.
		return false, nil
	}
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
// sender fits limit (unverified_hourly_cap) in the hour counted by allow, with
// pending such acknowledgements let through and not yet counted (as allow's).
// It never trips the breaker: verified senders' acknowledgements go on.
func (c *ackCap) allowUnverified(limit, pending int) (bool, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.count(now); err != nil {
		return false, err
	}
	return c.unverified.len()+pending < limit, nil
}

// resume is an admin's reset: only acknowledgements sent from now on count.
func (c *ackCap) resume() error {
	now := c.now()
	c.mu.Lock()
	err := c.store.PutSetting(settingCapReset, []byte(now.Format(time.RFC3339Nano)))
	if err == nil && c.seeded {
		// The window now starts here: the next count prunes what was sent
		// before, no rescan needed.
		c.reset = now
	}
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("reset hourly cap: %w", err)
	}
	c.log.Warn("hourly cap reset by an admin")
	c.wakeAll()
	return nil
}

func (c *ackCap) state() (CapState, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	since, err := c.count(now)
	if err != nil {
		return CapState{}, err
	}
	return CapState{Tripped: !c.tripped.IsZero(), TrippedAt: c.tripped, SentLastHour: c.all.len(), Since: since}, nil
}
