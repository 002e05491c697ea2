//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/mailrig"
)

// TestWorkNiceAgainstRunningDaemon: `intake serve` with a web interface runs its mail work
// at work_nice and the thread that answers an open clerk's connection at web.request_nice
// (issue 12, clerks first); work_nice = 0 leaves the mail work at the nice value it was
// started with. Read from /proc, as an admin would with ps -L.
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
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			cfgPath := writeConfig(t, rig, t.TempDir(), "office-pass")
			text, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			text = fmt.Appendf([]byte(tc.top), "%s\n[web]\nlisten = %q\ncookie_secure = false\n", text, addr)
			if err := os.WriteFile(cfgPath, text, 0o600); err != nil {
				t.Fatal(err)
			}
			d := startDaemon(t, cfgPath)
			// One kept-alive connection: its thread stays raised while it is open.
			clerk := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer clerk.CloseIdleConnections()
			waitUntil(t, 30*time.Second, func() bool {
				resp, err := clerk.Get("http://" + addr + "/login")
				if err != nil {
					return false
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			}, d)
			if got := strings.Contains(d.log.String(), "mail work runs below the clerks' requests"); got != tc.wantLog {
				t.Errorf("log says the mail work was lowered: %v, want %v\n%s", got, tc.wantLog, d.log)
			}
			nices := threadNices(t, d.cmd.Process.Pid)
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

// threadNices returns the nice value of every thread of process pid: field 19 of
// /proc/PID/task/TID/stat (proc(5)), counted after the command name in parentheses,
// which may itself hold spaces.
func threadNices(t *testing.T, pid int) []int {
	t.Helper()
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			continue // the thread ended meanwhile
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		// fields[0] is field 3 (state), so field 19 (nice) is fields[16].
		n, err := strconv.Atoi(fields[16])
		if err != nil {
			t.Fatalf("%s: nice %q: %v", task.Name(), fields[16], err)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
