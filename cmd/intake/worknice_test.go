//go:build linux

package main

import (
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/internal/worknice"
)

// TestWorkNiceAgainstRunningDaemon: `intake serve` with a web interface runs its mail work
// at work_nice and the thread that answers an open clerk's connection at web.request_nice
// (issue 12, clerks first); work_nice = 0 leaves the mail work at the nice value it was
// started with. Read per thread of /proc/PID/task (worknice.Threads), as ps -L shows it.
func TestWorkNiceAgainstRunningDaemon(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("raising a thread to nice -10 needs root (CI runs as root)")
	}
	// The daemon starts at the nice value of this test; work_nice = 0 leaves it there.
	start := threadNices(t, os.Getpid())[0]
	if start >= 10 {
		t.Skipf("the test runs at nice %d: work_nice 10 has nothing to lower", start)
	}
	rig := mailrig.StartT(t, mailrig.Options{Users: users()})
	for _, tc := range []struct {
		name     string
		top      string // prepended to the config file
		wantWork int
		wantLog  bool
	}{
		{"default", "", 10, true},
		{"work_nice 15", "work_nice = 15\n", 15, true},
		{"off", "work_nice = 0\n", start, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath, addr := writeWebConfig(t, rig, tc.top, "")
			d := startDaemon(t, cfgPath)
			// One kept-alive connection of a clerk (with an API token: only a user's
			// connection is raised): its thread stays raised while it is open.
			clerk := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer clerk.CloseIdleConnections()
			ask := func(path, token string) int {
				req, err := http.NewRequest("GET", "http://"+addr+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := clerk.Do(req)
				if err != nil {
					return 0
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			waitUntil(t, 30*time.Second, func() bool { return ask("/login", "") == http.StatusOK }, d)
			if raised := countAt(threadNices(t, d.cmd.Process.Pid), -10); raised != 0 {
				t.Errorf("%d threads at request_nice -10 after the login page alone, want none", raised)
			}
			if _, errOut, code := intakeCLIEnv(t, nil, "user", "add", "erika", "-role", "clerk", "-generate", "-config", cfgPath); code != 0 {
				t.Fatalf("user add: %s", errOut)
			}
			out, errOut, code := intakeCLIEnv(t, nil, "token", "create", "erika", "-config", cfgPath)
			token := regexp.MustCompile(`itk_[A-Za-z0-9_-]+`).FindString(out)
			if code != 0 || token == "" {
				t.Fatalf("token create: %s%s", out, errOut)
			}
			if st := ask("/api/cases", token); st != http.StatusOK {
				t.Fatalf("the clerk's request: %d", st)
			}
			// Between two answers the thread may move to another for a moment: wait for a
			// view of the threads with one raised, and check that one.
			var nices []int
			waitUntil(t, 30*time.Second, func() bool {
				nices = threadNices(t, d.cmd.Process.Pid)
				return countAt(nices, -10) == 1
			}, d)
			if got := strings.Contains(d.log.String(), "mail work runs below the clerks' requests"); got != tc.wantLog {
				t.Errorf("log says the mail work was lowered: %v, want %v\n%s", got, tc.wantLog, d.log)
			}
			raised, work, other := 0, 0, map[int]int{}
			for _, n := range nices {
				switch n {
				case -10:
					raised++
				case tc.wantWork:
					work++
				default:
					other[n]++
				}
			}
			if raised != 1 {
				t.Errorf("%d threads at request_nice -10 while one clerk's connection is open, want 1; nice values %v", raised, nices)
			}
			if work == 0 || len(other) > 0 {
				t.Errorf("threads at other nice values than %d (work) and -10 (clerk): %v; all: %v", tc.wantWork, other, nices)
			}
			d.cmd.Process.Signal(syscall.SIGTERM)
			if err := d.cmd.Wait(); err != nil {
				t.Fatalf("SIGTERM: %v\n%s", err, d.log)
			}
		})
	}
}

// countAt counts the values n in nices.
func countAt(nices []int, n int) int {
	c := 0
	for _, v := range nices {
		if v == n {
			c++
		}
	}
	return c
}

// threadNices returns the nice values of every thread of process pid, sorted.
func threadNices(t *testing.T, pid int) []int {
	t.Helper()
	nices, err := worknice.Threads(pid)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Values(nices))
}
