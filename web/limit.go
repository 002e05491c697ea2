package web

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// The limiter throttles failed logins and failed API tokens with token buckets
// (golang.org/x/time/rate), one per key:
//
//   - per (account, client): userThreshold attempts at once, then one per second, and
//     the interval doubles with every further failure up to maxDelay;
//   - per client across accounts: ipThreshold attempts, then the same growth;
//   - per client for API bearer tokens: a bucket of its own (apiThreshold).
//
// An attempt is reserved before the password is verified (admit) and counts as pending
// until it ends: a failure takes a token (fail), a success gives the reservation back
// (succeed) and forgets the (account, client) bucket. So parallel attempts cannot pass
// the check together, and a client that has not failed always has full buckets: nobody
// elsewhere can lock a clerk out. No bucket is keyed by the account alone.
//
// The number of tracked keys is bounded (LRU): maxPairKeys for (account, client),
// maxClientKeys for clients. A flood of names or addresses evicts the least recently
// used entries; the client buckets live apart, so a flood of (account, client) pairs
// does not evict them. A bucket without a failure for forgetAfter starts afresh.
type limiter struct {
	mu      sync.Mutex
	pairs   *simplelru.LRU[string, *bucket]
	clients *simplelru.LRU[string, *bucket]
}

// bucket is the state of one key.
type bucket struct {
	lim     *rate.Limiter
	burst   int
	fails   int       // failures since the bucket was created
	pending int       // attempts admitted and not yet ended
	last    time.Time // last failure (or creation)
}

const (
	baseDelay     = time.Second
	maxDelay      = 15 * time.Minute
	forgetAfter   = 24 * time.Hour
	maxPairKeys   = 1 << 15
	maxClientKeys = 1 << 14
)

func newLimiter() *limiter { return newLimiterSize(maxPairKeys, maxClientKeys) }

func newLimiterSize(pairs, clients int) *limiter {
	p, err := simplelru.NewLRU[string, *bucket](pairs, nil)
	if err != nil {
		panic(err) // only for a size < 1, a programming error
	}
	c, err := simplelru.NewLRU[string, *bucket](clients, nil)
	if err != nil {
		panic(err)
	}
	return &limiter{pairs: p, clients: c}
}

// delay returns the interval between attempts after n failures of a bucket of the
// given burst: baseDelay up to burst failures, then doubling, at most maxDelay.
func delay(n, burst int) time.Duration {
	if n < burst {
		return 0
	}
	shift := n - burst
	if shift > 10 { // 2^10 s > maxDelay
		return maxDelay
	}
	return min(baseDelay<<shift, maxDelay)
}

func newBucket(burst int, now time.Time) *bucket {
	return &bucket{lim: rate.NewLimiter(rate.Every(baseDelay), burst), burst: burst, last: now}
}

// bucketOf returns the bucket of key in set, creating (or renewing a forgotten) one.
func bucketOf(set *simplelru.LRU[string, *bucket], key string, burst int, now time.Time) *bucket {
	b, ok := set.Get(key)
	if !ok || (b.pending == 0 && now.Sub(b.last) > forgetAfter) {
		b = newBucket(burst, now)
		set.Add(key, b)
	}
	return b
}

// free returns the tokens of b at now not held by pending attempts.
func (b *bucket) free(now time.Time) float64 { return b.lim.TokensAt(now) - float64(b.pending) }

// wait returns how long until b has a free token (0 = now).
func (b *bucket) wait(now time.Time) time.Duration {
	missing := 1 - b.free(now)
	if missing <= 0 {
		return 0
	}
	d := time.Duration(math.Ceil(missing / float64(b.lim.Limit()) * float64(time.Second)))
	return max(d, time.Second)
}

// failed records a failure at now: it takes a token (going into debt if there is none)
// and slows the refill once the burst is used up.
func (b *bucket) failed(now time.Time) {
	if now.Before(b.last) {
		now = b.last // requests end out of order; the token bucket must not go back in time
	}
	b.fails++
	b.last = now
	b.lim.ReserveN(now, 1)
	if d := delay(b.fails, b.burst); d > baseDelay {
		b.lim.SetLimitAt(now, rate.Every(d))
	}
}

// attempt is an admitted login attempt; the first of fail, succeed or abandon ends it,
// later calls do nothing (so "defer a.abandon()" guards every path).
type attempt struct {
	l            *limiter
	pairKey      string
	pair, client *bucket
	ended        bool
}

// admit reserves a login attempt of account from client at now, or returns how long
// the client must wait. account must be bounded (a valid user name or "").
func (l *limiter) admit(account, client string, now time.Time) (*attempt, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := &attempt{l: l, pairKey: account + "\x00" + client}
	a.pair = bucketOf(l.pairs, a.pairKey, userThreshold, now)
	a.client = bucketOf(l.clients, "login\x00"+client, ipThreshold, now)
	if w := max(a.pair.wait(now), a.client.wait(now)); w > 0 {
		return nil, w
	}
	a.pair.pending++
	a.client.pending++
	return a, 0
}

// fail ends the attempt as a failure at now.
func (a *attempt) fail(now time.Time) {
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	if a.ended {
		return
	}
	a.ended = true
	for _, b := range []*bucket{a.pair, a.client} {
		b.pending--
		b.failed(now)
	}
}

// succeed ends the attempt as a success: the reservation is given back and the
// (account, client) bucket forgotten. The client's failures across accounts stay.
func (a *attempt) succeed() {
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	if a.ended {
		return
	}
	a.ended = true
	a.client.pending--
	if b, ok := a.l.pairs.Peek(a.pairKey); ok && b == a.pair {
		a.l.pairs.Remove(a.pairKey)
	}
}

// apiWait returns how long client must wait before its next API request after failed
// tokens (0 = may try). Tokens are 256-bit random values and checked by a hash lookup,
// so no reservation is needed: parallel guesses gain nothing.
func (l *limiter) apiWait(client string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.clients.Get("api\x00" + client)
	if !ok {
		return 0
	}
	return b.wait(now)
}

// apiFail records a failed API token of client at now.
func (l *limiter) apiFail(client string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	bucketOf(l.clients, "api\x00"+client, apiThreshold, now).failed(now)
}

// keys returns the tracked keys (tests).
func (l *limiter) keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append(l.pairs.Keys(), l.clients.Keys()...)
}

// clientKey returns the key of a client address: the address itself for IPv4, its /64
// network for IPv6 (one subscriber usually holds a whole /64, RFC 6177 §2), and the
// text itself (bounded) when it is no address.
func clientKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		if len(addr) > 64 {
			addr = addr[:64]
		}
		return addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// abandon ends the attempt without a verdict (an internal error, a client gone).
func (a *attempt) abandon() {
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	if a.ended {
		return
	}
	a.ended = true
	a.pair.pending--
	a.client.pending--
}
