package intake

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/ticket"
)

// indexBatch is how many messages the indexer reads from the register and
// adds to the search index at once.
const indexBatch = 500

// indexer keeps the full-text index following the register. The index is
// derived data (DESIGN.md § Storage): it only ever catches up from the
// highest Seq it holds, so a crash, a broken index or a missing one costs a
// re-read, never a lost case, and never stops intake.
type indexer struct {
	store *ticket.Store
	ix    *search.Index
	log   *slog.Logger
	wake  chan struct{}
}

func newIndexer(store *ticket.Store, ix *search.Index, log *slog.Logger) *indexer {
	return &indexer{store: store, ix: ix, log: log.With("component", "search"), wake: make(chan struct{}, 1)}
}

func (x *indexer) poke() {
	select {
	case x.wake <- struct{}{}:
	default:
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
	}
}

// catchUp adds every registered message the index does not hold yet.
func (x *indexer) catchUp(stop context.Context) error {
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
			docs = append(docs, SearchDoc(x.store, it))
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

// SearchDoc builds the index document of a registered message; the text
// body is read again from the raw mail (bounded by mailparse's limits).
func SearchDoc(store *ticket.Store, it ticket.MessageItem) search.Doc {
	m := it.Message
	d := search.Doc{
		Seq: m.Seq, Reference: it.Case.Reference.String(), Mailbox: m.Mailbox,
		Kind: string(it.Case.Kind), Status: string(it.Case.Status),
		From: m.From, FromName: m.FromName, Subject: m.Subject, Attachments: m.Attachments, Received: m.Received,
	}
	if m.RawSHA256 == "" {
		return d
	}
	f, err := store.OpenRaw(m.RawSHA256)
	if err != nil {
		return d
	}
	defer f.Close()
	if p, err := mailparse.Parse(bufio.NewReaderSize(f, 32<<10), mailparse.Limits{}); err == nil {
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
