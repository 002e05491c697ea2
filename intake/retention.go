package intake

import (
	"context"
	"log/slog"
	"time"

	"github.com/intake-office/intake/ticket"
)

// Retention sweep timing: the first sweep a minute after start (so that a daemon
// restarted in a loop does not sweep in the loop), then daily.
const (
	retentionFirst = time.Minute
	retentionEvery = 24 * time.Hour
)

// SearchDeleter removes messages from the search index.
type SearchDeleter interface{ Delete(seqs ...uint64) error }

// RunRetention runs the daily retention sweep until ctx ends: ticket.Store.Purge with
// the retention per mailbox name (GDPR Art. 5(1)(e), domain-de.md § E), then removes
// the purged messages from the search index ix (nil = none). It logs counts only,
// never references, addresses or subjects. Without any retention it returns at once.
func RunRetention(ctx context.Context, store *ticket.Store, ix interface{ Delete(seqs ...uint64) error }, retention map[string]time.Duration, log *slog.Logger) {
	runRetention(ctx, store, ix, retention, log, retentionFirst, retentionEvery, time.Now)
}

func runRetention(ctx context.Context, store *ticket.Store, ix SearchDeleter, retention map[string]time.Duration,
	log *slog.Logger, first, every time.Duration, now func() time.Time) {
	active := false
	for _, d := range retention {
		active = active || d > 0
	}
	if !active {
		return
	}
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sweepRetention(store, ix, retention, log, now())
		t.Reset(every)
	}
}

func sweepRetention(store *ticket.Store, ix SearchDeleter, retention map[string]time.Duration, log *slog.Logger, now time.Time) {
	rep, err := store.Purge(now, retention, false)
	if err != nil {
		// Cases purged before the error are in rep; their index entries go below.
		log.Error("retention sweep failed", "err", err, "cases", len(rep.Cases))
	}
	if len(rep.Seqs) > 0 && ix != nil {
		if err := ix.Delete(rep.Seqs...); err != nil {
			log.Error("retention sweep: remove purged messages from the search index", "err", err, "messages", len(rep.Seqs))
		}
	}
	if err == nil {
		log.Info("retention sweep done", "cases", len(rep.Cases), "messages", len(rep.Seqs),
			"raw_deleted", rep.RawDeleted, "raw_shared", rep.RawShared)
	}
}
