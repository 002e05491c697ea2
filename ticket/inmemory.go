package ticket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Keeping the register in memory (issue 12). A clerk's GET /api/cases/REF reads two or
// three pages of the register through bbolt's read-only mapping of intake.db. On a
// machine that writes out file pages nobody touched for a while (Linux's DAMON pageout
// scheme, or plain memory pressure), the pages of an older case are on disk again, and
// the lookup waits for the disk: 0.1–1.9 major page faults per lookup at a million cases,
// and a handler p99 of 1.4–2.5 ms against 0.8–1.2 ms with the pages locked (BENCHMARKS.md).
//
// KeepInMemory locks the pages of bbolt's own mapping with mlock(2), so that the kernel
// cannot write them out. It works in the background, a chunk at a time, each chunk under
// a read transaction of its own: bbolt replaces its mapping (a remap) only when no read
// transaction is open, so the chunk being locked cannot be unmapped meanwhile, and a
// remap waits at most for one chunk (while it waits, new read transactions wait too: a
// sync.RWMutex lets no reader pass a waiting writer). A remap, which happens as the
// register grows to the end of its mapping, drops the locks with the old mapping. A step
// notices a new start of the mapping; a new length, or a new mapping of the same length
// at the same address (bbolt maps anew also when an allocation ends exactly at the
// mapping's end), is noticed at the start of the next round, which reads the mapping's
// length and asks the kernel how much the process has locked. Each round also locks what the register has grown by.
//
// This is bbolt's own mapping, not a second one: a second mapping of the file would count
// the register twice in intake's resident set. bbolt's Options.Mlock does the same
// locking, but all at once under the mapping's lock, at Open and at every remap: 33 s
// before a million-case register opened, and reads stalled 250–310 ms at each remap.
//
// Only KeepInMemory locks memory in intake: the locks the kernel counts are its own.

const (
	// memoryLockChunk is the most locked under one read transaction: 2 MiB, 20 ms on a
	// disk that reads 100 MB/s, the longest a remap (and the lookups behind it) waits.
	memoryLockChunk = 2 << 20
	// DefaultMemoryLockEvery is how often KeepInMemory locks what the register has grown
	// by, and checks that its locks are still there.
	DefaultMemoryLockEvery = 10 * time.Second
)

// MemoryOptions are KeepInMemory's settings.
type MemoryOptions struct {
	// Limit is the most of the register kept in memory, in bytes, counted from the
	// start of the file; 0 means MemoryLimit: a quarter of the memory intake may use.
	Limit int64
	// Every is how often the register's growth is locked; 0 means
	// DefaultMemoryLockEvery.
	Every time.Duration
	// Log gets one line when the register is first kept in memory, and a warning when
	// it is larger than Limit.
	Log *slog.Logger
}

// ErrMemoryLockRefused is wrapped by KeepInMemory's error when the kernel refuses to lock
// the register's pages: intake then runs as before, with the pages where the kernel
// puts them.
var ErrMemoryLockRefused = errors.New("the kernel refused to keep the register in memory (RLIMIT_MEMLOCK: LimitMEMLOCK= in the systemd unit, or keep_register_in_memory = false)")

// KeepInMemory keeps the register's pages in memory until ctx ends (see above). It
// returns nil when ctx ends, an error wrapping ErrMemoryLockRefused when the kernel
// refuses the locks, another error when it cannot tell what it locked (after an error
// what was locked is unlocked), and errors.ErrUnsupported where there is no mlock(2).
// The register must not be closed before it returns.
func (s *Store) KeepInMemory(ctx context.Context, o MemoryOptions) error {
	sys, err := memorySyscalls()
	if err != nil {
		return fmt.Errorf("keep the register in memory: %w", err)
	}
	if o.Limit <= 0 {
		if o.Limit, err = MemoryLimit(); err != nil {
			return fmt.Errorf("keep the register in memory: %w", err)
		}
	}
	m := &memoryLock{db: s.db, limit: o.Limit, sys: sys, kept: &s.inMemory}
	return m.run(ctx, o)
}

