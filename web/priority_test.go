//go:build linux

package web

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadNice reads the nice value of the thread it runs on (proc(5): field 19 of stat).
func threadNice(tid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return 0, err
	}
	_, after, ok := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(after))
	if !ok || len(f) < 17 {
		return 0, fmt.Errorf("stat of thread %d: %q", tid, b)
	}
	return strconv.Atoi(f[16]) // fields from 3 (state) on
}

// threadsAt lists the threads of this process with the nice value n, but for the main
// thread: a goroutine that ends wired to the main thread does not end it but parks it for
// good (runtime.LockOSThread), and a parked thread runs nothing.
func threadsAt(t *testing.T, n int) []string {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		t.Fatal(err)
	}
	var at []string
	for _, task := range tasks {
		tid, _ := strconv.Atoi(filepath.Base(task))
		if tid == os.Getpid() {
			continue
		}
		if got, err := threadNice(tid); err == nil && got == n {
			at = append(at, filepath.Base(task))
		}
	}
	return at
}

// canRaise reports whether this process may raise a thread to nice n (root, CAP_SYS_NICE
// or RLIMIT_NICE): the thread it tries on ends with its goroutine either way.
func canRaise(n int) bool {
	ok := make(chan bool)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread ends here
		ok <- setThreadNice(n) == nil
	}()
	return <-ok
}

// niceHandler answers the nice value of the thread that answers (its id for "?tid", and
// closes the connection after it for "?tid&close"; the request's wake in nanoseconds for
// "?wake"). Its requests count as a clerk's (raiseClerk), but for "?anon".
func niceHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "anon" {
		raiseClerk(r)
	}
	switch r.URL.RawQuery {
	case "tid":
		fmt.Fprint(w, unix.Gettid())
		return
	case "tid&close":
		w.Header().Set("Connection", "close")
		fmt.Fprint(w, unix.Gettid())
		return
	case "wake":
		fmt.Fprint(w, int64(wakeOf(r.Context())))
		return
	}
	n, err := threadNice(unix.Gettid())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, n)
}

// serveNice serves niceHandler through newHTTPServer on a loopback port until the test
// ends; setup, when not nil, changes the server before it serves. It returns the server,
// its address and a channel that gets what Serve returned.
func serveNice(t *testing.T, p *requestPriority, setup func(*Server)) (*Server, string, <-chan error) {
	t.Helper()
	return serveWith(t, p, http.HandlerFunc(niceHandler), setup)
}

// serveWith is serveNice with the handler h.
func serveWith(t *testing.T, p *requestPriority, h http.Handler, setup func(*Server)) (*Server, string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(ln.Addr().String(), p, h, p.log)
	if setup != nil {
		setup(srv)
	}
	// Serve returns before the goroutines of the connections that Close ends have run
	// their last connState, which lowers their threads and, for the last raised one, looks
	// for strays at the raised nice value: run late, that would lower the threads the next
	// test raises, which are no strays. So the test ends after every connection's end.
	var conns sync.WaitGroup
	connState := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
		if connState != nil {
			connState(c, st)
		}
		if st == http.StateClosed || st == http.StateHijacked {
			conns.Done()
		}
	}
	served, done := make(chan error, 1), make(chan struct{})
	go func() { served <- srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done; conns.Wait() })
	return srv, ln.Addr().String(), served
}

// niceServer serves niceHandler and returns its URL.
func niceServer(t *testing.T, p *requestPriority) string {
	t.Helper()
	_, addr, _ := serveNice(t, p, nil)
	return "http://" + addr + "/"
}

// niceOf asks over c which nice value the answering thread has.
func niceOf(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n, err := strconv.Atoi(string(b))
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return n
}

// waitFor waits for cond, the event of a closed connection, at most 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 3000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond) // polling for the event, not waiting for quiet
	}
	t.Fatalf("still not: %s", what)
}

