package intake

import "time"

// Reconnect schedule defaults (README: "Reconnecting"). Through the first
// DefaultReconnectFastFor of an outage the watcher retries at least every
// DefaultReconnectFastMax, so mail flows within seconds of the server's
// return; after that the waits grow to ReconnectMax (default 50s), so mail
// flows within a minute after longer outages.
const (
	DefaultReconnectFastFor = 5 * time.Minute
	DefaultReconnectFastMax = 4 * time.Second
)

// reconnectBackoff is the wait between IMAP connection attempts: a quick
// first retry (a server restart or a dropped connection usually heals at
// once), then exponential waits with jitter, capped including the jitter.
// It is reset after a successful login and SELECT. Not safe for concurrent
// use; each watcher has its own.
type reconnectBackoff struct {
	min, max, fastMax, fastFor time.Duration
	rand                       func() float64 // [0, 1)

	failures int
	since    time.Time // first failure of the current outage
}

func newReconnectBackoff(minWait, maxWait time.Duration, rand func() float64) *reconnectBackoff {
	return &reconnectBackoff{
		min: minWait, max: maxWait,
		fastMax: DefaultReconnectFastMax, fastFor: DefaultReconnectFastFor,
		rand: rand,
	}
}

// reset starts the schedule anew: the connection works again.
func (b *reconnectBackoff) reset() { b.failures, b.since = 0, time.Time{} }

// next returns the wait after a failed attempt at now.
func (b *reconnectBackoff) next(now time.Time) time.Duration {
	if b.failures == 0 {
		b.since = now
	}
	b.failures++
	limit := b.max
	if now.Sub(b.since) < b.fastFor {
		limit = min(limit, b.fastMax)
	}
	base := b.min / 4 // the quick first retry
	if b.failures > 1 {
		base = b.min << min(b.failures-2, 30)
		if base <= 0 || base > limit { // <= 0: overflow
			base = limit
		}
	}
	base = min(base, limit)
	// Jitter in [base/2, base): the cap holds including it, and two
	// watchers that failed together spread out.
	w := base/2 + time.Duration(b.rand()*float64(base/2))
	return max(w, time.Millisecond)
}
