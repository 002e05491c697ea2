package ticket

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the version of the bucket layout this package writes and reads.
// Version 2 added the index bucket (status in place of created, ackrate, sent) and the
// settings bucket; version 3 the worklist bucket (counters and the assignee index, see
// worklist.go). Open migrates an older database in place (see migrate.go).
const SchemaVersion = 3

const (
	dbFile         = "intake.db"
	rawDir         = "raw"
	rawTempDir     = "tmp" // in raw/: where a raw mail is written before it is renamed to raw/<xx>/<sum>
	tmpPrefix      = "tmp-"
	tmpPattern     = tmpPrefix + "*"
	defaultTimeout = time.Second
)

// Bucket names (see doc.go for the key layout of each).
const (
	bucketMeta       = "meta"
	bucketCounters   = "counters"
	bucketCases      = "cases"
	bucketMessages   = "messages"
	bucketUID        = "uid"
	bucketDedupe     = "dedupe"
	bucketMsgID      = "msgid"
	bucketSender     = "sender"
	bucketOutbox     = "outbox"
	bucketWatermarks = "watermarks"
	// Schema version 2: index holds the status (in place of version 1's created), ackrate
	// and sent indexes (see keys.go).
	bucketIndex    = "index"
	bucketSettings = "settings"

	keySchema = "schema"
)

func allBuckets() []string {
	return []string{bucketMeta, bucketCounters, bucketCases, bucketMessages, bucketUID,
		bucketDedupe, bucketMsgID, bucketSender, bucketOutbox, bucketWatermarks,
		bucketIndex, bucketSettings, bucketWorklist}
}

// bucket returns a top-level bucket; initSchema has created all of them.
func bucket(tx *bolt.Tx, name string) *bolt.Bucket { return tx.Bucket([]byte(name)) }

// appendFill is the fill percent of the buckets whose new keys come after all the others:
// messages by Seq, cases by reference (prefix, year, running number), the audit log by time.
// bbolt splits a full page at half by default (bolt.DefaultFillPercent), and in a bucket
// that only ever grows at its end the first half then stays half empty for good: a register
// of a million cases took 4 GB for 2 GB of data, twice the disk, the page cache and the
// backup (issue 12; BENCHMARKS.md). The tenth left free lets an older record (a case whose
// status changes) grow before its page splits.
const appendFill = 0.9

// appendBucket is bucket for a write to one of those buckets in tx (see appendFill). bbolt
// keeps a bucket's handle for its transaction, and splits at the commit with the handle's
// fill percent.
func appendBucket(tx *bolt.Tx, name string) *bolt.Bucket {
	b := tx.Bucket([]byte(name))
	if b != nil {
		b.FillPercent = appendFill
	}
	return b
}

// Store is the register: a bbolt database plus a directory of raw mails named by their
// SHA-256. Its methods are safe for concurrent use.
type Store struct {
	db     *bolt.DB
	dir    string
	rawDir string
	// rawTempDir is raw/tmp/, where StoreRaw writes a mail before it has its name.
	rawTempDir string
	noSync     bool
	// journalSeq numbers the AckBatches (with the time, their journals' names).
	journalSeq atomic.Uint64
	// audit holds the deferred audit entries (auditjournal.go).
	audit auditQueue
	// inMemory is how much of the register KeepInMemory has locked (inmemory.go).
	inMemory atomic.Int64

	// RawPlacement is why Open could not mark raw/ as a top directory while it
	// made raw/tmp/ (asTopDir), or nil. The register works without the mark.
	RawPlacement error
	// MigrationBackup is the copy of the register Open made before it
	// migrated an older schema version ("" when nothing was migrated).
	MigrationBackup string

	// newRawDirs are the raw/<xx> directories whose entry in raw/ no SyncRaw has made
	// durable yet: those StoreRawUnsynced created, and raw/ itself from Open on, for
	// those an earlier process may have left so.
	newRawDirsMu sync.Mutex
	newRawDirs   map[string]bool
	// rawDirMade[xx] is set once raw/<xx> is known to exist: StoreRawUnsynced then makes
	// no mkdir(2) for it.
	rawDirMade [256]atomic.Bool
	// renameRaw is renameNoReplace; tests make it unsupported.
	renameRaw func(oldpath, newpath string) error
	// syncPath fsyncs a file or directory (fsyncPath); tests count the calls.
	syncPath func(path string) error
	// syncFS, when not nil, makes SyncRaw's batch durable with one syncfs(2) of raw/'s
	// file system instead of syncPath per file and directory (syncfs_linux.go); rawFS is
	// the descriptor it holds open.
	syncFS func() error
	rawFS  *os.File
	// copyBufs holds StoreRawUnsynced's spare copy buffers: one io.Copy buffer per
	// mail was about 15 % of what the drain allocated. (Not a sync.Pool, which the race
	// detector empties at random: the test that bounds the allocations runs with it.)
	copyBufs chan *[rawCopyBuffer]byte
}