func TestClerksConnectionsRunFirst(t *testing.T) {
	// -5 where the process may raise a priority (root or CAP_SYS_NICE, as in CI);
	// elsewhere +5, which anyone may set: the wiring, the bound and the end of the
	// thread are the same either way (the refusal is TestClerksFirstRefused).
	raised := -5
	if !canRaise(raised) {
		raised = 5
		t.Logf("no right to raise a priority here: checking the threads at nice %d", raised)
	}
	base, err := threadNice(unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	// canRaise's thread ends with its goroutine.
	waitFor(t, "no thread raised before the test", func() bool { return len(threadsAt(t, raised)) == 0 })
	p := newRequestPriority(raised, slog.New(slog.DiscardHandler))
	url := niceServer(t, p)

	// Every request of a connection is answered on its raised thread.
	c1 := &http.Client{Transport: &http.Transport{}}
	for i := range 3 {
		if got := niceOf(t, c1, url); got != raised {
			t.Fatalf("request %d of a connection answered at nice %d, want %d", i+1, got, raised)
		}
	}
	if n := p.raisedConns(); n != 1 {
		t.Errorf("%d raised connections, want 1", n)
	}

	// Beyond the bound a connection is answered at the normal priority. (First c1's
	// goroutine waits wired again, so that its raised thread runs nothing else; and a
	// thread the Go runtime cloned from it while it ran unwired, which inherited its nice
	// value, is lowered by the sweeper: c2's goroutine could run on such a stray before.
	// A wired thread clones none: the runtime has its template thread do that.)
	waiting := waitingThread(t, p)
	waitFor(t, "the strays lowered", func() bool { return slices.Equal(threadsAt(t, raised), []string{waiting}) })
	p.max.Store(1)
	c2 := &http.Client{Transport: &http.Transport{}}
	if got := niceOf(t, c2, url); got != base {
		t.Errorf("a connection beyond the bound answered at nice %d, want %d", got, base)
	}
	c2.CloseIdleConnections()

	// When the connection ends, its place is free and its thread is gone: no raised
	// thread is left to run the drain's goroutines.
	c1.CloseIdleConnections()
	waitFor(t, "raised connection closed", func() bool { return p.raisedConns() == 0 })
	waitFor(t, "raised thread ended", func() bool { return len(threadsAt(t, raised)) == 0 })

	// The freed place is taken by the next connection.
	c3 := &http.Client{Transport: &http.Transport{}}
	if got := niceOf(t, c3, url); got != raised {
		t.Errorf("a new connection after the first ended answered at nice %d, want %d", got, raised)
	}
	c3.CloseIdleConnections()
	waitFor(t, "third connection closed", func() bool { return p.raisedConns() == 0 })
}

func TestClerksFirstOff(t *testing.T) {
	base, err := threadNice(unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	p := newRequestPriority(0, slog.New(slog.DiscardHandler))
	p.setNice = func(int) error { t.Error("request_nice = 0 changed a thread"); return nil }
	url := niceServer(t, p)
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	if got := niceOf(t, c, url); got != base {
		t.Errorf("answered at nice %d with request_nice = 0, want %d", got, base)
	}
}

func TestClerksFirstRefused(t *testing.T) {
	base, err := threadNice(unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	p := newRequestPriority(-10, slog.New(slog.NewTextHandler(&logBuf, nil)))
	var calls atomic.Int32 // counted on the server's goroutines
	p.setNice = func(int) error { calls.Add(1); return errors.New("permission denied") }
	url := niceServer(t, p)
	for i := range 2 { // two connections: the kernel is asked once
		c := &http.Client{Transport: &http.Transport{}}
		if got := niceOf(t, c, url); got != base {
			t.Errorf("connection %d answered at nice %d after a refusal, want %d", i+1, got, base)
		}
		c.CloseIdleConnections()
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the kernel was asked %d times, want once", n)
	}
	if n := p.raisedConns(); n != 0 {
		t.Errorf("%d raised connections after a refusal", n)
	}
	if log := logBuf.String(); strings.Count(log, "LimitNICE=-10") != 1 || !strings.Contains(log, "level=WARN") {
		t.Errorf("want one warning that says how to allow it, got:\n%s", log)
	}
}

// testNice is the nice value the tests raise threads to: -5 where the process may raise a
// priority (root or CAP_SYS_NICE, as in CI), else +5, which anyone may set.
func testNice(t *testing.T) int {
	t.Helper()
	if canRaise(-5) {
		return -5
	}
	t.Logf("no right to raise a priority here: checking the threads at nice 5")
	return 5
}

// raisedPriority returns a requestPriority that raises to testNice, that nice value, and
// the one of the test's thread, where raised threads go back to.
func raisedPriority(t *testing.T) (p *requestPriority, raised, base int) {
	t.Helper()
	raised = testNice(t)
	base, err := threadNice(unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return newRequestPriority(raised, slog.New(slog.DiscardHandler)), raised, base
}

// threadSyscall returns the number of the system call thread tid waits in, or -1 while it
// runs (proc(5): /proc/PID/task/TID/syscall).
func threadSyscall(t *testing.T, tid string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + tid + "/syscall")
	if err != nil {
		if _, serr := os.Stat("/proc/self/syscall"); errors.Is(serr, os.ErrNotExist) {
			t.Skip("this kernel does not show a thread's system call (/proc/PID/syscall)")
		}
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 || f[0] == "running" {
		return -1
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		t.Fatalf("syscall of thread %s: %q", tid, b)
	}
	return n
}

// dialBounded dials addr with a deadline of 30 s on the connection (waitFor's bound), so
// that a wait that does not end fails the test instead of hanging the package.
func dialBounded(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c
}

// rawRequests writes n requests for target on c at once and reads the answers' bodies.
func rawRequests(t *testing.T, c net.Conn, target string, n int) []string {
	t.Helper()
	req := strings.Repeat("GET "+target+" HTTP/1.1\r\nHost: intake.test\r\n\r\n", n)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var bodies []string
	for range n {
		_, body := readAnswer(t, br)
		bodies = append(bodies, body)
	}
	return bodies
}

// readAnswer reads one answer from br, and all its body.
func readAnswer(t *testing.T, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestRaisedThreadWaitsForTheNextRequestItself(t *testing.T) {
	p, raised, _ := raisedPriority(t)
	url := niceServer(t, p)
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	if got := niceOf(t, c, url); got != raised {
		t.Fatalf("answered at nice %d, want %d", got, raised)
	}
	// Between two requests the raised thread itself waits in ppoll(2) on the socket, so
	// that the kernel wakes it, and not a thread of normal priority, for the next request.
	// (Left to the Go runtime, the raised thread waited in futex(2) for its goroutine.)
	for i := range 3 {
		waitingThread(t, p)
		if got := niceOf(t, c, url); got != raised {
			t.Fatalf("request %d answered at nice %d, want %d", i+2, got, raised)
		}
	}
}

// waitingThread waits until the raised thread of p's one raised connection waits in
// ppoll(2) and returns its id. (After its answer, the connection's goroutine may go on on
// another thread: the thread that answered need not be the one that waits.)
func waitingThread(t *testing.T, p *requestPriority) string {
	t.Helper()
	var tid string
	waitFor(t, "the raised thread waits in ppoll(2)", func() bool {
		p.mu.Lock()
		tids := slices.Collect(maps.Keys(p.threads))
		p.mu.Unlock()
		if len(tids) != 1 {
			return false
		}
		tid = strconv.Itoa(tids[0])
		return threadSyscall(t, tid) == unix.SYS_PPOLL
	})
	return tid
}

// TestRaisedConnectionMeasuresTheWake: a request that the raised thread saw arrive in
// ppoll(2) carries the time from then to its handler (Server-Timing "wake", which
// intake-bench reports); one that arrived before the raise carries none.
func TestRaisedConnectionMeasuresTheWake(t *testing.T) {
	if !canRaise(-5) {
		t.Skip("the wake is measured on raised threads only, and this process may not raise one")
	}
	p := newRequestPriority(-5, slog.New(slog.DiscardHandler))
	url := niceServer(t, p)
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	if w := niceOf(t, c, url+"?wake"); w != 0 {
		t.Errorf("the first request (read before the raise) has a wake of %d ns, want none", w)
	}
	waitingThread(t, p)
	if w := niceOf(t, c, url+"?wake"); w <= 0 {
		t.Errorf("a request the raised thread waited for has a wake of %d ns, want > 0", w)
	}
}

func TestRaisedConnectionAnswersPipelinedRequests(t *testing.T) {
	// Requests sent together sit in net/http's buffer, not in the socket: the raised
	// thread must not wait in ppoll(2) for bytes that already arrived.
	p, raised, _ := raisedPriority(t)
	p.pollSlice, p.pollMax = time.Hour, time.Hour // a wrong wait would not end
	url := niceServer(t, p)
	c := dialBounded(t, strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"))
	want := strconv.Itoa(raised)
	for _, n := range []int{1, 3, 2} { // the first raises the connection's thread
		for i, body := range rawRequests(t, c, "/", n) {
			if body != want {
				t.Fatalf("answer %d of %d sent together: %q, want %q", i+1, n, body, want)
			}
		}
	}
}

func TestRaisedConnectionKeepsItsTimeouts(t *testing.T) {
	p, raised, _ := raisedPriority(t)
	p.pollSlice, p.pollMax = time.Hour, time.Hour // only the deadline can end the wait
	_, addr, _ := serveNice(t, p, func(srv *Server) { srv.IdleTimeout = 20 * time.Millisecond })
	c := dialBounded(t, addr)
	if got := rawRequests(t, c, "/", 1)[0]; got != strconv.Itoa(raised) {
		t.Fatalf("answered at nice %s, want %d", got, raised)
	}
	// The server closes the idle connection at its idle timeout, although the raised
	// thread's own wait would go on for an hour: the read deadline ends it.
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the idle timeout: read %d bytes, %v; want EOF", n, err)
	}
	waitFor(t, "connection closed", func() bool { return p.raisedConns() == 0 })
}

func TestShutdownEndsRaisedConnections(t *testing.T) {
	p, _, _ := raisedPriority(t)
	p.pollSlice, p.pollMax = time.Hour, time.Hour // only the close can end the wait
	srv, addr, served := serveNice(t, p, nil)
	c := dialBounded(t, addr)
	rawRequests(t, c, "/", 1)
	tid := waitingThread(t, p)
	// A graceful shutdown closes the idle connection under the raised thread's wait: the
	// close wakes the wait (a close that waited for it would take an hour), and the
	// connection and its thread end.
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	var shutErr error
	waitFor(t, "shutdown returned", func() bool {
		select {
		case shutErr = <-shut:
			return true
		default:
			return false
		}
	})
	if shutErr != nil {
		t.Fatalf("shutdown: %v", shutErr)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("serve: %v", err)
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after shutdown: read %d bytes, %v; want EOF", n, err)
	}
	waitFor(t, "connection closed", func() bool { return p.raisedConns() == 0 })
	if tid == strconv.Itoa(os.Getpid()) {
		return // the main thread is parked for good instead (threadsAt)
	}
	waitFor(t, "raised thread ended", func() bool {
		_, err := os.Stat("/proc/self/task/" + tid)
		return errors.Is(err, os.ErrNotExist)
	})
}

func TestRaisedConnKeepsTheTCPConnsExtras(t *testing.T) {
	// net/http half-closes a connection before it closes it (closeWriter) and sends
	// files with sendfile(2) (io.ReaderFrom); the wrapper must not hide either.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rl := raisedListener{Listener: ln, slice: time.Hour, max: time.Hour}
	client := dialBounded(t, ln.Addr().String())
	c, err := rl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	rc, ok := c.(*raisedConn)
	if !ok {
		t.Fatalf("accepted %T, want *raisedConn", c)
	}
	f := filepath.Join(t.TempDir(), "mail.eml")
	if err := os.WriteFile(f, []byte("From: a@example.org\r\n\r\nHallo\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := rc.ReadFrom(src); err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if err := rc.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	// The client reads the file and then EOF, while its own direction stays open.
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "From: a@example.org\r\n\r\nHallo\r\n" {
		t.Fatalf("client read %q, %v", got, err)
	}
	if _, err := client.Write([]byte("still open")); err != nil {
		t.Fatalf("client's direction closed too: %v", err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(rc, buf); err != nil || string(buf) != "still open" {
		t.Fatalf("server read %q, %v", buf, err)
	}
}

// readFromConn records whether ReadFrom reached it (as *net.TCPConn's would, with
// sendfile(2)).
type readFromConn struct {
	net.Conn
	calls int
}

func (c *readFromConn) ReadFrom(r io.Reader) (int64, error) {
	c.calls++
	return io.Copy(io.Discard, r)
}

func TestRaisedConnHandsReadFromToItsConnection(t *testing.T) {
	// A copy that went around the connection's own ReadFrom would deliver the same
	// bytes (the test above) but lose sendfile(2): the wrapper must hand it on.
	under := &readFromConn{}
	rc := &raisedConn{Conn: under}
	if n, err := rc.ReadFrom(strings.NewReader("Hallo")); err != nil || n != 5 {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	if under.calls != 1 {
		t.Errorf("the connection's ReadFrom was called %d times, want once", under.calls)
	}
}

// voluntarySwitches reads how often each thread of this process slept (proc(5):
// voluntary_ctxt_switches of /proc/PID/task/TID/status), by thread id; a thread that ends
// meanwhile is left out.
func voluntarySwitches(t *testing.T) map[string]int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, task := range tasks {
		b, err := os.ReadFile(task + "/status")
		if err != nil {
			continue // ended meanwhile
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					t.Fatalf("status of %s: %q", task, line)
				}
				out[filepath.Base(task)] = n
			}
		}
	}
	return out
}

func TestRaisedGoroutineWaitsUnwiredAfterItsAnswer(t *testing.T) {
	// After every answer net/http waits for its background read of the connection to end.
	// A goroutine wired to its thread that waits makes the Go runtime hand its processor to
	// another thread and back, and its thread sleeps meanwhile: in a drain, which holds
	// every processor, the hand-back took p99 5–8 ms of the clerk's next request.
	// Unwired, the thread goes on with the background read's end and then with the
	// goroutine itself. One processor stands for the drain's busy ones here. Requests
	// sent together leave the answering threads no other reason to sleep (the next request
	// is in net/http's buffer already), so their sleeps count the hand-backs: about one
	// per request if wired.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p, _, _ := raisedPriority(t)
	p.pollSlice, p.pollMax = time.Hour, time.Hour
	_, addr, _ := serveNice(t, p, nil)
	c := dialBounded(t, addr)
	rawRequests(t, c, "/", 1) // raises the connection's thread
	waitingThread(t, p)
	const n = 200
	before := voluntarySwitches(t)
	answering := map[string]bool{}
	for _, tid := range rawRequests(t, c, "/?tid", n) {
		answering[tid] = true
	}
	after := voluntarySwitches(t)
	slept := 0
	for tid := range answering {
		slept += after[tid] - before[tid]
	}
	// One sleep is the wait for the requests to arrive; a few more the Go runtime may
	// take if the goroutine moves to another thread.
	if slept > n/4 {
		t.Errorf("the answering threads (%d) slept %d times in %d requests sent together, want at most %d", len(answering), slept, n, n/4)
	}
}

// strayThread makes a thread at nice n that no connection holds, as a thread that the Go
// runtime cloned from a raised one is, and returns its id. The thread is wired to a
// goroutine until the test ends, so that no connection's goroutine takes it.
func strayThread(t *testing.T, n int) int {
	t.Helper()
	tid, release, released := make(chan int), make(chan struct{}), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		was, err := threadNice(currentThread())
		if err == nil {
			err = setThreadNice(n)
		}
		if err != nil {
			t.Error(err)
		}
		tid <- currentThread()
		<-release
		if err := setThreadNice(was); err != nil { // back for the other tests, if still raised
			t.Error(err)
		}
		runtime.UnlockOSThread()
		close(released)
	}()
	t.Cleanup(func() { close(release); <-released })
	return <-tid
}

func niceOfTID(t *testing.T, tid int) int {
	t.Helper()
	n, err := threadNice(tid)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRaisedThreadsFollowTheGoroutine(t *testing.T) {
	// Unwired between its answer and its idle state, a connection's goroutine may go on
	// on another thread: that one is raised and the one it left lowered; and when the
	// connection ends, its last thread is lowered.
	p, raised, base := raisedPriority(t)
	p.unwiredMax = time.Hour // here only the move lowers the first thread
	cp := placedConn(t, p)

	// The goroutine answers on its first thread, and that thread is then held by another
	// goroutine, so that the connection's goes on elsewhere.
	tid1 := answerAndHold(t, p, cp)
	if got := niceOfTID(t, tid1); got != raised {
		t.Fatalf("the first thread is at nice %d, want %d", got, raised)
	}

	second := make(chan int)
	go func() {
		p.wire(cp)
		tid := currentThread()
		p.unwire(cp)
		second <- tid
	}()
	tid2 := <-second
	if tid2 == tid1 {
		t.Fatal("the goroutine went on on the thread another one holds")
	}
	if got := niceOfTID(t, tid2); got != raised {
		t.Errorf("the thread the goroutine went on on is at nice %d, want %d", got, raised)
	}
	if got := niceOfTID(t, tid1); got != base {
		t.Errorf("the thread the goroutine left is at nice %d, want %d", got, base)
	}
	if n, m := p.raisedThreads(), p.moves.Load(); n != 1 || m != 1 {
		t.Errorf("%d raised threads after %d moves, want 1 after 1", n, m)
	}

	p.connState(cp.conn, http.StateClosed)
	if got := niceOfTID(t, tid2); got != base {
		t.Errorf("the last thread of a closed connection is at nice %d, want %d", got, base)
	}
	if n, c := p.raisedThreads(), p.raisedConns(); n != 0 || c != 0 {
		t.Errorf("%d raised threads and %d raised connections after the close, want none", n, c)
	}
}

func TestConnectionClosedAfterItsAnswerEndsItsThread(t *testing.T) {
	// A connection that closes after its answer — the client asked for it, or the
	// handler did — keeps its goroutine wired to the end, so that its raised thread ends
	// with it (the main thread, which the Go runtime parks instead, aside: threadsAt).
	for _, tt := range []struct{ name, target, header string }{
		{"the client asks", "/?tid", "Connection: close\r\n"},
		{"the handler says so", "/?tid&close", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raised := testNice(t)
			p := newRequestPriority(raised, slog.New(slog.DiscardHandler))
			_, addr, _ := serveNice(t, p, nil)
			c := dialBounded(t, addr)
			if _, err := io.WriteString(c, "GET "+tt.target+" HTTP/1.1\r\nHost: intake.test\r\n"+tt.header+"\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, b := readAnswer(t, bufio.NewReader(c))
			tid, err := strconv.Atoi(b)
			if err != nil || !resp.Close {
				t.Fatalf("answer %q, closing %v", b, resp.Close)
			}
			waitFor(t, "connection closed", func() bool { return p.raisedConns() == 0 })
			if n := p.raisedThreads(); n != 0 {
				t.Errorf("%d raised threads after the close, want none", n)
			}
			if tid == os.Getpid() {
				return
			}
			waitFor(t, "the raised thread ended", func() bool {
				_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid))
				return errors.Is(err, os.ErrNotExist)
			})
		})
	}
}

// placedConn returns a connection's state that holds a place in p (over net.Pipe).
func placedConn(t *testing.T, p *requestPriority) *connPriority {
	t.Helper()
	conn, peer := net.Pipe()
	t.Cleanup(func() { conn.Close(); peer.Close() })
	cp := &connPriority{conn: conn}
	if !p.claim(cp) {
		t.Fatal("no place for the connection")
	}
	return cp
}

// answerAndHold wires cp's "goroutine" (a new one) to a raised thread, lets go of it as
// after an answer, and keeps the thread until the test ends, wired to that goroutine
// still (LockOSThread nests), so that no other goroutine runs on it. It returns the
// thread's id.
func answerAndHold(t *testing.T, p *requestPriority, cp *connPriority) int {
	t.Helper()
	first, release, released := make(chan int), make(chan struct{}), make(chan struct{})
	go func() {
		p.wire(cp)
		runtime.LockOSThread() // held past the unwiring
		p.unwire(cp)
		first <- currentThread()
		<-release
		runtime.UnlockOSThread()
		close(released)
	}()
	t.Cleanup(func() { close(release); <-released })
	return <-first
}

func TestRaisedThreadLoweredWhenLeftUnwired(t *testing.T) {
	// net/http can block between an answer's end and the idle state (a client that does
	// not read its answer, a trickled body, the half-close's wait). The thread the
	// goroutine let go of then runs other goroutines, and must not do so raised.
	p, _, base := raisedPriority(t)
	p.unwiredMax = time.Millisecond
	cp := placedConn(t, p)
	tid := answerAndHold(t, p, cp)
	waitFor(t, "the thread left unwired is lowered", func() bool {
		n, err := threadNice(tid)
		return err == nil && n == base && p.raisedThreads() == 0
	})
	// When the goroutine is wired again, its new thread is raised: no move, as the old
	// thread was no longer the connection's.
	again := make(chan int)
	go func() {
		p.wire(cp)
		again <- currentThread()
		p.unwire(cp)
	}()
	tid2 := <-again
	if tid2 == tid {
		t.Fatal("the goroutine was wired to the thread another one holds")
	}
	if m := p.moves.Load(); m != 0 {
		t.Errorf("%d moves counted, want none", m)
	}
	// Let go of again, that thread too is lowered in time.
	waitFor(t, "the thread left unwired the second time is lowered", func() bool {
		n, err := threadNice(tid2)
		return (err != nil || n == base) && p.raisedThreads() == 0
	})
}

func TestRaiseSweeperLowersStrays(t *testing.T) {
	// A thread the Go runtime clones from a raised thread while that runs unwired
	// inherits its nice value (clone(2)): after unwirings the sweeper lowers every thread
	// at request_nice that no connection holds, and leaves the held ones.
	p, raised, base := raisedPriority(t)
	p.unwiredMax = time.Hour
	p.sweepEvery = 10 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	swept := make(chan struct{})
	go func() { p.raiseSweeper(ctx); close(swept) }()
	defer func() { stop(); <-swept }()

	cp := placedConn(t, p)
	held := answerAndHold(t, p, cp) // raised, unwired, still the connection's
	t.Cleanup(func() { p.connState(cp.conn, http.StateClosed) })
	stray := strayThread(t, raised)
	p.sweepsDue.Store(2) // as after an unwiring (answerAndHold's came before the stray)
	waitFor(t, "the stray is lowered", func() bool {
		n, err := threadNice(stray)
		return err == nil && n == base
	})
	if n := niceOfTID(t, held); n != raised {
		t.Errorf("the connection's raised thread is at nice %d after the sweep, want %d", n, raised)
	}
}

func TestCloses(t *testing.T) {
	for _, tt := range []struct {
		h    http.Header
		want bool
	}{
		{http.Header{}, false},
		{http.Header{"Connection": {"close"}}, true},
		{http.Header{"Connection": {"keep-alive"}}, false},
		{http.Header{"Connection": {"Upgrade, Close"}}, true},
		{http.Header{"Connection": {"keep-alive", " close "}}, true},
		{http.Header{"Connection": {"closed"}}, false},
	} {
		if got := closes(tt.h); got != tt.want {
			t.Errorf("closes(%v) = %v, want %v", tt.h, got, tt.want)
		}
	}
}

func TestOnlyAClerksConnectionIsRaised(t *testing.T) {
	// Requests that prove no user (the login page, a wrong password, a stranger) take
	// no place among the raised connections and run at the normal priority.
	p, raised, base := raisedPriority(t)
	p.max.Store(1)
	url := niceServer(t, p)
	stranger := &http.Client{Transport: &http.Transport{}}
	defer stranger.CloseIdleConnections()
	for range 3 {
		if got := niceOf(t, stranger, url+"?anon"); got != base {
			t.Fatalf("a request of nobody answered at nice %d, want %d", got, base)
		}
	}
	if n := p.raisedConns(); n != 0 {
		t.Fatalf("%d raised connections after requests of nobody, want none", n)
	}
	// The one place is still free for a clerk.
	clerk := &http.Client{Transport: &http.Transport{}}
	defer clerk.CloseIdleConnections()
	if got := niceOf(t, clerk, url); got != raised {
		t.Errorf("a clerk's request answered at nice %d, want %d", got, raised)
	}
}

func TestUsersRequestsRaiseTheirConnection(t *testing.T) {
	// The real handler: the login page, a wrong password and a disabled user's token do
	// not raise their connection; a session's page and an API token do.
	raised := testNice(t)
	f := newFixture(t, fixtureOptions{})
	lookup := "/api/cases/" + f.ref("antrag")
	for _, tt := range []struct {
		name  string
		steps func(c *rawClient) // on one connection
		want  int                // raised connections after
	}{
		{"login page, lookup without a token", func(c *rawClient) {
			c.do("GET", "/login", "", nil, http.StatusOK)
			c.do("GET", lookup, "", nil, http.StatusUnauthorized)
		}, 0},
		{"wrong password", func(c *rawClient) {
			c.do("POST", "/login", "", url.Values{"name": {"erika"}, "password": {"falsch"}}, http.StatusOK)
		}, 0},
		{"disabled user's token", func(c *rawClient) {
			c.do("GET", lookup, f.token("gesperrt"), nil, http.StatusUnauthorized)
		}, 0},
		{"API token", func(c *rawClient) {
			c.do("GET", lookup, f.token("erika"), nil, http.StatusOK)
		}, 1},
		{"session", func(c *rawClient) {
			c.do("POST", "/login", "", url.Values{"name": {"erika"}, "password": {pwErika}}, http.StatusSeeOther)
			c.do("GET", "/", "", nil, http.StatusOK)
		}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newRequestPriority(raised, slog.New(slog.DiscardHandler))
			_, addr, _ := serveWith(t, p, f.h, nil)
			jar, _ := cookiejar.New(nil)
			c := &rawClient{t: t, base: "http://" + addr, c: &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 1},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
			defer c.c.CloseIdleConnections()
			tt.steps(c)
			if n := p.raisedConns(); n != tt.want {
				t.Fatalf("%d raised connections, want %d", n, tt.want)
			}
			if tt.want == 1 {
				waitingThread(t, p) // and its thread waits for the next request raised
			}
		})
	}
}

// rawClient sends requests to one server and checks their status.
type rawClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (c *rawClient) do(method, path, token string, form url.Values, want int) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
	}
}

func TestPasswordCheckRunsOffTheRaisedThread(t *testing.T) {
	// A raised connection stays raised for all its requests (behind a reverse proxy,
	// anyone's), so the password hash is computed on another goroutine, which cannot run
	// on the wired raised thread.
	p, raised, base := raisedPriority(t)
	p.unwiredMax = time.Hour
	cp := placedConn(t, p)
	type got struct{ wired, check int }
	done := make(chan got)
	go func() {
		p.wire(cp)
		defer p.unwire(cp)
		wired, _ := threadNice(currentThread())
		check, _ := checkOffRaisedThread(func() (int, error) { return threadNice(currentThread()) })
		done <- got{wired, check}
	}()
	g := <-done
	t.Cleanup(func() { p.connState(cp.conn, http.StateClosed) })
	if g.wired != raised {
		t.Fatalf("the wired goroutine's thread is at nice %d, want %d", g.wired, raised)
	}
	if g.check != base {
		t.Errorf("the password check ran at nice %d, want %d", g.check, base)
	}
}

func TestLateLoweringSparesAWiredThread(t *testing.T) {
	// The timer of an earlier unwiring may fire after the goroutine is wired again: it
	// must leave the thread raised.
	p, raised, _ := raisedPriority(t)
	p.unwiredMax = time.Hour
	cp := placedConn(t, p)
	tid, release, released := make(chan int), make(chan struct{}), make(chan struct{})
	go func() {
		p.wire(cp)
		tid <- currentThread()
		<-release
		p.unwire(cp)
		close(released)
	}()
	id := <-tid
	t.Cleanup(func() { close(release); <-released; p.connState(cp.conn, http.StateClosed) })
	p.lowerIfStillUnwired(cp)
	if n := niceOfTID(t, id); n != raised {
		t.Errorf("a wired connection's thread is at nice %d after a late timer, want %d", n, raised)
	}
}
