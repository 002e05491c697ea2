package search

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	berrors "go.etcd.io/bbolt/errors"
)

// Doc is one registered message as the index sees it.
type Doc struct {
	Seq         uint64 // the register's message Seq: the document ID (>= 1)
	Reference   string // case reference, e.g. "STK-2026-000042-6"
	Mailbox     string
	Kind        string // citizen | automated | malformed
	Status      string // new | in_progress | closed (of the case)
	From        string // address
	FromName    string
	Subject     string
	Body        string // plain text, already extracted (<= 64 KiB)
	Attachments []string
	Received    time.Time
}

// Source loads the current Doc of a message (by its Seq) from the register. Update needs
// it: bleve cannot change one field of a document, it always indexes a document whole, and
// the index does not store the text it would need for that.
type Source func(seq uint64) (Doc, error)

// Options for OpenWith. The zero value is valid.
type Options struct {
	Log    *slog.Logger // nil = discard
	Source Source       // nil = Update returns ErrNoSource
	// SkipChecksums skips the check of the CRC-32 of every segment file at Open (it reads
	// the whole index once; see BENCHMARKS for its cost). Without it, damage inside a
	// segment file goes unnoticed until a search returns wrong hits or fails.
	SkipChecksums bool
	// LockTimeout bounds the wait for the lock of an index another process (or another
	// Index of this process) holds; 0 = 1s. Then Open returns ErrLocked.
	LockTimeout time.Duration
}

// Errors; test with errors.Is.
var (
	// ErrLocked: another process (or another open Index) holds the index.
	ErrLocked = errors.New("search index is locked by another process")
	// ErrNotIndex: the directory exists and holds something that is not a search index;
	// Open does not touch it.
	ErrNotIndex = errors.New("directory is not a search index")
	// ErrCorrupt: the index failed while reading or writing (bleve panicked). Call Reset
	// and refill the index from the register.
	ErrCorrupt = errors.New("search index is damaged")
	// ErrNoSource: Update without Options.Source.
	ErrNoSource = errors.New("no document source for update")
	// ErrBadQuery: a Query field is out of range.
	ErrBadQuery = errors.New("bad search query")
)

// fillBatch is the batch size of Fill: 1,000 documents per bleve batch were as fast as
// 10,000 (BenchmarkIndex, 100,000 documents: 3,700-5,400 against 4,200 docs/s; 100 per
// batch: 3,100; one per batch: 350) and keep the memory of a batch small.
const fillBatch = 1000

// Index is the full-text index. Its methods are safe for concurrent use.
type Index struct {
	dir           string
	log           *slog.Logger
	source        Source
	lockTimeout   time.Duration
	skipChecksums bool
	expensive     float64 // defaultExpensive; tests lower it

	// wmu serialises writes (the LastSeq read-modify-write) and Reset. It is taken before mu.
	wmu     sync.Mutex
	lastSeq uint64 // guarded by wmu
	// stale (guarded by wmu): a batch failed to persist; the index is opened again from
	// disk before the next write (see runBatch).
	stale bool
	// newest is the latest Received ever added, Unix nanoseconds (0 = none), for the
	// windowed search (Result.TotalAtLeast). Deletes do not lower it.
	newest atomic.Int64

	// mu guards idx and rebuilt against Reset and Close (which take it exclusively).
	mu      sync.RWMutex
	idx     bleve.Index // nil after Close
	rebuilt bool
	// analyzers of the mapping by name, for queries
	analyzers map[string]analysis.Analyzer
}

// Open opens (or creates) the index in dir. A missing or unreadable/corrupt index (or one of
// another schema version) is moved aside (to dir+".broken", replacing an older one) and
// created empty; Rebuilt then reports true so that the caller reindexes. Open fails only
// when dir is locked (ErrLocked), holds something else (ErrNotIndex), or no index can be
// created there; intake must go on without search then.
func Open(dir string, log *slog.Logger) (*Index, error) {
	return OpenWith(dir, Options{Log: log})
}

// OpenWith is Open with options.
func OpenWith(dir string, opts Options) (*Index, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ix := &Index{dir: dir, log: log.With("index", dir), source: opts.Source,
		lockTimeout: opts.LockTimeout, skipChecksums: opts.SkipChecksums, expensive: defaultExpensive}
	if ix.lockTimeout <= 0 {
		ix.lockTimeout = time.Second
	}
	idx, reason, err := ix.openExisting()
	if err != nil {
		return nil, err
	}
	if idx == nil {
		if idx, err = ix.recreate(reason); err != nil {
			return nil, err
		}
		ix.rebuilt = true
	}
	if err := ix.attach(idx); err != nil {
		closeQuietly(idx, ix.log)
		return nil, err
	}
	return ix, nil
}

