package ticket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// lockedBytes is this process's locked memory (VmLck).
func lockedBytes(t *testing.T) int64 {
	t.Helper()
	n, err := lockedTotal()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// growRegister adds n bytes to the register in a bucket of its own, so that bbolt
// outgrows its mapping and maps the file anew.
func growRegister(t *testing.T, s *Store, n int) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("test-growth"))
		if err != nil {
			return err
		}
		return b.Put([]byte(strconv.Itoa(b.Stats().KeyN)), make([]byte, n))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func registerSize(t *testing.T, s *Store) (size int64) {
	t.Helper()
	if err := s.db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	return size
}

// needLockRight skips a test that locks n bytes where this process may not: without
// CAP_IPC_LOCK and with RLIMIT_MEMLOCK below n (CI runs as root, with it).
func needLockRight(t *testing.T, n int64) {
	t.Helper()
	allowed, err := MemoryLockAllowance()
	if err != nil {
		t.Fatal(err)
	}
	if allowed < n {
		t.Skipf("locking %d bytes needs CAP_IPC_LOCK or RLIMIT_MEMLOCK of that much (it allows %d)", n, allowed)
	}
}

// TestKeepInMemoryLocksTheRegisterAndFollowsItsRemaps: a round locks the whole register;
// a remap (the register grew past its mapping) takes the locks with the old mapping, and
// the next round locks the new mapping from its start.
func TestKeepInMemoryLocksTheRegisterAndFollowsItsRemaps(t *testing.T) {
	needLockRight(t, 16<<20)
	s := newTestStore(t)
	mustRegister(t, s, incoming(1, "mem1@example.org", t0))
	sys, err := memorySyscalls()
	if err != nil {
		t.Fatal(err)
	}
	m := &memoryLock{db: s.db, limit: 1 << 40, sys: sys}
	before := lockedBytes(t)
	if err := m.round(t.Context()); err != nil {
		t.Fatal(err)
	}
	size := registerSize(t, s)
	if m.locked != size {
		t.Errorf("locked %d bytes of a %d-byte register", m.locked, size)
	}
	if got := lockedBytes(t) - before; got != size {
		t.Errorf("VmLck grew by %d bytes, want the register's %d", got, size)
	}

	growRegister(t, s, 4<<20)
	if got := lockedBytes(t) - before; got >= size {
		t.Fatalf("after growing to %d bytes VmLck is still %d above the start: no remap, the test proves nothing", registerSize(t, s), got)
	}
	if err := m.round(t.Context()); err != nil {
		t.Fatal(err)
	}
	size = registerSize(t, s)
	if m.remaps == 0 {
		t.Error("the new mapping was not noticed")
	}
	if got := lockedBytes(t) - before; got != size || m.locked != size {
		t.Errorf("after the remap: VmLck grew by %d bytes, %d noted, want the register's %d", got, m.locked, size)
	}

	// Growth within the mapping is locked by the next round.
	growRegister(t, s, 64<<10)
	if err := m.round(t.Context()); err != nil {
		t.Fatal(err)
	}
	size = registerSize(t, s)
	if got := lockedBytes(t) - before; got != size {
		t.Errorf("after growing within the mapping: VmLck grew by %d bytes, want %d", got, size)
	}

	// Locks gone with the mapping unchanged, as after bbolt mapped the file anew at the
	// same address with the same length: the next round's check notices.
	remaps := m.remaps
	if err := unlockPages(m.base, m.locked); err != nil {
		t.Fatal(err)
	}
	if err := m.round(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m.remaps != remaps+1 {
		t.Error("locks lost under an unchanged mapping were not noticed")
	}
	if got := lockedBytes(t) - before; got != size {
		t.Errorf("after the locks were lost: VmLck grew by %d bytes, want %d", got, size)
	}
}

// logLines records the messages of a logger, and tells each to a channel.
type logLines struct {
	mu    sync.Mutex
	lines []slog.Record
	seen  chan string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logLines) WithGroup(string) slog.Handler            { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Clone())
	l.mu.Unlock()
	l.seen <- r.Message
	return nil
}