const (
	// rawCopyBuffer is the size of StoreRawUnsynced's copy buffer, io.Copy's own.
	rawCopyBuffer = 32 << 10
	// spareCopyBuffers bounds the copy buffers kept between calls: one per mailbox
	// storing a mail at the same moment, the rest are made and dropped.
	spareCopyBuffers = 4
)

// Open opens (creating if needed) the register in dataDir: dataDir/intake.db and
// dataDir/raw/. Another process holding the database gives an error wrapping ErrLocked
// after opts.Timeout. A database written by a newer schema version is refused.
func Open(dataDir string, opts Options) (*Store, error) {
	raw := filepath.Join(dataDir, rawDir)
	if err := os.MkdirAll(raw, storeDirMode); err != nil {
		return nil, fmt.Errorf("open register: %w", err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	path := filepath.Join(dataDir, dbFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open register %s: %w (after %s)", path, ErrLocked, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open register %s: %w", path, err)
	}
	db.NoSync = opts.NoSync
	// An upgrade copies the register before it migrates it: the old
	// version's file stays beside it until an admin removes it.
	backup, err := backupBeforeMigration(db, dataDir)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open register %s: %w", path, err)
	}
	if err := db.Update(initSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open register %s: %w", path, err)
	}
	s := &Store{db: db, dir: dataDir, rawDir: raw, rawTempDir: filepath.Join(raw, rawTempDir), noSync: opts.NoSync, MigrationBackup: backup,
		newRawDirs: map[string]bool{raw: true}, syncPath: fsyncPath, renameRaw: renameNoReplace, copyBufs: make(chan *[rawCopyBuffer]byte, spareCopyBuffers)}
	// Before anything reads the outbox: the ack records a crash left in journals.
	if _, err := s.replayAckJournals(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open register %s: %w", path, err)
	}
	if err := s.replayAuditJournals(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open register %s: %w", path, err)
	}
	// With the database lock held, so that one process makes raw/tmp/; made by an
	// admin's command run as root, it gets raw/'s owner.
	placement, err := makeRawTempDir(raw)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open register: %w", err)
	}
	s.RawPlacement = placement
	if !s.noSync {
		if s.syncFS, s.rawFS, err = openFileSystemSync(raw); err != nil {
			db.Close()
			return nil, fmt.Errorf("open register: %w", err)
		}
	}
	// We hold the database lock, so no other process of ours is writing raw/ now:
	// temp files left in raw/tmp/ (or, by a version before it, in raw/) are from a crash.
	for _, dir := range []string{s.rawTempDir, raw} {
		if stale, err := filepath.Glob(filepath.Join(dir, tmpPattern)); err == nil {
			for _, f := range stale {
				os.Remove(f)
			}
		}
	}
	return s, nil
}

// makeRawTempDir makes raw/tmp/, where StoreRaw writes, with storeDirMode and raw/'s owner,
// while raw/ is marked as a top directory: raw/tmp/'s inodes, and so the raw mails', then
// usually lie in a block group of their own (asTopDir). Without the mark the register
// works all the same: its failure is returned as placement, not as err.
//
// The directory is made under a name no other has, raw/tmp-<random>, given its mode and
// owner, and then renamed to raw/tmp, so that raw/tmp never stands there half made. The
// rename keeps its inode, and so its group: the Orlov allocator counts from a group given
// by a hash of the new directory's name (asTopDir), and under the one name "tmp" every
// data directory on a file system got the same group, where a removed one had left the
// free inodes that ext4 without a journal makes each new raw mail walk past for minutes
// (BENCHMARKS.md, issue 12). A crash before the rename leaves an empty raw/tmp-<random>,
// which Open removes with the temp files (tmpPattern).
func makeRawTempDir(raw string) (placement, err error) {
	tmp := filepath.Join(raw, rawTempDir)
	if _, err := os.Stat(tmp); err == nil {
		return nil, nil
	}
	var made string
	placement, err = asTopDir(raw, func() error {
		var err error
		made, err = os.MkdirTemp(raw, tmpPrefix)
		return err
	})
	if err != nil {
		return placement, fmt.Errorf("make %s: %w", tmp, err)
	}
	if err := os.Chmod(made, storeDirMode); err != nil {
		os.Remove(made)
		return placement, fmt.Errorf("make %s: %w", tmp, err)
	}
	if err := ownLike(made, raw); err != nil {
		os.Remove(made)
		return placement, fmt.Errorf("make %s: %w", tmp, err)
	}
	// Open holds the register's lock and found no raw/tmp; os.Rename refuses an existing
	// directory all the same.
	if err := os.Rename(made, tmp); err != nil {
		os.Remove(made)
		return placement, fmt.Errorf("make %s: %w", tmp, err)
	}
	return placement, nil
}