// runtimeConfig is handed to scorch on create and open.
func (ix *Index) runtimeConfig(readOnly bool) map[string]any {
	return map[string]any{"bolt_timeout": ix.lockTimeout.String(), "read_only": readOnly}
}

// openExisting opens the index in ix.dir. It returns (nil, "", nil) when there is none,
// (nil, reason, nil) when there is a damaged one, and an error only for what must stop Open.
func (ix *Index) openExisting() (bleve.Index, string, error) {
	entries, err := os.ReadDir(ix.dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, "", nil
	case err != nil:
		if fi, serr := os.Stat(ix.dir); serr == nil && !fi.IsDir() {
			return nil, "", fmt.Errorf("open search index %s: %w", ix.dir, ErrNotIndex)
		}
		return nil, "", fmt.Errorf("open search index %s: %w", ix.dir, err)
	case len(entries) == 0:
		return nil, "", nil
	}
	// Only a directory that looks like a bleve index may be moved aside: a mistyped path
	// must never make us move the register's data directory.
	looks := false
	for _, e := range entries {
		switch e.Name() {
		case "index_meta.json", "store":
			looks = true
		}
	}
	if !looks {
		return nil, "", fmt.Errorf("open search index %s: %w", ix.dir, ErrNotIndex)
	}

	// First read only: scorch silently falls back to an older snapshot when the latest
	// one cannot be loaded (persister.go, loadFromBolt: "unable to load snapshot ...,
	// continuing"), and a writable index soon deletes the failed snapshot. An index that
	// lost its latest state looks whole but is not; it is rebuilt like a damaged one.
	ro, err := protect(func() (bleve.Index, error) { return bleve.OpenUsing(ix.dir, ix.runtimeConfig(true)) })
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, "", fmt.Errorf("open search index %s: %w", ix.dir, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Sprintf("open: %v", err), nil
	}
	reason := checkLatest(ro, !ix.skipChecksums)
	if reason == "" {
		reason = check(ro)
	}
	closeQuietly(ro, ix.log)
	if reason != "" {
		return nil, reason, nil
	}

	idx, err := protect(func() (bleve.Index, error) { return bleve.OpenUsing(ix.dir, ix.runtimeConfig(false)) })
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, "", fmt.Errorf("open search index %s: %w", ix.dir, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Sprintf("open: %v", err), nil
	}
	if reason := check(idx); reason != "" {
		closeQuietly(idx, ix.log)
		return nil, reason, nil
	}
	return idx, "", nil
}

// checkLatest tells why the latest snapshot of a scorch index cannot be loaded or, with
// checksums, why one of its segment files fails its checksum ("" = all is well, or there is
// no snapshot yet).
func checkLatest(idx bleve.Index, checksums bool) string {
	_, err := protect(func() (struct{}, error) {
		adv, err := idx.Advanced()
		if err != nil {
			return struct{}{}, fmt.Errorf("scorch index: %w", err)
		}
		s, ok := adv.(*scorch.Scorch)
		if !ok {
			return struct{}{}, fmt.Errorf("index type %T, want scorch", adv)
		}
		epochs, err := s.RootBoltSnapshotEpochs() // newest first
		if err != nil {
			return struct{}{}, fmt.Errorf("list snapshots: %w", err)
		}
		if len(epochs) == 0 {
			return struct{}{}, nil
		}
		snap, err := s.LoadSnapshot(epochs[0])
		if err != nil {
			return struct{}{}, fmt.Errorf("load latest snapshot %d: %w", epochs[0], err)
		}
		defer snap.DecRef()
		if !checksums {
			return struct{}{}, nil
		}
		for _, seg := range snap.Segments() {
			if ps, ok := seg.Segment().(segment.PersistedSegment); ok {
				if err := verifySegment(ps.Path()); err != nil {
					return struct{}{}, err
				}
			}
		}
		return struct{}{}, nil
	})
	if err != nil {
		return err.Error()
	}
	return ""
}

