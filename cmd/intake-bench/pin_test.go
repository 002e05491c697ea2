package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// lockedKB reads VmLck of this process (proc(5)).
func lockedKB(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status here")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmLck:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("VmLck %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatal("no VmLck in /proc/self/status")
	return 0
}

func TestPinFile(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "register")
	if err := os.WriteFile(full, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	before := lockedKB(t)
	b, _, err := pinFile(full)
	if err != nil {
		t.Fatalf("pin a 1 MiB file: %v", err)
	}
	if len(b) != 1<<20 {
		t.Errorf("mapped %d bytes, want %d", len(b), 1<<20)
	}
	if got := lockedKB(t) - before; got < 1024 {
		t.Errorf("locked %d kB more, want the file's 1024", got)
	}
	if err := unix.Munmap(b); err != nil {
		t.Fatal(err)
	}
	if got := lockedKB(t) - before; got != 0 {
		t.Errorf("still %d kB more locked after the unmap", got)
	}

	if b, _, err := pinFile(empty); err != nil || b != nil {
		t.Errorf("empty file: %d bytes, %v; want nothing and no error", len(b), err)
	}
	if _, _, err := pinFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file pinned without an error")
	}
}
