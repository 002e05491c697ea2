//go:build linux

package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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

// niceServer serves, on a loopback port, the nice value of the thread that answers.
func niceServer(t *testing.T, p *requestPriority) string {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := threadNice(unix.Gettid())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, n)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(ln.Addr().String(), p, h, p.log)
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return "http://" + ln.Addr().String() + "/"
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

	// Beyond the bound a connection is answered at the normal priority.
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
