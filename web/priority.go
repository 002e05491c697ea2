package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/intake-office/intake/internal/worknice"
)

// Clerks first (issue 12). On a small machine the drain (the watcher's parsing, the
// indexer, Dovecot and Postfix) keeps every core busy, and a lookup by reference that
// needs 0.3 ms of CPU waited up to 20 ms for a core. So the goroutine that serves an
// HTTP/1 connection — net/http answers every request of a connection on it — is wired
// to a thread of its own (runtime.LockOSThread), and that thread's nice value is raised to
// web.request_nice: the kernel then runs a clerk's request before the mail work. The
// daemon has lowered all its other threads to work_nice before the server starts
// (internal/worknice), so the raise also puts the clerk ahead of whatever shares intake's
// scheduling group at nice 0. At most maxRaisedConns connections hold such a thread at
// once; the others are served as before.
//
// Between two requests the raised thread waits for its clerk itself (raisedConn.Read), in
// ppoll(2) on the connection's socket, so that the kernel wakes the raised thread when the
// next request arrives. Left to the Go runtime, the request was first noticed by its
// network poller, on a thread of normal priority that had to wait for a core behind the
// drain. The raised thread still needs one of the runtime's GOMAXPROCS slots to go on;
// when the drain holds them all, it gets one at the drain's next scheduling point.
//
// The goroutine is unwired for the short way from its handler's end to the connection's
// idle state (requestPriority.unwire, .wire). After every answer net/http waits for its
// background read of the connection to end (connReader.abortPendingRead); a goroutine wired
// to its thread that waits hands its processor to another thread and, when woken, waits
// until that thread, at work_nice behind the drain, hands it back: p99 5–8 ms of a clerk's
// next lookup in a drain (BENCHMARKS.md). Unwired, it waits like any goroutine, and its
// thread goes on with the background read's end and then, nearly always, with the
// goroutine itself. The thread stays raised meanwhile: lowering a running thread lets the
// kernel put it behind the drain at once, with the answer's end still to do. So the
// raised thread may run other goroutines for a moment, and that is bounded:
//   - when the goroutine is wired again on another thread, that thread is raised and the
//     one it left lowered (unless another connection's goroutine has taken it since);
//   - a thread left unwired for unwiredMax (10 ms; net/http blocked on a client that does
//     not read its answer, say) is lowered (connPriority.lowerLate);
//   - a thread the Go runtime cloned from a raised one meanwhile inherits its nice value
//     (clone(2)); raiseSweeper lowers such strays within two seconds, and the last raised
//     connection to end looks for them once more;
//   - a connection that the request or the handler closes ("Connection: close") keeps its
//     goroutine wired, so that its thread ends with it (runtime.LockOSThread); one that
//     net/http itself closes after the answer (HTTP/1.0 without a length, an unread body,
//     a shutdown) ends unwired, and any connection's thread is lowered when net/http
//     reports it closed or hijacked (connState).
//
// Only a clerk's connection is raised: the first request on it that proves a user's
// session or API token calls raiseClerk. The login page and anyone without an account
// take no place and, on a connection not raised, run at the normal priority. A raised
// connection's later requests all run raised — behind a reverse proxy that pools its
// connections, anyone's — but for the password check, which runs off the raised thread
// (checkOffRaisedThread).

// maxRaisedConns bounds the threads held by raised connections (a browser keeps about
// six open; only a user's requests take a place, raiseClerk).
const maxRaisedConns = 64

// RequestNiceRefused begins the warning logged once when the kernel refuses
// web.request_nice (intake-bench searchdrain looks for it in the daemon's log).
const RequestNiceRefused = "web: clerks' requests run at the normal priority"

// requestPriority raises the threads of clerks' connections.
type requestPriority struct {
	nice    int             // web.request_nice; 0 = off
	max     atomic.Int32    // maxRaisedConns; tests lower it
	setNice func(int) error // setThreadNice; tests make it refuse
	log     *slog.Logger
	refused atomic.Bool // the kernel said no once: not asked again
	mu      sync.Mutex
	raised  map[net.Conn]*connPriority // connections that hold a place for a raised thread
	threads map[int]*connPriority      // the raised threads by id: whose goroutine they were raised for
	moves   atomic.Int64               // wirings that found the goroutine on another thread
	// base is the nice value raised threads go back to: the one of the thread that made
	// the server (newRequestPriority), like all the daemon's threads at work_nice by then.
	base int
	// unwiredMax bounds how long a thread stays raised for a goroutine that let go of it
	// (defaultUnwiredMax); sweepEvery is how often raiseSweeper looks for strays
	// (defaultSweepEvery); sweepsDue counts the sweeps still owed for unwirings since.
	// Tests change the first two.
	unwiredMax, sweepEvery time.Duration
	sweepsDue              atomic.Int32
	// pollSlice and pollMax bound a raised thread's own wait for the next request
	// (raisedconn.go); tests change them.
	pollSlice, pollMax time.Duration
}

