//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestConfigCheckTellsWhetherTheRegisterCanBeKeptInMemory: `intake config check` (the
// unit's ExecStartPre, with the unit's rights) warns when keep_register_in_memory is on
// and the kernel would let intake lock less than its limit, and says what to set.
func TestConfigCheckTellsWhetherTheRegisterCanBeKeptInMemory(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run intake as another uid and to set its RLIMIT_MEMLOCK (CI runs as root)")
	}
	root, exe := binaryForAnyUser(t)
	secret := filepath.Join(root, "secret")
	if err := os.WriteFile(secret, []byte("s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := unitConfig(filepath.Join(root, "data"), secret)
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old) })
	const warn, ok = "WARN  register: keep_register_in_memory, but the kernel lets intake lock only", "ok    register: kept in memory up to"
	for _, tc := range []struct {
		name     string
		top      string
		memlock  uint64 // RLIMIT_MEMLOCK of the check (raising it past the hard limit would need CAP_SYS_RESOURCE)
		uid      uint32
		want, no []string
	}{
		{"unprivileged, 64 KiB", "", 64 << 10, unitUID, []string{warn, "0.1 MB", "LimitMEMLOCK=infinity"}, []string{ok}},
		{"root (CAP_IPC_LOCK), 64 KiB", "", 64 << 10, 0, []string{ok}, []string{warn}},
		{"off", "keep_register_in_memory = false\n", 64 << 10, unitUID, nil, []string{warn, ok}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(root, strings.ReplaceAll(tc.name, " ", "_")+".toml")
			if err := os.WriteFile(cfg, []byte(tc.top+base), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			lim := unix.Rlimit{Cur: tc.memlock, Max: old.Max}
			if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(exe, "config", "check", "-offline", "-config", cfg)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: tc.uid, Gid: tc.uid}}
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old)
			if err != nil {
				t.Fatalf("config check: %v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("config check lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.no {
				if strings.Contains(string(out), n) {
					t.Errorf("config check says %q:\n%s", n, out)
				}
			}
		})
	}
}
