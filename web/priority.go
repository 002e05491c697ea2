package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

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
// kernel put it behind the drain at once, with the answer's end still to do. The raised
// thread may thus run other goroutines for that moment; when the goroutine is wired again
// on another thread, that thread is raised and the one it left is lowered, and a thread the
// runtime cloned from a raised one meanwhile (it inherits the nice value) is lowered too
// (requestPriority.lowerStrays). When the connection ends, its goroutine ends wired to
// its raised thread and the Go runtime ends the thread; if it ends unwired, its thread is
// lowered (connState). So no thread stays raised beyond its connection's request.

// maxRaisedConns bounds the threads held by raised connections (a browser keeps about
// six open; an attacker who opens more only gets the normal priority).
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
	// base (under mu, once baseKnown) is the nice value raised threads go back to.
	base      int
	baseKnown bool
	// pollSlice and pollMax bound a raised thread's own wait for the next request
	// (raisedconn.go); tests change them.
	pollSlice, pollMax time.Duration
}

// connPriority is one connection's state, touched by its own goroutine, and under
// requestPriority.mu where so marked.
type connPriority struct {
	conn  net.Conn // a *raisedConn when the listener came through requestPriority.listener
	tried bool
	wired bool // the goroutine is wired to thread tid
	// placed (under mu) is whether the connection holds one of maxRaisedConns places;
	// tid (under mu) is its raised thread, 0 for none.
	placed bool
	tid    int
	// threadsAtUnwire is the Go runtime's count of threads when the goroutine was unwired
	// (threadCount).
	threadsAtUnwire int
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
		pollSlice: defaultPollSlice, pollMax: defaultPollMax}
	p.max.Store(maxRaisedConns)
	return p
}

// connContext gives each connection its state (http.Server.ConnContext).
func (p *requestPriority) connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connPriorityKey{}, &connPriority{conn: c})
}

// connState wires an idle connection's goroutine to a raised thread again, so that a
// raised thread waits for the next request (net/http reports StateIdle on that goroutine,
// before it reads on). When the connection ends (reported on its goroutine too), it frees
// the connection's place and lowers its thread: should the goroutine still hold the
// thread, the thread ends with it anyway.
func (p *requestPriority) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateIdle:
		p.mu.Lock()
		cp := p.raised[c]
		p.mu.Unlock()
		if cp != nil && !cp.wired {
			p.wire(cp)
		}
	case http.StateClosed, http.StateHijacked:
		p.mu.Lock()
		defer p.mu.Unlock()
		cp := p.raised[c]
		if cp == nil {
			return
		}
		delete(p.raised, c)
		cp.placed = false
		p.lowerThread(cp)
		if cp.threadsAtUnwire != 0 && !cp.wired && threadCount() != cp.threadsAtUnwire {
			p.lowerStrays()
		}
	}
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
		if !cp.tried {
			cp.tried = true
			if p.claim(cp) {
				p.wire(cp)
			}
		}
		h.ServeHTTP(w, r)
		// Not deferred: a goroutine that panics ends wired, and its thread with it.
		if cp.wired {
			p.unwire(cp)
		}
	})
	srv.ConnContext, srv.ConnState = p.connContext, p.connState
	return srv
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
func (p *requestPriority) wire(cp *connPriority) {
	runtime.LockOSThread()
	tid := currentThread()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !cp.placed { // hijacked meanwhile
		runtime.UnlockOSThread()
		return
	}
	if _, raised := p.threads[tid]; !raised {
		err := p.learnBase(tid)
		if err == nil {
			err = p.setNice(p.nice)
		}
		if err != nil {
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
	if cp.threadsAtUnwire != 0 && threadCount() != cp.threadsAtUnwire {
		p.lowerStrays()
	}
	if rc, ok := cp.conn.(*raisedConn); ok {
		rc.raisedOn(tid)
	}
}

// learnBase records, at the first raise, the nice value of thread tid as the one that
// raised threads go back to: the daemon's threads share one (work_nice, internal/worknice)
// and new ones inherit it, whereas a thread that is not held may be a stray
// (lowerStrays) at request_nice. Called with p.mu held.
func (p *requestPriority) learnBase(tid int) error {
	if p.baseKnown {
		return nil
	}
	was, err := niceOfThread(tid)
	if err != nil {
		return err
	}
	p.base, p.baseKnown = was, true
	return nil
}

// unwire unwires the calling goroutine, cp's connection's, from its raised thread after
// a handler; the thread stays raised (the package comment says why).
func (p *requestPriority) unwire(cp *connPriority) {
	if rc, ok := cp.conn.(*raisedConn); ok {
		rc.raisedOn(0) // another goroutine may run on the thread now
	}
	cp.threadsAtUnwire = threadCount()
	cp.wired = false
	runtime.UnlockOSThread()
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

// lowerStrays lowers to the nice value from before the raises every thread at request_nice that no
// connection holds: the Go runtime may have cloned one from a raised thread while that ran
// unwired, and a clone inherits its nice value (clone(2)). Called with p.mu held, after
// the Go runtime's count of threads changed.
func (p *requestPriority) lowerStrays() {
	nices, err := worknice.Threads(0)
	if err != nil {
		p.log.Warn("web: could not look for raised threads that no clerk holds", "err", err)
		return
	}
	for tid, nice := range nices {
		if _, held := p.threads[tid]; held || nice != p.nice {
			continue
		}
		if err := setNiceOfThread(tid, p.base); err != nil {
			p.log.Warn("web: could not lower a raised thread that no clerk holds", "tid", tid, "nice", p.base, "err", err)
		}
	}
}

// threadCount returns how many threads the Go runtime has (its thread creation profile
// has one record per thread).
func threadCount() int {
	n, _ := runtime.ThreadCreateProfile(nil)
	return n
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
