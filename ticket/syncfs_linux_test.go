package ticket

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

func TestKernelAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"5.8.0", true},
		{"5.8", true},
		{"5.7.19", false},
		{"4.18.0-553.el8_10.x86_64", false},
		{"5.10.0-28-amd64", true},
		{"6.1.0-18-amd64", true},
		{"6.18.44-fc-v1272", true},
		{"5.15rc1", true},
		{"10.0", true},
		{"5", false},
		{"", false},
		{"x.y", false},
		{"5.x", false},
	} {
		if got := kernelAtLeast(tc.release, 5, 8); got != tc.want {
			t.Errorf("kernelAtLeast(%q, 5, 8) = %v, want %v", tc.release, got, tc.want)
		}
	}
}

// TestSyncRawOneSyncfsPerBatch: on Linux 5.8 or later a batch of raw mails is made
// durable with one syncfs of raw/'s file system, not with an fsync per file and per
// directory (issue 12: two disk flushes per mail). A failed syncfs fails the batch and
// leaves the new directories to the next SyncRaw.
func TestSyncRawOneSyncfsPerBatch(t *testing.T) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !kernelAtLeast(release, 5, 8) {
		// syncfs reports no write-back errors before 5.8: SyncRaw fsyncs path by path
		// there (TestSyncRawDirectories).
		if s.syncFS != nil || s.rawFS != nil {
			t.Errorf("Open on Linux %s: syncfs, which reports no write-back error there", release)
		}
		return
	}
	if s.syncFS == nil || s.rawFS == nil {
		t.Fatalf("Open on Linux %s: no syncfs", release)
	}
	var paths, syncs atomic.Int32
	var fail atomic.Bool
	real := s.syncFS
	s.syncFS = func() error {
		syncs.Add(1)
		if fail.Load() {
			return errors.New("injected write-back error")
		}
		return real()
	}
	s.syncPath = func(path string) error {
		paths.Add(1)
		return fsyncPath(path)
	}
	var sums []string
	for i := range 32 {
		sum, _, err := s.StoreRawUnsynced(strings.NewReader(fmt.Sprintf("Antrag %d", i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sum)
	}
	if err := s.SyncRaw(); err != nil || syncs.Load() != 0 {
		t.Errorf("SyncRaw of nothing: %v, %d syncfs; want none", err, syncs.Load())
	}
	fail.Store(true)
	if err := s.SyncRaw(sums...); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Errorf("SyncRaw with syncfs failing: %v, want its error", err)
	}
	if n := len(s.newRawDirs); n == 0 {
		t.Error("a failed SyncRaw forgot the new directories")
	}
	fail.Store(false)
	syncs.Store(0)
	if err := s.SyncRaw(sums...); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() != 1 || paths.Load() != 0 {
		t.Errorf("SyncRaw of 32 mails: %d syncfs and %d fsyncs, want 1 and 0", syncs.Load(), paths.Load())
	}
	if n := len(s.newRawDirs); n != 0 {
		t.Errorf("after SyncRaw %d directories still count as new", n)
	}
	for _, sum := range sums {
		if _, err := os.Stat(filepath.Join(s.rawDir, sum[:2], sum)); err != nil {
			t.Errorf("raw mail %s: %v", sum, err)
		}
	}
}

// TestNoSyncHoldsNoFileSystem: with Options.NoSync the register syncs nothing and holds
// no descriptor for it.
func TestNoSyncHoldsNoFileSystem(t *testing.T) {
	s, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.syncFS != nil || s.rawFS != nil {
		t.Error("NoSync register holds a file system to sync")
	}
}
