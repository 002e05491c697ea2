//go:build linux

package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/mailrig"
)

// TestRegisterKeptInMemoryByRunningDaemon: `intake serve` locks its register's pages
// (keep_register_in_memory, default true): the daemon's locked memory is what its log
// says it kept; keep_register_in_memory = false locks nothing.
func TestRegisterKeptInMemoryByRunningDaemon(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("locking memory beyond RLIMIT_MEMLOCK needs root (CI runs as root)")
	}
	rig := mailrig.StartT(t, mailrig.Options{Users: users()})
	kept := regexp.MustCompile(`register kept in memory.* bytes=(\d+)`)
	t.Run("default", func(t *testing.T) {
		cfgPath, _ := writeWebConfig(t, rig, "", "")
		d := startDaemon(t, cfgPath)
		waitUntil(t, 30*time.Second, func() bool { return kept.MatchString(d.log.String()) }, d)
		logged, _ := strconv.ParseInt(kept.FindStringSubmatch(d.log.String())[1], 10, 64)
		if logged == 0 {
			t.Errorf("kept 0 bytes in memory:\n%s", d.log)
		}
		// A remap right after the log line drops the locks until the next round (10 s).
		waitUntil(t, 30*time.Second, func() bool { return lockedMemory(t, d.cmd.Process.Pid) >= logged }, d)
		stopDaemon(t, d)
	})
	t.Run("off", func(t *testing.T) {
		cfgPath, _ := writeWebConfig(t, rig, "keep_register_in_memory = false\n", "")
		d := startDaemon(t, cfgPath)
		// The line the off branch logs: a daemon that ignored the key would never write
		// it (and might not have locked anything yet when asked).
		waitUntil(t, 30*time.Second, func() bool {
			return strings.Contains(d.log.String(), "register not kept in memory: keep_register_in_memory = false")
		}, d)
		waitUntil(t, 30*time.Second, func() bool { return strings.Contains(d.log.String(), "intake running") }, d)
		if got := lockedMemory(t, d.cmd.Process.Pid); got != 0 {
			t.Errorf("keep_register_in_memory = false, and the daemon has %d bytes locked", got)
		}
		stopDaemon(t, d)
		if strings.Contains(d.log.String(), "register kept in memory") {
			t.Errorf("keep_register_in_memory = false, and the log says it was kept:\n%s", d.log)
		}
	})
}

func stopDaemon(t *testing.T, d *daemon) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, d.log)
	}
}

// lockedMemory is VmLck of process pid (proc(5)), in bytes.
func lockedMemory(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmLck:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmLck %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmLck")
	return 0
}