const (
	// defaultUnwiredMax: from a handler's end to the connection's idle state takes
	// microseconds, in a drain now and then a few milliseconds of waiting for a processor,
	// which a bound of 2 ms cut short often enough to lower and raise the thread again for
	// nothing (issue 12's note has the counts). Longer, net/http is blocked (an answer the
	// client does not read, a request body it trickles, the half-close's wait), and the
	// thread goes on with other goroutines, which must not keep request_nice.
	defaultUnwiredMax = 10 * time.Millisecond
	// defaultSweepEvery is how often raiseSweeper looks for strays after unwirings; a
	// thread cloned from a raised one keeps its inherited priority at most twice as long.
	defaultSweepEvery = time.Second
)

// connPriority is one connection's state: tried and wake are touched only by the
// connection's goroutine, the others under requestPriority.mu.
type connPriority struct {
	p     *requestPriority
	conn  net.Conn // a *raisedConn when the listener came through requestPriority.listener
	tried bool     // raiseClerk ran
	// placed is whether the connection holds one of maxRaisedConns places; tid is its
	// raised thread (0: none); wired is whether its goroutine is wired to tid, and
	// unwiredAt when it last let go of it.
	placed    bool
	tid       int
	wired     bool
	unwiredAt time.Time
	// lowerLate lowers tid once the goroutine has been unwired for unwiredMax.
	lowerLate *time.Timer
	// wake is, for the request being served, the time from the raised thread seeing it
	// arrive to its handler starting: the wait for one of the Go runtime's processors
	// (GOMAXPROCS) and the reading of the request. 0 when not seen that way.
	wake time.Duration
}

// wakeOf returns the request's connPriority.wake (0 if none).
func wakeOf(ctx context.Context) time.Duration {
	if cp, ok := ctx.Value(connPriorityKey{}).(*connPriority); ok {
		return cp.wake
	}
	return 0
}

type connPriorityKey struct{}

func newRequestPriority(nice int, log *slog.Logger) *requestPriority {
	p := &requestPriority{nice: nice, setNice: setThreadNice, log: log,
		raised: map[net.Conn]*connPriority{}, threads: map[int]*connPriority{},
		unwiredMax: defaultUnwiredMax, sweepEvery: defaultSweepEvery,
		pollSlice: defaultPollSlice, pollMax: defaultPollMax}
	p.max.Store(maxRaisedConns)
	if b, err := worknice.ThreadNice(currentThread()); err == nil && b != nice {
		p.base = b
	}
	return p
}

// connContext gives each connection its state (http.Server.ConnContext).
func (p *requestPriority) connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connPriorityKey{}, &connPriority{p: p, conn: c})
}

// connState wires an idle connection's goroutine to a raised thread again, so that a
// raised thread waits for the next request (net/http reports StateIdle on that goroutine,
// before it reads on). When the connection ends or is hijacked (reported on the goroutine
// that ends or hijacks it), it frees the connection's place and lowers its thread: a
// goroutine that ends wired ends its thread too; a hijacking handler goes on, on its
// thread at the lower nice value.
func (p *requestPriority) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateIdle:
		p.mu.Lock()
		cp := p.raised[c]
		p.mu.Unlock()
		if cp != nil {
			p.wire(cp)
		}
	case http.StateClosed, http.StateHijacked:
		if p.ended(c) {
			// The last raised connection ended: at a shutdown raiseSweeper may have
			// stopped before the last answers' unwirings (Serve returns first).
			p.lowerStrays()
		}
	}
}

// ended frees the place of connection c and lowers its thread, if it has one; it reports
// whether c was the last raised connection and strays may be left to look for.
func (p *requestPriority) ended(c net.Conn) (lastOfAll bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cp := p.raised[c]
	if cp == nil {
		return false
	}
	delete(p.raised, c)
	cp.placed = false
	p.lowerThread(cp)
	if cp.lowerLate != nil {
		cp.lowerLate.Stop()
	}
	return len(p.raised) == 0 && p.sweepsDue.Load() > 0
}

