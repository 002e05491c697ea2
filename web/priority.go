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
)

// Clerks first (issue 12). On a small machine the drain (the watcher's parsing, the
// indexer, Dovecot and Postfix) keeps every core busy, and a lookup by reference that
// needs 0.3 ms of CPU waited up to 20 ms for a core. So the goroutine that serves an
// HTTP/1 connection — net/http answers every request of a connection on it — is wired
// to a thread of its own at its first request, and that thread's nice value is raised to
// web.request_nice: the kernel then runs a clerk's request before the mail work. The
// thread is never handed back: when the connection ends, its goroutine ends while still
// wired, and the Go runtime ends the thread (runtime.LockOSThread), so no raised thread
// ever runs the drain. The daemon has lowered all its other threads to work_nice before
// the server starts (internal/worknice), so the raise also puts the clerk ahead of whatever
// shares intake's scheduling group at nice 0. At most maxRaisedConns connections hold such a thread at once; the
// others are served as before. (A goroutine that ends wired to the main thread parks that
// thread for good instead; a parked thread runs nothing.)
//
// Between two requests the raised thread waits for its clerk itself (raisedConn.Read), in
// ppoll(2) on the connection's socket, so that the kernel wakes the raised thread when the
// next request arrives. Left to the Go runtime, the request was first noticed by its
// network poller, on a thread of normal priority that had to wait for a core behind the
// drain. The raised thread still needs one of the runtime's GOMAXPROCS slots to go on;
// when the drain holds them all, it gets one at the drain's next scheduling point.

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
	raised  map[net.Conn]bool // connections whose goroutine holds (or is getting) a raised thread
	// pollSlice and pollMax bound a raised thread's own wait for the next request
	// (raisedconn.go); tests change them.
	pollSlice, pollMax time.Duration
}

// connPriority is one connection's state, touched only by its own goroutine.
type connPriority struct {
	conn  net.Conn // a *raisedConn when the listener came through requestPriority.listener
	tried bool
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
	p := &requestPriority{nice: nice, setNice: setThreadNice, log: log, raised: map[net.Conn]bool{},
		pollSlice: defaultPollSlice, pollMax: defaultPollMax}
	p.max.Store(maxRaisedConns)
	return p
}

// connContext gives each connection its state (http.Server.ConnContext).
func (p *requestPriority) connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connPriorityKey{}, &connPriority{conn: c})
}

// connState frees a raised connection's place when it ends (http.Server.ConnState).
func (p *requestPriority) connState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	p.mu.Lock()
	delete(p.raised, c)
	p.mu.Unlock()
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
		if cp, ok := r.Context().Value(connPriorityKey{}).(*connPriority); ok && r.ProtoMajor == 1 {
			cp.wake = 0
			if rc, ok := cp.conn.(*raisedConn); ok {
				if t := rc.tookReadable(); !t.IsZero() {
					cp.wake = time.Since(t)
				}
			}
			if !cp.tried {
				cp.tried = true
				p.raise(cp)
			}
		}
		h.ServeHTTP(w, r)
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

// raise wires the calling goroutine (cp's connection's) to its thread and raises it.
func (p *requestPriority) raise(cp *connPriority) {
	if p.refused.Load() {
		return
	}
	p.mu.Lock()
	full := len(p.raised) >= int(p.max.Load())
	if !full {
		p.raised[cp.conn] = true // the place is taken before the thread is changed
	}
	p.mu.Unlock()
	if full {
		return
	}
	runtime.LockOSThread()
	err := p.setNice(p.nice)
	if err == nil {
		if rc, ok := cp.conn.(*raisedConn); ok {
			rc.raisedOn(currentThread())
		}
		return // not unlocked: the thread ends with the connection's goroutine
	}
	runtime.UnlockOSThread() // unchanged: it may go back to the pool
	p.mu.Lock()
	delete(p.raised, cp.conn)
	p.mu.Unlock()
	if !p.refused.Swap(true) {
		p.log.Warn(RequestNiceRefused+": the kernel refused to raise their threads (allow it with LimitNICE=-10 in the systemd unit or CAP_SYS_NICE; web.request_nice = 0 turns this off)", "request_nice", p.nice, "err", err)
	}
}

// raisedConns reports how many connections hold a raised thread.
func (p *requestPriority) raisedConns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.raised)
}