// initSchema creates the buckets and the schema version of a new database, or checks the
// version of an existing one and migrates it to SchemaVersion, all in the caller's
// transaction: a failed migration leaves the database as it was.
func initSchema(tx *bolt.Tx) error {
	version := SchemaVersion // a new database
	if meta := bucket(tx, bucketMeta); meta != nil {
		raw := meta.Get([]byte(keySchema))
		v, err := strconv.Atoi(string(raw))
		if err != nil {
			return fmt.Errorf("schema version %q: %w", raw, err)
		}
		if v > SchemaVersion {
			return fmt.Errorf("schema version %d is newer than %d: use a newer intake", v, SchemaVersion)
		}
		if v < 1 {
			return fmt.Errorf("schema version %d: unknown", v)
		}
		version = v
	}
	for _, name := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	for ; version < SchemaVersion; version++ {
		if err := migrate(tx, version); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", version, version+1, err)
		}
	}
	// Within a schema version: the secret of the ack tags and the rate index layout.
	if err := ensureAckSecret(tx); err != nil {
		return err
	}
	if err := rebuildRateIndexes(tx); err != nil {
		return err
	}
	meta := bucket(tx, bucketMeta)
	want := []byte(strconv.Itoa(SchemaVersion))
	if bytes.Equal(meta.Get([]byte(keySchema)), want) {
		return nil
	}
	return meta.Put([]byte(keySchema), want)
}

// Close closes the database.
func (s *Store) Close() error {
	aerr := s.closeAudit()
	if s.rawFS != nil {
		s.rawFS.Close()
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close register: %w", err)
	}
	if aerr != nil {
		return fmt.Errorf("close register: %w", aerr)
	}
	return nil
}

// StoreRaw streams r into raw/tmp/tmp-*, hashing it with SHA-256, fsyncs the file, renames it to
// raw/<first 2 hex>/<64 hex> and fsyncs that directory. Identical content already stored is
// kept and its sum returned. With max > 0, more than max bytes give ErrTooLarge and nothing
// is kept.
func (s *Store) StoreRaw(r io.Reader, max int64) (sum string, size int64, err error) {
	sum, size, err = s.StoreRawUnsynced(r, max)
	if err != nil {
		return sum, size, err
	}
	return sum, size, s.SyncRaw(sum)
}