// TestKeepInMemoryStopsAtItsLimit: a register larger than the limit is locked up to the
// limit, with one warning, and KeepInMemory ends with its context.
func TestKeepInMemoryStopsAtItsLimit(t *testing.T) {
	needLockRight(t, 1<<20)
	s := newTestStore(t)
	growRegister(t, s, 1<<20)
	const limit = 64<<10 + 100 // rounded down to whole pages
	want := int64(limit - limit%os.Getpagesize())
	logs := &logLines{seen: make(chan string, 8)}
	ctx, cancel := context.WithCancel(t.Context())
	before := lockedBytes(t)
	ended := make(chan error, 1)
	go func() { ended <- s.KeepInMemory(ctx, MemoryOptions{Limit: limit, Log: slog.New(logs)}) }()
	if msg := <-logs.seen; msg != "register kept in memory" {
		t.Fatalf("first log line %q", msg)
	}
	if msg := <-logs.seen; !strings.HasPrefix(msg, "register larger than the memory it may keep") {
		t.Fatalf("second log line %q", msg)
	}
	if got := lockedBytes(t) - before; got != want {
		t.Errorf("VmLck grew by %d bytes, want the limit's %d", got, want)
	}
	if got := s.KeptInMemory(); got != want {
		t.Errorf("KeptInMemory = %d, want the limit's %d", got, want)
	}
	cancel()
	if err := <-ended; err != nil {
		t.Errorf("KeepInMemory after its context ended: %v", err)
	}
}

// TestKeepInMemoryRefused: without the right to lock (no CAP_IPC_LOCK, RLIMIT_MEMLOCK 0),
// KeepInMemory says so with ErrMemoryLockRefused instead of trying again and again.
func TestKeepInMemoryRefused(t *testing.T) {
	s := newTestStore(t)
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old); err != nil {
		t.Fatal(err)
	}
	zero := unix.Rlimit{Cur: 0, Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &zero); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old)
	ended := make(chan error, 1)
	go func() {
		// Capabilities belong to a thread: this one drops CAP_IPC_LOCK and, never
		// unlocked, ends with the goroutine.
		runtime.LockOSThread()
		if err := dropCapability(unix.CAP_IPC_LOCK); err != nil {
			ended <- err
			return
		}
		ended <- s.KeepInMemory(t.Context(), MemoryOptions{})
	}()
	err := <-ended
	if !errors.Is(err, ErrMemoryLockRefused) {
		t.Fatalf("KeepInMemory without the right to lock: %v, want ErrMemoryLockRefused", err)
	}
	if !strings.Contains(err.Error(), "LimitMEMLOCK") {
		t.Errorf("the error does not say what to change: %v", err)
	}
}

// dropCapability removes capability c from the calling thread's effective set.
func dropCapability(c uint) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[c/32].Effective &^= 1 << (c % 32)
	return unix.Capset(&hdr, &data[0])
}

func TestMappingLengthIn(t *testing.T) {
	const maps = `55d0c0000000-55d0c0200000 r-xp 00000000 fe:00 131 /usr/local/bin/intake
7f0000000000-7f0000100000 r--s 00000000 fe:00 4711 /var/lib/intake/intake.db
7f0000100000-7f0000800000 r--s 00100000 fe:00 4711 /var/lib/intake/intake.db
7f0000800000-7f0000900000 r--s 00000000 fe:00 4712 /var/lib/intake/index/seg.zap
7f0000a00000-7f0000b00000 r--s 00000000 fe:00 4711 /var/lib/intake/intake.db
7f0000b00000-7f0000c00000 r--s 00200000 fe:00 4711 /var/lib/intake/intake.db
7f0000c00000-7f0000d00000 rw-p 00000000 00:00 0
`
	tests := []struct {
		name string
		addr uint64
		want int64 // -1: an error
	}{
		{"locked part and the rest", 0x7f0000000000, 0x800000},
		{"from the middle of a mapping", 0x7f0000100000, 0x700000},
		{"another file right after", 0x7f0000800000, 0x100000},
		{"the next area skips in the file", 0x7f0000a00000, 0x100000},
		{"last line of the file's areas", 0x7f0000b00000, 0x100000},
		{"anonymous", 0x7f0000c00000, 0x100000},
		{"not mapped", 0x7f0000050000, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mappingLengthIn(strings.NewReader(maps), tt.addr)
			switch {
			case tt.want < 0 && err == nil:
				t.Errorf("got %#x, want an error", got)
			case tt.want >= 0 && (err != nil || got != tt.want):
				t.Errorf("got %#x, %v; want %#x", got, err, tt.want)
			}
		})
	}
	if _, err := mappingLengthIn(strings.NewReader("7f00-7e00 r--s 0 fe:00 1 x\n"), 0x7f00); err == nil {
		t.Error("an area that ends before it starts was accepted")
	}
}

