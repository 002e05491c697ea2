package intake

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/ticket"
)

// indexBatch is how many messages the indexer reads from the register and
// adds to the search index at once. 200 rather than 500: after a drain the
// indexer adds batch after batch, and a bleve batch of 500 raised the
// daemon's peak RSS in a 1,000-mail drain from about 61 MB to about 80 MB
// (intake-bench drain -n 1000 -big 0) for no CPU saved.
const indexBatch = 200

// Pacing of the indexer while the watcher registers (issue 12): indexing is
// derived work and must not compete with registration and acknowledgements
// for the CPU, so the indexer waits for a pause in registration and then
// indexes all it missed in large batches.
const (
	// indexQuiet is the pause in registration the indexer waits for.
	indexQuiet = 250 * time.Millisecond
	// indexMaxWait is the longest it defers while registration goes on.
	indexMaxWait = 30 * time.Second
	// indexMaxTextBytes bounds the texts handed over by the watcher and held
	// until indexed; reaching it, the indexer works at once. Beyond it texts
	// are not held: the indexer reads those from the raw mail, as after a restart.
	indexMaxTextBytes = 16 << 20
)

// indexer keeps the full-text index following the register. The index is
// derived data (DESIGN.md § Storage): it only ever catches up from the
// highest Seq it holds, so a crash, a broken index or a missing one costs a
// re-read, never a lost case, and never stops intake.
type indexer struct {
	store *ticket.Store
	ix    *search.Index
	log   *slog.Logger
	wake  chan struct{}

	quiet, maxWait time.Duration
	// acksWaiting (nil: never) reports acknowledgements being sent: like
	// registration, they go before indexing.
	acksWaiting func() bool

	mu        sync.Mutex
	texts     map[uint64]string // body texts of the watcher's parse, by Seq, until indexed
	textBytes int
}

func newIndexer(store *ticket.Store, ix *search.Index, log *slog.Logger) *indexer {
	return &indexer{store: store, ix: ix, log: log.With("component", "search"), wake: make(chan struct{}, 1),
		quiet: indexQuiet, maxWait: indexMaxWait, texts: map[uint64]string{}}
}

func (x *indexer) poke() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// registered takes the texts of newly registered mails (by Seq) from the
// watcher's parse and wakes the indexer.
func (x *indexer) registered(texts map[uint64]string) {
	x.mu.Lock()
	for seq, text := range texts {
		if x.textBytes+len(text) > indexMaxTextBytes {
			break // read from the raw mail when indexed
		}
		if _, ok := x.texts[seq]; !ok {
			x.texts[seq] = text
			x.textBytes += len(text)
		}
	}
	x.mu.Unlock()
	x.poke()
}

// full reports whether the held texts reached their bound.
func (x *indexer) full() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.textBytes+64<<10 > indexMaxTextBytes
}

// text returns and forgets the held text of seq.
func (x *indexer) text(seq uint64) (string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	t, ok := x.texts[seq]
	if ok {
		delete(x.texts, seq)
		x.textBytes -= len(t)
	}
	return t, ok
}

// forgetUpTo drops held texts the index already has (a Seq at or below last).
func (x *indexer) forgetUpTo(last uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for seq, t := range x.texts {
		if seq <= last {
			delete(x.texts, seq)
			x.textBytes -= len(t)
		}
	}
}

func (x *indexer) run(stop context.Context) {
	for {
		if err := x.catchUp(stop); err != nil {
			x.log.Error("search index update failed; searching may miss new mail until it works again", "err", err)
		}
		select {
		case <-stop.Done():
			return
		case <-x.wake:
		case <-time.After(time.Minute):
		}
		x.settle(stop)
	}
}