// run is KeepInMemory with its memoryLock.
func (m *memoryLock) run(ctx context.Context, o MemoryOptions) error {
	m.limit -= m.limit % int64(os.Getpagesize()) // whole pages
	if o.Every <= 0 {
		o.Every = DefaultMemoryLockEvery
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(o.Every)
	defer tick.Stop()
	start := time.Now()
	var told, toldLimit bool
	for {
		if err := m.round(ctx); err != nil {
			return fmt.Errorf("keep the register in memory: %w", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		if !told {
			told = true
			o.Log.Info("register kept in memory", "bytes", m.locked, "took", time.Since(start).Round(time.Millisecond))
		}
		if m.size > m.limit && !toldLimit {
			toldLimit = true
			o.Log.Warn("register larger than the memory it may keep: the rest stays where the kernel puts it",
				"register_bytes", m.size, "kept_bytes", m.locked, "limit_bytes", m.limit)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// KeptInMemory returns how many bytes of the register KeepInMemory has locked in memory:
// 0 before it starts, when it is off or refused; after a remap the old figure until a
// step notices it.
func (s *Store) KeptInMemory() int64 { return s.inMemory.Load() }

// memoryLock is KeepInMemory's state: how much of which mapping is locked.
type memoryLock struct {
	db    *bolt.DB
	limit int64
	sys   memorySys
	kept  *atomic.Int64 // locked, for KeptInMemory; nil: not told

	base   uintptr // start of the mapping locked
	mapped int64   // its length
	locked int64   // bytes locked from base
	size   int64   // the register's size at the last step
	remaps int     // new mappings noticed after the first
}

// memorySys is the kernel's side: memorySyscalls, or a test's.
type memorySys struct {
	// mappingLength returns the length of the mapping that starts at addr.
	mappingLength func(addr uintptr) (int64, error)
	// lockedTotal returns how much memory the process has locked (VmLck): as only
	// KeepInMemory locks memory in intake, less than it locked means its locks are gone.
	lockedTotal func() (int64, error)
	// lock reads in and locks n bytes at addr (page-aligned); unlock unlocks them.
	lock, unlock func(addr uintptr, n int64) error
}

// round locks chunks until the register, up to the limit, is locked, or ctx ends. Its
// first step checks that what is noted as locked still is.
func (m *memoryLock) round(ctx context.Context) error {
	for first := true; ctx.Err() == nil; first = false {
		done, err := m.step(first)
		if err != nil || done {
			return err
		}
	}
	return nil
}

// step locks the next chunk under a read transaction, which keeps bbolt from remapping
// meanwhile. A mapping other than the one locked so far (another start, or with check
// another length), or, with check, one whose locks are gone, is locked from its start
// again. On an error it
// unlocks what it had locked, so that nothing stays locked that nobody keeps track of.
func (m *memoryLock) step(check bool) (done bool, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		base := m.db.Info().Data
		d, failed, err := m.lockNext(tx, base, check)
		done = d
		if err != nil && base == m.base {
			// A mapping with the same start is as long or longer (bbolt's remaps
			// never shrink it): the range is inside it. The failed chunk is unlocked
			// too: mlock(2) may fail after it marked the range locked.
			if uerr := m.sys.unlock(base, m.locked+failed); uerr == nil {
				m.setLocked(0)
			}
		}
		return err
	})
	return done, err
}

// lockNext is step's work in tx. failed is the length of the chunk whose lock failed.
func (m *memoryLock) lockNext(tx *bolt.Tx, base uintptr, check bool) (done bool, failed int64, err error) {
	// The mapping's length only on a round's first step or a new start: a remap in the
	// middle of a round that keeps the start is noticed by the next round's check.
	mapped := m.mapped
	if check || base != m.base {
		var err error
		if mapped, err = m.sys.mappingLength(base); err != nil {
			return false, 0, err
		}
	}
	fresh := base != m.base || mapped != m.mapped
	if !fresh && check && m.locked > 0 {
		total, err := m.sys.lockedTotal()
		if err != nil {
			return false, 0, err
		}
		fresh = total < m.locked
	}
	if fresh {
		if m.base != 0 {
			m.remaps++
		}
		m.base, m.mapped = base, mapped
		m.setLocked(0)
	}
	m.size = tx.Size()
	want := min(m.size, m.limit, m.mapped)
	if m.locked >= want {
		return true, 0, nil
	}
	n := min(int64(memoryLockChunk), want-m.locked)
	if err := m.sys.lock(base+uintptr(m.locked), n); err != nil {
		return false, n, err
	}
	m.setLocked(m.locked + n)
	return false, 0, nil
}

func (m *memoryLock) setLocked(n int64) {
	m.locked = n
	if m.kept != nil {
		m.kept.Store(n)
	}
}