// TestKeepInMemoryWhileTheRegisterGrows: KeepInMemory locking round after round while
// commits grow the register through several remaps never locks outside the mapping
// (mlock there fails with ENOMEM, which KeepInMemory would return), and follows the
// mapping to its end.
func TestKeepInMemoryWhileTheRegisterGrows(t *testing.T) {
	needLockRight(t, 32<<20)
	s := newTestStore(t)
	sys, err := memorySyscalls()
	if err != nil {
		t.Fatal(err)
	}
	m := &memoryLock{db: s.db, limit: 1 << 40, sys: sys}
	// The first mapping locked before the growth, so that the round after it has a
	// remap to notice whenever the goroutine's rounds ran.
	if err := m.round(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ended := make(chan error, 1)
	go func() { ended <- m.run(ctx, MemoryOptions{Every: time.Millisecond}) }()
	for range 48 { // 12 MiB: mapped anew at 16 MiB and every doubling below
		growRegister(t, s, 256<<10)
	}
	cancel()
	if err := <-ended; err != nil {
		t.Fatalf("KeepInMemory while the register grew: %v", err)
	}
	// After the growth, one more round locks the whole register.
	before := lockedBytes(t)
	locked := m.locked
	if err := m.round(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m.remaps == 0 {
		t.Error("no remap noticed while the register grew from 32 KiB to 12 MiB")
	}
	if size := registerSize(t, s); m.locked != size || lockedBytes(t)-before != size-locked {
		t.Errorf("after the growth: %d bytes noted locked, VmLck grew by %d from %d; want the register's %d", m.locked, lockedBytes(t)-before, locked, size)
	}
}

// TestKeepInMemoryRefusedUnlocks: a refusal after some chunks were locked unlocks them and
// the refused one, so that nothing stays locked that nobody keeps track of.
func TestKeepInMemoryRefusedUnlocks(t *testing.T) {
	needLockRight(t, 8<<20)
	s := newTestStore(t)
	growRegister(t, s, 4<<20)
	sys, err := memorySyscalls()
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	realLock := sys.lock
	sys.lock = func(addr uintptr, n int64) error {
		err := realLock(addr, n)
		if calls++; calls > 1 && err == nil {
			// As mlock(2) may fail: the range marked locked, its pages not all read in.
			return fmt.Errorf("%w: test", ErrMemoryLockRefused)
		}
		return err
	}
	before := lockedBytes(t)
	m := &memoryLock{db: s.db, limit: 1 << 40, sys: sys, kept: &s.inMemory}
	if err := m.round(t.Context()); !errors.Is(err, ErrMemoryLockRefused) {
		t.Fatalf("round with the second chunk refused: %v", err)
	}
	if calls != 2 {
		t.Fatalf("%d chunks tried, want 2", calls)
	}
	if got := lockedBytes(t) - before; got != 0 || m.locked != 0 || s.KeptInMemory() != 0 {
		t.Errorf("after the refusal: VmLck %d above the start, %d noted, KeptInMemory %d; want all 0", got, m.locked, s.KeptInMemory())
	}
}

func TestCgroupMemory(t *testing.T) {
	outside := t.TempDir()
	root := filepath.Join(outside, "cgroup")
	unit := filepath.Join(root, "system.slice", "intake.service")
	if err := os.MkdirAll(unit, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(dir, name, v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(root, "memory.max", "max")     // a cgroup v2 root has none; "max" is no limit
	write(outside, "memory.max", "1000") // not a cgroup: a walk that leaves root would read it
	write(outside, "memory.high", "1000")
	if err := os.MkdirAll(filepath.Join(outside, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(outside, "etc"), "memory.max", "1000")
	write(filepath.Join(root, "system.slice"), "memory.max", "8589934592")
	write(unit, "memory.max", "max")
	write(unit, "memory.high", "2147483648")
	tests := []struct {
		name, cgroup string
		want         int64
	}{
		{"the unit's memory.high", "0::/system.slice/intake.service\n", 2147483648},
		{"the slice's memory.max", "0::/system.slice\n", 8589934592},
		{"none set", "0::/\n", math.MaxInt64},
		{"cgroup v1 only", "12:memory:/system.slice/intake.service\n", math.MaxInt64},
		{"a path that leaves the root", "0::/../etc\n", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cgroupMemory(root, tt.cgroup); got != tt.want {
				t.Errorf("cgroupMemory(%q) = %d, want %d", tt.cgroup, got, tt.want)
			}
		})
	}
}