// server wires the hooks into srv; with request_nice = 0 it leaves srv as it is.
func (p *requestPriority) server(srv *http.Server) *http.Server {
	if p.nice == 0 {
		return srv
	}
	h := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// HTTP/2 would run each request on a goroutine of its own, so that requests
		// would share cp; only HTTP/1 answers on the connection's goroutine.
		cp, ok := r.Context().Value(connPriorityKey{}).(*connPriority)
		if !ok || r.ProtoMajor != 1 {
			h.ServeHTTP(w, r)
			return
		}
		cp.wake = 0
		if rc, ok := cp.conn.(*raisedConn); ok {
			if t := rc.tookReadable(); !t.IsZero() {
				cp.wake = time.Since(t)
			}
		}
		h.ServeHTTP(w, r) // raiseClerk wires the goroutine for a clerk's first request
		// Not deferred: a goroutine that panics ends wired, and its thread with it. A
		// connection that the answer closes keeps its thread wired to the end, too.
		if !r.Close && !closes(w.Header()) {
			p.unwire(cp)
		}
	})
	srv.ConnContext, srv.ConnState = p.connContext, p.connState
	return srv
}

// raiseClerk raises the connection of r, a request that proved to be a clerk's (a
// user's session or API token), at its first such request: only those take one of the
// maxRaisedConns places and run at request_nice, so that nobody without an account can
// take a clerk's place or put work ahead of the mail work (a login's password hash, say).
// Its later requests are raised too. A no-op for HTTP/2 and without request_nice.
func raiseClerk(r *http.Request) {
	cp, ok := r.Context().Value(connPriorityKey{}).(*connPriority)
	if !ok || r.ProtoMajor != 1 || cp.tried || cp.p.nice == 0 {
		return
	}
	cp.tried = true
	if cp.p.claim(cp) {
		cp.p.wire(cp)
	}
}

// checkOffRaisedThread runs check, a password check, on a goroutine of its own and
// waits for it: a connection raised once (raiseClerk) is wired to its raised thread for
// all its later requests, which behind a reverse proxy may be anyone's logins, and a
// wired thread runs only its own goroutine, so the password hash is computed at the
// normal priority.
func checkOffRaisedThread[T any](check func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := check()
		done <- result{v, err}
	}()
	r := <-done
	return r.v, r.err
}

// closes reports whether an answer's header h closes the connection (RFC 9112, section
// 9.6: the "close" option of Connection).
func closes(h http.Header) bool {
	return httpguts.HeaderValuesContainsToken(h["Connection"], "close")
}

// listener wraps ln so that raised connections wait for their next request on their own
// thread (raisedconn.go); with request_nice = 0 it returns ln.
func (p *requestPriority) listener(ln net.Listener) net.Listener {
	if p.nice == 0 {
		return ln
	}
	return raisedListener{Listener: ln, slice: p.pollSlice, max: p.pollMax}
}

// claim takes one of maxRaisedConns places for cp's connection; false when all are taken
// or the kernel refused a raise before.
func (p *requestPriority) claim(cp *connPriority) bool {
	if p.refused.Load() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.raised) >= int(p.max.Load()) {
		return false
	}
	p.raised[cp.conn], cp.placed = cp, true
	return true
}

// wire wires the calling goroutine, cp's connection's, to its thread and raises the
// thread if it is not raised yet. When the goroutine was raised on another thread before,
// that thread is lowered, unless another connection's goroutine has taken it meanwhile.
// It does nothing if the goroutine is wired already or the connection has no place.
func (p *requestPriority) wire(cp *connPriority) {
	runtime.LockOSThread()
	tid := currentThread()
	p.mu.Lock()
	defer p.mu.Unlock()
	if cp.wired || !cp.placed {
		runtime.UnlockOSThread() // undoes this call's lock only
		return
	}
	if cp.lowerLate != nil {
		cp.lowerLate.Stop()
	}
	if _, raised := p.threads[tid]; !raised {
		if err := p.setNice(p.nice); err != nil {
			p.refuse(cp, err)
			return
		}
	}
	if cp.tid != tid {
		if cp.tid != 0 {
			p.moves.Add(1)
			p.lowerThread(cp)
		}
		cp.tid = tid
	}
	// A thread taken over from another connection, whose goroutine was unwired, is
	// now cp's: that connection will not lower it.
	p.threads[tid] = cp
	cp.wired = true
	if rc, ok := cp.conn.(*raisedConn); ok {
		rc.raisedOn(tid)
	}
}