// settle waits, after a wake, until registration pauses for quiet and no
// acknowledgements wait, the held texts reach their bound, or maxWait has
// passed: the indexer runs at a lower priority than the drain and catches up
// in large batches.
func (x *indexer) settle(stop context.Context) {
	if x.quiet <= 0 {
		return
	}
	deadline := time.NewTimer(x.maxWait)
	defer deadline.Stop()
	quiet := time.NewTimer(x.quiet)
	defer quiet.Stop()
	for !x.full() {
		select {
		case <-stop.Done():
			return
		case <-deadline.C:
			return
		case <-quiet.C:
			if x.acksWaiting == nil || !x.acksWaiting() {
				return
			}
			quiet.Reset(x.quiet)
		case <-x.wake: // registration goes on
			quiet.Reset(x.quiet)
		}
	}
}

// catchUp adds every registered message the index does not hold yet.
func (x *indexer) catchUp(stop context.Context) error {
	defer func() { x.forgetUpTo(x.ix.LastSeq()) }()
	for stop.Err() == nil {
		items, err := x.store.MessagesAfter(x.ix.LastSeq(), indexBatch)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		docs := make([]search.Doc, 0, len(items))
		for _, it := range items {
			if text, ok := x.text(it.Message.Seq); ok {
				docs = append(docs, SearchDocWithText(it, text))
			} else {
				docs = append(docs, SearchDoc(x.store, it))
			}
		}
		if err := x.ix.Add(docs...); err != nil {
			if errors.Is(err, search.ErrCorrupt) {
				x.log.Error("search index damaged: rebuilding it from the register", "err", err)
				return x.ix.Reset()
			}
			return err
		}
	}
	return nil
}

// SearchDocWithText builds the index document of a registered message whose
// body text is known (the watcher's parse).
func SearchDocWithText(it ticket.MessageItem, text string) search.Doc {
	m := it.Message
	return search.Doc{
		Seq: m.Seq, Reference: it.Case.Reference.String(), Mailbox: m.Mailbox,
		Kind: string(it.Case.Kind), Status: string(it.Case.Status),
		From: m.From, FromName: m.FromName, Subject: m.Subject, Attachments: m.Attachments, Received: m.Received,
		Body: text,
	}
}

// SearchDoc builds the index document of a registered message; the text
// body is read again from the raw mail (bounded by mailparse's limits).
func SearchDoc(store *ticket.Store, it ticket.MessageItem) search.Doc {
	d := SearchDocWithText(it, "")
	m := it.Message
	if m.RawSHA256 == "" {
		return d
	}
	f, err := store.OpenRaw(m.RawSHA256)
	if err != nil {
		return d
	}
	defer f.Close()
	if p, err := mailparse.Parse(f, mailparse.Limits{}); err == nil { // the parser buffers its reads
		d.Body = p.Text
	}
	return d
}

// SearchSource loads the current document of a message, for status updates.
func SearchSource(store *ticket.Store) search.Source {
	return func(seq uint64) (search.Doc, error) {
		m, ref, err := store.MessageBySeq(seq)
		if err != nil {
			return search.Doc{}, err
		}
		c, err := store.Lookup(ref)
		if err != nil {
			return search.Doc{}, err
		}
		c.Messages = nil
		return SearchDoc(store, ticket.MessageItem{Message: *m, Case: *c}), nil
	}
}

// Reindex empties the index and fills it again from the register.
func Reindex(ctx context.Context, store *ticket.Store, ix *search.Index) (int, error) {
	if err := ix.Reset(); err != nil {
		return 0, fmt.Errorf("reset search index: %w", err)
	}
	docs := func(yield func(search.Doc, error) bool) {
		var after uint64
		for {
			items, err := store.MessagesAfter(after, indexBatch)
			if err != nil {
				yield(search.Doc{}, err)
				return
			}
			if len(items) == 0 {
				return
			}
			for _, it := range items {
				if !yield(SearchDoc(store, it), nil) {
					return
				}
				after = it.Message.Seq
			}
		}
	}
	return ix.Fill(ctx, iter.Seq2[search.Doc, error](docs))
}
