package worknice

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The tests change the nice values of a whole process, so each runs Apply in a child: the
// test binary started again with childEnv naming what to do (TestMain).
const childEnv = "WORKNICE_TEST_CHILD"

// childReport is what a child prints.
type childReport struct {
	Err     string `json:"err,omitempty"`
	Refused bool   `json:"refused,omitempty"`
	Start   int    `json:"start"`   // nice value of the child's threads when it started
	Threads []int  `json:"threads"` // nice value of every thread after Apply
	// New are the nice values of threads created after Apply (ids not seen before), FromRaised
	// those of threads created while a thread raised to -10 asked for them.
	New        []int `json:"new"`
	FromRaised []int `json:"fromRaised"`
	RaisedTo   *int  `json:"raisedTo"` // a thread raised to -10 after Apply, nil if refused
}

func TestMain(m *testing.M) {
	if what := os.Getenv(childEnv); what != "" {
		os.Exit(runChild(what))
	}
	os.Exit(m.Run())
}

// runChild does what: "apply" = Apply(10, -10); "apply-walk" = the same, walking the threads
// instead of setting them all at once; "low-first" = lower every thread to 15, then
// Apply(10, -10); "off-work" = Apply(0, -10); "off-request" = Apply(10, 0).
func runChild(what string) int {
	var r childReport
	start, err := ThreadNice(unix.Gettid())
	if err != nil {
		fmt.Println(err)
		return 2
	}
	r.Start = start
	switch what {
	case "apply":
		err = Apply(10, -10)
	case "apply-walk":
		err = applyWith(10, -10, false)
	case "low-first":
		for range maxPasses * quietPasses {
			n, lerr := lowerAll(15)
			if lerr != nil {
				fmt.Println(lerr)
				return 2
			}
			if n == 0 {
				break
			}
		}
		err = Apply(10, -10)
	case "off-work":
		err = Apply(0, -10)
	case "off-request":
		err = Apply(10, 0)
	default:
		fmt.Println("unknown child", what)
		return 2
	}
	if err != nil {
		r.Err, r.Refused = err.Error(), errors.Is(err, ErrRaiseRefused)
	}
	nices, err := Threads(0)
	if err != nil {
		fmt.Println(err)
		return 2
	}
	r.Threads = slices.Collect(maps.Values(nices))
	r.New = newThreads(slices.Collect(maps.Keys(nices)), 8)
	// Threads asked for by a raised thread: the Go runtime clones them from its template
	// thread, never from a locked one, so none may inherit the -10.
	raised := make(chan []int)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), -10) != nil {
			raised <- nil
			return
		}
		nices, _ := Threads(0)
		raised <- newThreads(slices.Collect(maps.Keys(nices)), 4)
	}()
	r.FromRaised = <-raised
	if perr := probeRaise(-10); perr == nil {
		v := -10
		r.RaisedTo = &v
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// newThreads has len(known)+n goroutines each hold a thread of its own at once and returns
// the nice values of those threads whose ids are not in known (created for them). Idle
// threads the runtime kept are among known and may be taken first: asking for more threads
// than known has makes at least n new ones, so that an empty result is a failure, not luck.
func newThreads(known []int, n int) []int {
	n += len(known)
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		out     []int
		arrived int
	)
	release := make(chan struct{})
	for range n {
		wg.Go(func() {
			runtime.LockOSThread()
			tid := unix.Gettid()
			nice, _ := ThreadNice(tid)
			mu.Lock()
			if !slices.Contains(known, tid) {
				out = append(out, nice)
			}
			arrived++
			mu.Unlock()
			<-release // hold the thread until all have reported, so that no two share one
		})
	}
	for {
		mu.Lock()
		done := arrived == n
		mu.Unlock()
		if done {
			break
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	return out
}

// child runs the test binary as a child doing what, as user uid (-1 = this one).
func child(t *testing.T, what string, uid int) childReport {
	t.Helper()
	exe := os.Args[0]
	if uid >= 0 {
		exe = exeFor(t, uid)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+what)
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	out, err := cmd.Output()
	if errors.Is(err, fs.ErrPermission) {
		t.Skipf("user %d may not run the test binary's copy (a noexec or closed temp folder?): %v", uid, err)
	}
	if err != nil {
		t.Fatalf("child %s: %v\n%s", what, err, out)
	}
	var r childReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child %s: %v\n%s", what, err, out)
	}
	return r
}

// exeFor copies the test binary where user uid may run it (go test builds it in a folder
// only its owner may enter).
func exeFor(t *testing.T, uid int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "worknice-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "worknice.test")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// mayRaise reports whether this process may raise a thread to nice -10 (root, CAP_SYS_NICE
// or RLIMIT_NICE); the tests that need it run as root in CI.
func mayRaise(t *testing.T) {
	t.Helper()
	if err := probeRaise(-10); err != nil {
		t.Skipf("this process may not raise a thread to nice -10 (%v): run as root", err)
	}
}

func all(vals []int, want int) bool {
	for _, v := range vals {
		if v != want {
			return false
		}
	}
	return len(vals) > 0
}

// TestApplyLowersEveryThreadAndTheThreadsToCome runs Apply both ways: all threads at once
// (the world stopped; a binary without cgo) and the walk (with cgo, as under -race).
func TestApplyLowersEveryThreadAndTheThreadsToCome(t *testing.T) {
	mayRaise(t)
	for _, what := range []string{"apply", "apply-walk"} {
		t.Run(what, func(t *testing.T) {
			r := child(t, what, -1)
			if r.Err != "" {
				t.Fatalf("Apply: %s", r.Err)
			}
			if r.Start >= 10 {
				t.Skipf("the test runs at nice %d: nothing to lower to 10", r.Start)
			}
			if !all(r.Threads, 10) {
				t.Errorf("threads after Apply have nice %v, want all 10", r.Threads)
			}
			if !all(r.New, 10) {
				t.Errorf("threads created after Apply have nice %v, want all 10 (inherited; none new is a failure too)", r.New)
			}
			if !all(r.FromRaised, 10) {
				t.Errorf("threads created for a thread raised to -10 have nice %v, want all 10 (none new is a failure too)", r.FromRaised)
			}
			if r.RaisedTo == nil {
				t.Error("after Apply no thread could be raised to -10")
			}
		})
	}
}

func TestApplyNeverRaisesAThread(t *testing.T) {
	mayRaise(t)
	r := child(t, "low-first", -1)
	if r.Err != "" {
		t.Fatalf("Apply: %s", r.Err)
	}
	if r.Start > 15 {
		t.Skipf("the test runs at nice %d: it cannot lower to 15 first", r.Start)
	}
	if !all(r.Threads, 15) || !all(r.New, 15) {
		t.Errorf("threads at nice 15 before Apply(10) have %v, new ones %v: want all 15", r.Threads, r.New)
	}
}

func TestApplyOffChangesNothing(t *testing.T) {
	for _, what := range []string{"off-work", "off-request"} {
		t.Run(what, func(t *testing.T) {
			r := child(t, what, -1)
			if r.Err != "" {
				t.Fatalf("Apply: %s", r.Err)
			}
			if !all(r.Threads, r.Start) || !all(r.New, r.Start) {
				t.Errorf("threads %v, new ones %v: want all %d, the nice value the test started with", r.Threads, r.New, r.Start)
			}
		})
	}
}

// Without the right to raise a thread again, Apply must leave everything as it was: else the
// clerks' threads would stay down with the work.
func TestApplyChangesNothingWhenRaisingIsRefused(t *testing.T) {
	uid := -1
	if os.Getuid() == 0 {
		uid = 65534 // nobody: no CAP_SYS_NICE, RLIMIT_NICE 0 unless raised for the test run
	} else if probeRaise(-10) == nil {
		t.Skip("this user may raise threads: the refusal cannot be shown")
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NICE, &lim); err == nil && lim.Cur >= 30 {
		t.Skipf("RLIMIT_NICE %d lets every user raise to -10 here", lim.Cur)
	}
	r := child(t, "apply", uid)
	if !r.Refused {
		t.Fatalf("Apply as uid %d: err %q, want ErrRaiseRefused", uid, r.Err)
	}
	if !all(r.Threads, r.Start) || !all(r.New, r.Start) {
		t.Errorf("threads %v, new ones %v after a refused Apply: want all %d, the nice value the test started with", r.Threads, r.New, r.Start)
	}
}

func TestApplyRejectsValuesOutOfRange(t *testing.T) {
	for _, c := range []struct{ work, request int }{{20, -10}, {-1, -10}, {10, 1}, {10, -21}} {
		if err := Apply(c.work, c.request); err == nil || errors.Is(err, ErrRaiseRefused) {
			t.Errorf("Apply(%d, %d) = %v, want a range error", c.work, c.request, err)
		}
	}
}

// SetThreadNice changes a thread of this process and no other process's thread (a thread
// id of ours that ended may since name one).
func TestSetThreadNice(t *testing.T) {
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	pid := other.Process.Pid
	before, err := ThreadNice(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := SetThreadNice(pid, 19); !errors.Is(err, ErrThreadGone) {
		t.Errorf("another process's thread: err = %v, want ErrThreadGone", err)
	}
	if after, err := ThreadNice(pid); err != nil || after != before {
		t.Errorf("another process's thread went from nice %d to %d (%v)", before, after, err)
	}

	// One of ours, on a thread that ends with its goroutine (never unlocked; the main
	// thread would be parked instead), so that no other test runs on it lowered.
	type result struct {
		tid, want, got int
		err            error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		tid := unix.Gettid()
		was, err := ThreadNice(tid)
		want := min(was+1, 19) // lowering is always allowed
		if err == nil {
			err = SetThreadNice(tid, want)
		}
		got, _ := ThreadNice(tid)
		done <- result{tid, want, got, err}
	}()
	r := <-done
	if r.err != nil || r.got != r.want {
		t.Fatalf("our thread %d: nice %d, %v; want %d", r.tid, r.got, r.err, r.want)
	}
}