// StoreRawUnsynced is StoreRaw without the fsyncs: the caller makes the files
// durable with one SyncRaw for a whole batch before the commit that names
// them (the disk then flushes them together).
func (s *Store) StoreRawUnsynced(r io.Reader, max int64) (sum string, size int64, err error) {
	tmp, err := createTemp(s.rawTempDir, tmpPrefix)
	if err != nil {
		return "", 0, fmt.Errorf("store raw: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	src := r
	if max > 0 {
		src = io.LimitReader(r, max+1)
	}
	var buf *[rawCopyBuffer]byte
	select {
	case buf = <-s.copyBufs:
	default:
		buf = new([rawCopyBuffer]byte)
	}
	size, err = io.CopyBuffer(io.MultiWriter(tmp, h), src, buf[:])
	select {
	case s.copyBufs <- buf:
	default: // enough spares
	}
	if err != nil {
		return "", size, fmt.Errorf("store raw: copy: %w", err)
	}
	if max > 0 && size > max {
		return "", size, fmt.Errorf("store raw: more than %d bytes: %w", max, ErrTooLarge)
	}
	if err = tmp.Close(); err != nil {
		return "", size, fmt.Errorf("store raw: close: %w", err)
	}
	digest := h.Sum(nil)
	sum = hex.EncodeToString(digest)
	if err = s.placeRaw(tmp.Name(), sum, digest[0], size); err != nil {
		return "", size, err
	}
	return sum, size, nil
}

// placeRaw gives the raw file written to tmp its content-addressed name raw/<xx>/<sum>
// (first is the digest's first byte, xx). An identical file is kept; one of another size
// is what a power loss left of an earlier, unsynced write, and is replaced. In the common
// case — a new mail, its directory made before — that is one renameat2(2): no stat(2) of
// the name and no mkdir(2) of the directory first (issue 12).
func (s *Store) placeRaw(tmp, sum string, first byte, size int64) error {
	dir := filepath.Join(s.rawDir, sum[:2])
	final := filepath.Join(dir, sum)
	if err := s.makeRawDir(dir, first); err != nil {
		return fmt.Errorf("store raw %s: %w", sum, err)
	}
	err := s.moveRaw(tmp, final, size)
	if errors.Is(err, fs.ErrNotExist) {
		// raw/<xx> is gone (removed behind intake's back): make it again.
		s.rawDirMade[first].Store(false)
		if err := s.makeRawDir(dir, first); err != nil {
			return fmt.Errorf("store raw %s: %w", sum, err)
		}
		err = s.moveRaw(tmp, final, size)
	}
	if err != nil {
		return fmt.Errorf("store raw %s: %w", sum, err)
	}
	return nil
}

// moveRaw renames tmp to final, or removes tmp when final is there with size bytes.
func (s *Store) moveRaw(tmp, final string, size int64) error {
	err := s.renameRaw(tmp, final)
	if !errors.Is(err, fs.ErrExist) && !errors.Is(err, errNoReplace) {
		return err
	}
	if fi, statErr := os.Stat(final); statErr == nil && fi.Size() == size {
		os.Remove(tmp)
		return nil
	}
	return os.Rename(tmp, final)
}

// makeRawDir makes raw/<xx> unless this Store has made or found it before.
func (s *Store) makeRawDir(dir string, first byte) error {
	if s.rawDirMade[first].Load() {
		return nil
	}
	switch err := os.Mkdir(dir, storeDirMode); {
	case err == nil:
		// Its entry in raw/ must be made durable too (SyncRaw).
		s.newRawDirsMu.Lock()
		s.newRawDirs[dir] = true
		s.newRawDirsMu.Unlock()
	case errors.Is(err, fs.ErrExist):
	default:
		return err
	}
	s.rawDirMade[first].Store(true)
	return nil
}

// errNoReplace: the file system cannot rename without replacing (renameNoReplace).
var errNoReplace = errors.New("rename without replacing not supported")

// SyncRaw makes the named raw files and their directory entries durable. On Linux
// since 5.8 that is one syncfs(2) of raw/'s file system for the whole batch
// (syncfs_linux.go). Elsewhere the files, their raw/<xx> directories and — the first time,
// and when this process created a directory — raw/ itself are fsynced, all in parallel (a
// batch's directories one after another cost a disk flush each on the path of every
// registration).
func (s *Store) SyncRaw(sums ...string) error {
	if s.noSync || len(sums) == 0 {
		return nil
	}
	for _, sum := range sums {
		if !validSum(sum) {
			return fmt.Errorf("sync raw %q: not a SHA-256 hex sum", sum)
		}
	}
	s.newRawDirsMu.Lock()
	created := make([]string, 0, len(s.newRawDirs))
	for dir := range s.newRawDirs {
		created = append(created, dir)
	}
	s.newRawDirsMu.Unlock()
	if s.syncFS != nil {
		// The files and every directory entry, raw/'s own included, with one flush.
		if err := s.syncFS(); err != nil {
			return fmt.Errorf("sync raw: %w", err)
		}
		s.forgetNewRawDirs(created)
		return nil
	}
	paths := make([]string, 0, 2*len(sums)+1)
	dirs := map[string]bool{}
	for _, sum := range sums {
		dir := filepath.Join(s.rawDir, sum[:2])
		paths = append(paths, filepath.Join(dir, sum))
		if !dirs[dir] {
			dirs[dir] = true
			paths = append(paths, dir)
		}
	}
	if len(created) > 0 {
		paths = append(paths, s.rawDir)
	}
	errs := make(chan error, len(paths))
	sem := make(chan struct{}, 8)
	for _, path := range paths {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- s.syncPath(path)
		}()
	}
	var first error
	for range paths {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("sync raw: %w", first)
	}
	s.forgetNewRawDirs(created)
	return nil
}

// forgetNewRawDirs drops the directories a SyncRaw made durable from newRawDirs.
func (s *Store) forgetNewRawDirs(created []string) {
	s.newRawDirsMu.Lock()
	for _, dir := range created {
		delete(s.newRawDirs, dir)
	}
	s.newRawDirsMu.Unlock()
}

// fsyncPath makes a file's data, or a directory's entries, durable.
func fsyncPath(path string) error {
	f, err := openNoPoll(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// OpenRaw opens the raw mail with the given SHA-256 (64 lower-case hex digits). A sum not
// stored gives an error wrapping ErrNotFound.
func (s *Store) OpenRaw(sum string) (*os.File, error) {
	if !validSum(sum) {
		return nil, fmt.Errorf("open raw %q: not a SHA-256 hex sum: %w", sum, ErrNotFound)
	}
	f, err := openNoPoll(filepath.Join(s.rawDir, sum[:2], sum), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open raw %s: %w", sum, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open raw %s: %w", sum, err)
	}
	return f, nil
}

func validSum(sum string) bool {
	if len(sum) != sha256.Size*2 {
		return false
	}
	return strings.Trim(sum, "0123456789abcdef") == ""
}
