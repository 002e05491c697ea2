package web

import (
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// Bounds of raisedConn's own wait for the next request (requestPriority's pollSlice and
// pollMax; tests change them).
const (
	// defaultPollSlice is the longest single ppoll(2). Close wakes a waiting ppoll itself
	// (shutdown(2) of the reading side); the slice only bounds how late a read deadline
	// that another goroutine moves is noticed (net/http sets them on the connection's own
	// goroutine, before the read).
	defaultPollSlice = 5 * time.Second
	// defaultPollMax is the longest a raised thread waits in ppoll(2) for one read. A clerk
	// who pauses longer is woken through the Go runtime's poller, as without request_nice.
	defaultPollMax = 30 * time.Second
)

// raisedListener wraps the connections it accepts in raisedConn.
type raisedListener struct {
	net.Listener
	slice, max time.Duration // the bounds of a raisedConn's wait
}

func (l raisedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c, nil
	}
	return &raisedConn{Conn: c, raw: raw, slice: l.slice, max: l.max}, nil
}

// raisedConn is a connection whose reads, once its goroutine has a raised thread, first
// wait for data in ppoll(2) on that thread (priority.go), so that the kernel wakes that
// thread when the clerk's request arrives. Reads on any other thread — net/http
// reads in the background while a handler runs — and reads while the goroutine is not
// wired to its raised thread (before the raise, and from an answer's end to the idle state)
// go straight to the connection.
type raisedConn struct {
	net.Conn
	raw          syscall.RawConn
	slice, max   time.Duration             // one ppoll(2) at most; all of one read's at most
	tid          atomic.Int64              // the raised thread's id; 0 before the raise
	readDeadline atomic.Pointer[time.Time] // nil = none; with its monotonic reading
	// readable is when the raised thread's last ppoll(2) saw the request arrive (zero when
	// not seen that way). Only the connection's goroutine, on the raised thread, touches it.
	readable time.Time
}

// tookReadable returns when the raised thread last saw a request arrive and forgets it
// (zero if it did not).
func (c *raisedConn) tookReadable() time.Time {
	t := c.readable
	c.readable = time.Time{}
	return t
}

// raisedOn records that the connection's goroutine now runs on the raised thread tid.
func (c *raisedConn) raisedOn(tid int) { c.tid.Store(int64(tid)) }

func (c *raisedConn) Read(b []byte) (int, error) {
	// tid is loaded again after the thread is known: a goroutine moved onto the raised
	// thread between the two, after the connection's goroutine let go of it, must not
	// wait there (net/http's background read).
	if tid := c.tid.Load(); tid != 0 && int64(currentThread()) == tid && c.tid.Load() == tid {
		c.awaitReadable()
	}
	return c.Conn.Read(b)
}

func (c *raisedConn) SetDeadline(t time.Time) error {
	c.noteReadDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *raisedConn) SetReadDeadline(t time.Time) error {
	c.noteReadDeadline(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *raisedConn) noteReadDeadline(t time.Time) {
	if t.IsZero() {
		c.readDeadline.Store(nil)
		return
	}
	c.readDeadline.Store(&t)
}

// Close wakes a ppoll(2) that waits on the connection before it closes it: the close itself
// would wait until that ppoll returns, since it holds the descriptor (RawConn.Control), and
// net/http closes idle connections one after another (http.Server.Shutdown).
// shutdown(2) of the reading side sends nothing to the peer.
func (c *raisedConn) Close() error {
	_ = c.raw.Control(func(fd uintptr) { shutdownRead(fd) })
	return c.Conn.Close()
}

// awaitReadable waits on the calling thread until the socket has something to read (data,
// the peer's close or an error), the read deadline, c.max or the connection's close. It
// only chooses which thread is woken: the read that follows returns what it would have.
func (c *raisedConn) awaitReadable() {
	start := time.Now()
	for {
		wait := min(c.slice, c.max-time.Since(start))
		if d := c.readDeadline.Load(); d != nil {
			wait = min(wait, time.Until(*d))
		}
		if wait <= 0 {
			return
		}
		var ready bool
		err := c.raw.Control(func(fd uintptr) { ready = pollReadable(fd, wait) })
		if ready {
			c.readable = time.Now()
		}
		if err != nil || ready {
			return // closed, or readable
		}
	}
}

// CloseWrite half-closes the connection as *net.TCPConn does: net/http uses it to let the
// client read an answer before the connection closes (closeWriter in net/http).
func (c *raisedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps *net.TCPConn's sendfile(2) for answers copied from a file (the raw mail
// download): net/http looks for an io.ReaderFrom on the connection.
func (c *raisedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