// check tells why an opened index cannot be used ("" = it can): another schema version, or
// an error or panic while reading its document count, its internal keys or a document.
func check(idx bleve.Index) string {
	_, err := protect(func() (struct{}, error) {
		v, err := idx.GetInternal([]byte(keySchema))
		if err != nil {
			return struct{}{}, fmt.Errorf("read schema version: %w", err)
		}
		if string(v) != schemaVersion {
			return struct{}{}, fmt.Errorf("schema version %q, want %q", v, schemaVersion)
		}
		if _, err := idx.GetInternal([]byte(keyLastSeq)); err != nil {
			return struct{}{}, fmt.Errorf("read last seq: %w", err)
		}
		if _, err := idx.DocCount(); err != nil {
			return struct{}{}, fmt.Errorf("count documents: %w", err)
		}
		req := bleve.NewSearchRequestOptions(bleve.NewMatchAllQuery(), 1, 0, false)
		req.Fields = []string{fReference, fReceived}
		if _, err := idx.Search(req); err != nil {
			return struct{}{}, fmt.Errorf("read a document: %w", err)
		}
		return struct{}{}, nil
	})
	if err != nil {
		return err.Error()
	}
	return ""
}

// recreate moves a damaged index aside (reason != "") or removes an empty directory, and
// creates an empty index.
func (ix *Index) recreate(reason string) (bleve.Index, error) {
	if reason != "" {
		aside := ix.dir + ".broken"
		ix.log.Warn("search index unusable; moving it aside and starting an empty one (the caller reindexes)",
			"reason", reason, "aside", aside)
		if err := os.RemoveAll(aside); err != nil {
			return nil, fmt.Errorf("remove old %s: %w", aside, err)
		}
		if err := os.Rename(ix.dir, aside); err != nil {
			ix.log.Warn("cannot move damaged search index aside; removing it", "err", err)
			if err := os.RemoveAll(ix.dir); err != nil {
				return nil, fmt.Errorf("remove damaged search index %s: %w", ix.dir, err)
			}
		}
	} else {
		ix.log.Info("no search index; creating an empty one (the caller reindexes)")
		// An empty directory: bleve refuses to create an index in an existing path.
		if err := os.Remove(ix.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove empty %s: %w", ix.dir, err)
		}
	}
	m, err := newMapping()
	if err != nil {
		return nil, fmt.Errorf("create search index %s: %w", ix.dir, err)
	}
	idx, err := bleve.NewUsing(ix.dir, m, scorch.Name, scorch.Name, ix.runtimeConfig(false))
	if err != nil {
		return nil, fmt.Errorf("create search index %s: %w", ix.dir, err)
	}
	if err := idx.SetInternal([]byte(keySchema), []byte(schemaVersion)); err != nil {
		closeQuietly(idx, ix.log)
		return nil, fmt.Errorf("write schema version to %s: %w", ix.dir, err)
	}
	return idx, nil
}

// attach makes idx the index of ix (under ix.mu or before ix is shared).
func (ix *Index) attach(idx bleve.Index) error {
	m := idx.Mapping()
	analyzers := make(map[string]analysis.Analyzer)
	for _, name := range []string{keywordAnalyzer, deAnalyzer, filenameAnalyzer, senderAnalyzer} {
		a := m.AnalyzerNamed(name)
		if a == nil {
			return fmt.Errorf("search index %s: analyzer %q missing from mapping", ix.dir, name)
		}
		analyzers[name] = a
	}
	ix.analyzers = analyzers
	v, err := idx.GetInternal([]byte(keyLastSeq))
	if err != nil {
		return fmt.Errorf("search index %s: read last seq: %w", ix.dir, err)
	}
	ix.lastSeq = 0
	if len(v) == 8 {
		ix.lastSeq = binary.BigEndian.Uint64(v)
	}
	v, err = idx.GetInternal([]byte(keyNewest))
	if err != nil {
		return fmt.Errorf("search index %s: read newest: %w", ix.dir, err)
	}
	ix.newest.Store(0)
	if len(v) == 8 {
		ix.newest.Store(int64(binary.BigEndian.Uint64(v)))
	}
	ix.idx = idx
	return nil
}

// Rebuilt reports whether Open (or Reset) created the index empty (missing, damaged or of
// another schema version): the caller must then fill it from the register (Fill).
func (ix *Index) Rebuilt() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.rebuilt
}

// Reset throws the index away (moving it aside like Open does with a damaged one) and starts
// an empty one; Rebuilt then reports true. Use it after ErrCorrupt, or to force a rebuild.
func (ix *Index) Reset() error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.idx == nil {
		return fmt.Errorf("reset search index %s: %w", ix.dir, bleve.ErrorIndexClosed)
	}
	closeQuietly(ix.idx, ix.log)
	ix.idx = nil
	idx, err := ix.recreate("reset")
	if err != nil {
		return err
	}
	if err := ix.attach(idx); err != nil {
		closeQuietly(idx, ix.log)
		return err
	}
	ix.rebuilt = true
	return nil
}