// unwire unwires the calling goroutine, cp's connection's, from its raised thread after
// a handler. The thread stays raised for at most unwiredMax (the package comment says
// why), and raiseSweeper is told to look for strays.
func (p *requestPriority) unwire(cp *connPriority) {
	p.mu.Lock()
	if !cp.wired {
		p.mu.Unlock()
		return
	}
	if rc, ok := cp.conn.(*raisedConn); ok {
		rc.raisedOn(0) // another goroutine may run on the thread now
	}
	cp.wired, cp.unwiredAt = false, time.Now()
	if cp.lowerLate == nil {
		cp.lowerLate = time.AfterFunc(p.unwiredMax, func() { p.lowerIfStillUnwired(cp) })
	} else {
		cp.lowerLate.Reset(p.unwiredMax)
	}
	p.mu.Unlock()
	if p.sweepsDue.Load() != 2 {
		p.sweepsDue.Store(2) // a clone may show in /proc only after the next sweep
	}
	runtime.UnlockOSThread()
}

// lowerIfStillUnwired lowers cp's thread if its goroutine has let go of it for unwiredMax
// (cp.lowerLate).
func (p *requestPriority) lowerIfStillUnwired(cp *connPriority) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !cp.wired && time.Since(cp.unwiredAt) >= p.unwiredMax {
		p.lowerThread(cp)
	}
}

// refuse gives up raising for cp's connection, on its goroutine wired by wire, and for
// every later connection: the kernel refused (err). Called with p.mu held.
func (p *requestPriority) refuse(cp *connPriority, err error) {
	runtime.UnlockOSThread() // unchanged: it may go back to the pool
	delete(p.raised, cp.conn)
	cp.placed = false
	p.lowerThread(cp)
	if !p.refused.Swap(true) {
		p.log.Warn(RequestNiceRefused+": the kernel refused to raise their threads (allow it with LimitNICE=-10 in the systemd unit or CAP_SYS_NICE; web.request_nice = 0 turns this off)", "request_nice", p.nice, "err", err)
	}
}

// lowerThread puts cp's raised thread back to the nice value from before the raises and
// forgets it, unless another connection's goroutine has taken it. Called with p.mu held.
func (p *requestPriority) lowerThread(cp *connPriority) {
	tid := cp.tid
	cp.tid = 0
	if p.threads[tid] != cp {
		return
	}
	delete(p.threads, tid)
	if err := setNiceOfThread(tid, p.base); err != nil {
		p.log.Warn("web: could not lower a clerk's thread again", "tid", tid, "nice", p.base, "err", err)
	}
}

// setNiceOfThread sets the nice value of thread tid of this process
// (worknice.SetThreadNice); a thread that ended meanwhile is no error.
func setNiceOfThread(tid, nice int) error {
	if err := worknice.SetThreadNice(tid, nice); !errors.Is(err, worknice.ErrThreadGone) {
		return err
	}
	return nil
}

// raiseSweeper looks every sweepEvery, after unwirings, for threads at request_nice that
// no connection holds, until ctx ends (Server.Serve runs it).
func (p *requestPriority) raiseSweeper(ctx context.Context) {
	if p.nice == 0 {
		return
	}
	t := time.NewTicker(p.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n := p.sweepsDue.Load(); n > 0 && p.sweepsDue.CompareAndSwap(n, n-1) {
			p.lowerStrays()
		}
	}
}

// lowerStrays lowers to the nice value from before the raises every thread at
// request_nice that no connection holds: the Go runtime may have cloned one from a raised
// thread while that ran unwired, and a clone inherits its nice value (clone(2)). It reads
// /proc without p.mu, which the raises wait for, and takes it for each stray it lowers.
func (p *requestPriority) lowerStrays() {
	nices, err := worknice.Threads(0)
	if err != nil {
		p.log.Warn("web: could not look for raised threads that no clerk holds", "err", err)
		return
	}
	for tid, nice := range nices {
		if nice != p.nice {
			continue
		}
		p.mu.Lock()
		_, held := p.threads[tid]
		if !held {
			err = setNiceOfThread(tid, p.base)
		}
		p.mu.Unlock()
		if !held && err != nil {
			p.log.Warn("web: could not lower a raised thread that no clerk holds", "tid", tid, "nice", p.base, "err", err)
		}
	}
}

// raisedConns reports how many connections hold a place for a raised thread.
func (p *requestPriority) raisedConns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.raised)
}

// raisedThreads reports how many threads are raised.
func (p *requestPriority) raisedThreads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.threads)
}