// Close closes the index; it waits until everything added is persisted.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.idx == nil {
		return nil
	}
	idx := ix.idx
	ix.idx = nil
	if _, err := protect(func() (struct{}, error) { return struct{}{}, idx.Close() }); err != nil {
		return fmt.Errorf("close search index %s: %w", ix.dir, err)
	}
	return nil
}

// Count returns the number of documents in the index.
func (ix *Index) Count() (uint64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return 0, fmt.Errorf("count search index %s: %w", ix.dir, bleve.ErrorIndexClosed)
	}
	n, err := protect(ix.idx.DocCount)
	if err != nil {
		return 0, fmt.Errorf("count search index %s: %w", ix.dir, err)
	}
	return n, nil
}

// LastSeq returns the highest Seq ever given to Add (0 for an empty index). It is persisted
// atomically with the documents of the same Add, so after a crash the caller re-adds the
// messages with a higher Seq. It is a maximum, not a gapless watermark: a caller that adds
// out of Seq order must catch up from an earlier point.
func (ix *Index) LastSeq() uint64 {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	return ix.lastSeq
}

// Add indexes docs in one batch; a document with the Seq of an indexed one replaces it, so
// adding again is harmless. The documents are searchable when Add returns and persisted
// shortly after (see LastSeq).
func (ix *Index) Add(docs ...Doc) error {
	if len(docs) == 0 {
		return nil
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if err := ix.reopenIfStale(); err != nil {
		return fmt.Errorf("add to search index: %w", err)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return fmt.Errorf("add to search index %s: %w", ix.dir, bleve.ErrorIndexClosed)
	}
	b := ix.idx.NewBatch()
	last := ix.lastSeq
	newest := ix.newest.Load()
	for i := range docs {
		d := &docs[i]
		if d.Seq == 0 {
			return fmt.Errorf("add message %q to search index: seq 0", d.Reference)
		}
		doc, err := document(d, ix.analyzers)
		if err != nil {
			return fmt.Errorf("add to search index: %w", err)
		}
		if err := b.IndexAdvanced(doc); err != nil {
			return fmt.Errorf("index seq %d: %w", d.Seq, err)
		}
		last = max(last, d.Seq)
		newest = max(newest, clampTime(d.Received).UnixNano())
	}
	if last > ix.lastSeq {
		b.SetInternal([]byte(keyLastSeq), binary.BigEndian.AppendUint64(nil, last))
	}
	if newest > ix.newest.Load() {
		b.SetInternal([]byte(keyNewest), binary.BigEndian.AppendUint64(nil, uint64(newest)))
	}
	start := time.Now()
	if err := ix.runBatch(b); err != nil {
		return fmt.Errorf("add %d messages (seq %d...) to search index: %w", len(docs), docs[0].Seq, err)
	}
	ix.lastSeq = last
	ix.newest.Store(newest)
	ix.log.Debug("indexed", "docs", len(docs), "took", time.Since(start))
	return nil
}

// Fill adds every document of docs in batches of 1,000 (the rebuild from the register) and
// returns how many it added. It stops at the first error of docs or of the index, or when
// ctx is done; what was added until then stays.
func (ix *Index) Fill(ctx context.Context, docs iter.Seq2[Doc, error]) (int, error) {
	batch := make([]Doc, 0, fillBatch)
	n := 0
	flush := func() error {
		if err := ix.Add(batch...); err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	for d, err := range docs {
		if err != nil {
			return n, fmt.Errorf("fill search index after %d messages: %w", n, err)
		}
		batch = append(batch, d)
		if len(batch) == fillBatch {
			if err := ctx.Err(); err != nil {
				return n, fmt.Errorf("fill search index after %d messages: %w", n, err)
			}
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := flush(); err != nil {
		return n, err
	}
	return n, nil
}

// Update re-indexes the message seq with the case status status. Bleve indexes documents
// only whole, so Update loads the message from Options.Source (ErrNoSource without one) and
// indexes it again. It returns once the change is persisted.
func (ix *Index) Update(seq uint64, status string) error {
	if ix.source == nil {
		return fmt.Errorf("update seq %d in search index: %w", seq, ErrNoSource)
	}
	d, err := ix.source(seq)
	if err != nil {
		return fmt.Errorf("update seq %d in search index: load message: %w", seq, err)
	}
	d.Seq = seq
	d.Status = status
	return ix.durable(fmt.Sprintf("update seq %d in search index", seq), func(b *bleve.Batch) error {
		doc, err := document(&d, ix.analyzers)
		if err != nil {
			return err
		}
		return b.IndexAdvanced(doc)
	})
}

// Delete removes the messages seqs from the index (unknown ones are ignored). It returns
// once the change is persisted.
func (ix *Index) Delete(seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	return ix.durable(fmt.Sprintf("delete %d messages (seq %d...) from search index", len(seqs), seqs[0]), func(b *bleve.Batch) error {
		for _, seq := range seqs {
			b.Delete(docID(seq))
		}
		return nil
	})
}

// persistWait bounds how long durable waits for scorch's persister.
const persistWait = 30 * time.Second

// durable runs one batch filled by fill and waits until scorch has persisted it.
func (ix *Index) durable(what string, fill func(*bleve.Batch) error) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if err := ix.reopenIfStale(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return fmt.Errorf("%s: %w", what, bleve.ErrorIndexClosed)
	}
	b := ix.idx.NewBatch()
	if err := fill(b); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	persisted := make(chan error, 1)
	b.SetPersistedCallback(func(err error) { persisted <- err })
	if err := ix.runBatch(b); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	select {
	case err := <-persisted:
		if err != nil {
			return fmt.Errorf("%s: persist: %w", what, err)
		}
	case <-time.After(persistWait):
		// The change is searchable; only its persistence is late.
		ix.log.Warn("search index change not persisted in time", "what", what, "waited", persistWait)
	}
	return nil
}

// runBatch applies b; wmu and mu (read) are held. scorch puts a batch's new segment into
// its in-memory snapshot before it persists it; when persisting fails (a full disk), Batch
// returns the error and closes that segment although the snapshot still holds it (bleve
// v2.6.3 Scorch.Batch: newSegment.Close() after prepareSegment's persisted error), and
// zapx's SegmentBase.Close sets the segment's caches to nil maps, so the next batch panics
// with "assignment to entry in nil map" in invertedIndexCache.insertLOCKED (issue 9). After
// such an error the index is marked stale and opened again from disk before the next write:
// it then holds what was persisted, and LastSeq tells the caller where to resume.
func (ix *Index) runBatch(b *bleve.Batch) error {
	_, err := protect(func() (struct{}, error) { return struct{}{}, ix.idx.Batch(b) })
	if err != nil && !errors.Is(err, ErrCorrupt) {
		ix.stale = true
	}
	return err
}

// reopenIfStale opens the index again from disk after a failed write (see runBatch); wmu
// is held, mu is not.
func (ix *Index) reopenIfStale() error {
	if !ix.stale {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.idx != nil {
		closeQuietly(ix.idx, ix.log)
		ix.idx = nil
	}
	idx, err := protect(func() (bleve.Index, error) { return bleve.OpenUsing(ix.dir, ix.runtimeConfig(false)) })
	if err != nil {
		return fmt.Errorf("open search index %s again after a failed write: %w", ix.dir, err)
	}
	if err := ix.attach(idx); err != nil {
		closeQuietly(idx, ix.log)
		return err
	}
	ix.stale = false
	ix.log.Info("search index opened again after a failed write", "last_seq", ix.lastSeq)
	return nil
}

// protect runs f and turns a panic (bleve on damaged files) into an error wrapping
// ErrCorrupt.
func protect[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: panic: %v", ErrCorrupt, r)
		}
	}()
	return f()
}

func closeQuietly(idx bleve.Index, log *slog.Logger) {
	if _, err := protect(func() (struct{}, error) { return struct{}{}, idx.Close() }); err != nil {
		log.Warn("close search index", "err", err)
	}
}

// verifySegment checks the CRC-32 (IEEE) that a zap segment file ends with: it covers every
// byte before it (zapx write.go, persistFooter: "CRC-32 of everything upto but not including
// this CRC").
func verifySegment(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("verify segment: %w", err)
	}
	n := fi.Size() - 4
	if n < 0 {
		return fmt.Errorf("verify segment %s: %d bytes", path, fi.Size())
	}
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, n)); err != nil {
		return fmt.Errorf("verify segment %s: %w", path, err)
	}
	var want [4]byte
	if _, err := f.ReadAt(want[:], n); err != nil {
		return fmt.Errorf("verify segment %s: %w", path, err)
	}
	if got := h.Sum32(); got != binary.BigEndian.Uint32(want[:]) {
		return fmt.Errorf("segment %s: checksum %08x, footer says %08x", path, got, binary.BigEndian.Uint32(want[:]))
	}
	return nil
}
