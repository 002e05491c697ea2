package ticket

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Deferred audit entries (issue 12). Every view of a case, search and download is audited
// before it is answered, and an entry of its own cost an fsync'd bbolt commit: on a busy
// disk (a drain registering beside it) that made GET /api/cases/REF wait 27–127 ms at p99
// for its own audit entry. AppendAuditDeferred instead writes the entry as a line of an
// audit journal (one write(2), no fsync: the kernel keeps it across a kill -9) and
// answers; the entries of the journal go into the register together, in one commit, at
// most auditFlushAfter later, before any read of the audit log (AuditLog), a backup and
// Close. Open commits the journals a crash left.
//
// A journal whose entries are committed is named in the auditjournal bucket in the same
// transaction and only then removed, so that a crash between the two cannot commit its
// entries twice. Only a power failure or kernel crash can lose the entries of the last
// auditFlushAfter. Changes (status, notes, users, tokens) are audited in the transaction
// of the change, as before.

const (
	auditJournalDir    = "auditjournal"
	bucketAuditJournal = "auditjournal" // file name -> "": journals already committed
	// auditFlushAfter is how long a deferred entry waits for the commit that takes it.
	auditFlushAfter = 100 * time.Millisecond
	// auditFlushMax pending entries make the next append commit at once.
	auditFlushMax = 1024
)

// auditQueue holds the deferred audit entries of a Store. The zero value is ready.
type auditQueue struct {
	flushMu sync.Mutex // one commit at a time, in order

	mu       sync.Mutex
	current  *auditJournal   // the journal being written
	spare    *auditJournal   // an empty journal, created by the last commit, for the next entry
	closed   []*auditJournal // written, not yet committed (a commit failed)
	timer    *time.Timer     // the flush scheduled for the pending entries
	removed  []string        // committed and removed journals: their names leave the bucket with the next commit
	files    uint64          // journals started, for their names
	flushErr error           // the last failure of a scheduled flush, for the next append
	shut     bool
	// flushAfter is auditFlushAfter, or a test's own (0: auditFlushAfter).
	flushAfter time.Duration
}

type auditJournal struct {
	name    string // file name in auditJournalDir
	f       *os.File
	entries []AuditEntry
}

// checkAuditEntry is what appendAudit requires of e before it truncates and writes it.
func checkAuditEntry(e *AuditEntry) error {
	switch {
	case e.Action == "" || len(e.Action) > maxAuditAction:
		return fmt.Errorf("audit action %q", e.Action)
	case e.Actor == "":
		return errors.New("audit entry without actor")
	case e.At.IsZero():
		return errors.New("audit entry without time")
	}
	return nil
}

// AppendAuditDeferred appends e to the audit log: when it returns, e is in the audit
// journal, and the register has it within auditFlushAfter (see above). At, Actor and
// Action are required; Seq is set when it is committed.
func (s *Store) AppendAuditDeferred(e AuditEntry) error {
	if err := checkAuditEntry(&e); err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	line = append(line, '\n')
	q := &s.audit
	q.mu.Lock()
	if q.shut {
		q.mu.Unlock()
		return errors.New("append audit entry: register closed")
	}
	if err := q.flushErr; err != nil {
		q.flushErr = nil
		q.mu.Unlock()
		return fmt.Errorf("append audit entry: an earlier commit failed: %w", err)
	}
	if q.current == nil {
		if q.current, q.spare = q.spare, nil; q.current == nil {
			q.files++
			j := &auditJournal{name: journalName(q.files)}
			if j.f, err = openJournal(filepath.Join(s.dir, auditJournalDir, j.name)); err != nil {
				q.mu.Unlock()
				return fmt.Errorf("append audit entry: %w", err)
			}
			q.current = j
		}
	}
	// One write: a kill -9 leaves the line whole or not at all.
	if _, err := q.current.f.Write(line); err != nil {
		q.mu.Unlock()
		return fmt.Errorf("append audit entry: audit journal: %w", err)
	}
	q.current.entries = append(q.current.entries, e)
	now := len(q.current.entries) >= auditFlushMax
	if q.timer == nil && !now {
		after := q.flushAfter
		if after == 0 {
			after = auditFlushAfter
		}
		q.timer = time.AfterFunc(after, func() {
			if err := s.FlushAudit(); err != nil {
				q.mu.Lock()
				q.flushErr = err
				q.mu.Unlock()
			}
		})
	}
	q.mu.Unlock()
	if now {
		return s.FlushAudit()
	}
	return nil
}

// FlushAudit commits the deferred audit entries now.
func (s *Store) FlushAudit() error { return s.flushAudit(true) }

// flushAudit is FlushAudit; with spare, a commit leaves an empty journal for the next
// entry. Creating a file takes a directory entry and an inode, for which the file system
// may wait on its journal: the clerk whose view of a case was the first entry after a
// commit waited up to 2.2 ms for it (issue 12). The flusher creates it instead.
func (s *Store) flushAudit(spare bool) error {
	q := &s.audit
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	q.mu.Lock()
	journals := q.closed
	if q.current != nil {
		journals = append(journals, q.current)
	}
	q.closed, q.current = nil, nil
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	removed := q.removed
	q.removed = nil
	q.mu.Unlock()
	if len(journals) == 0 && len(removed) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return commitAuditJournals(tx, journals, removed)
	})
	if err != nil {
		// Kept: the next flush tries again, and Open would replay the files.
		q.mu.Lock()
		q.closed = append(journals, q.closed...)
		q.removed = append(removed, q.removed...)
		q.mu.Unlock()
		return fmt.Errorf("commit audit entries: %w", err)
	}
	var done []string
	for _, j := range journals {
		j.f.Close()
		if err := os.Remove(filepath.Join(s.dir, auditJournalDir, j.name)); err == nil {
			done = append(done, j.name)
		}
		// A file left behind is skipped by Open: its name is in the bucket.
	}
	q.mu.Lock()
	q.removed = append(q.removed, done...)
	spare = spare && q.spare == nil && !q.shut && len(journals) > 0
	if spare {
		q.files++
	}
	n := q.files
	q.mu.Unlock()
	if spare {
		// Named after the journals just committed and before any later one: the order
		// of the names stays the order of the entries.
		j := &auditJournal{name: journalName(n)}
		f, err := openJournal(filepath.Join(s.dir, auditJournalDir, j.name))
		if err != nil {
			return nil // the next entry creates its journal itself
		}
		j.f = f
		q.mu.Lock()
		if q.shut || q.files != n {
			// Closed meanwhile, or an entry started a journal of its own after this
			// one was named: used later, this one would replay before it.
			q.mu.Unlock()
			removeJournal(s.dir, j)
			return nil
		}
		q.spare = j
		q.mu.Unlock()
	}
	return nil
}

// removeJournal closes and removes an empty journal.
func removeJournal(dir string, j *auditJournal) {
	j.f.Close()
	os.Remove(filepath.Join(dir, auditJournalDir, j.name))
}

// commitAuditJournals writes the entries of journals and names the journals as
// committed; the names of removed journals leave the bucket.
func commitAuditJournals(tx *bolt.Tx, journals []*auditJournal, removed []string) error {
	b, err := writeBucket(tx, bucketAuditJournal)
	if err != nil {
		return err
	}
	for _, name := range removed {
		if err := b.Delete([]byte(name)); err != nil {
			return fmt.Errorf("audit journal %s: %w", name, err)
		}
	}
	for _, j := range journals {
		for i := range j.entries {
			if err := appendAudit(tx, &j.entries[i]); err != nil {
				return err
			}
		}
		if err := b.Put([]byte(j.name), nil); err != nil {
			return fmt.Errorf("audit journal %s: %w", j.name, err)
		}
	}
	return nil
}

// closeAudit commits what is pending, refuses further deferred entries and removes the
// spare journal.
func (s *Store) closeAudit() error {
	err := s.flushAudit(false)
	q := &s.audit
	q.mu.Lock()
	q.shut = true
	spare := q.spare
	q.spare = nil
	q.mu.Unlock()
	if spare != nil {
		removeJournal(s.dir, spare)
	}
	return err
}

// replayAuditJournals commits the audit journals a crash left (oldest first), skipping
// those the bucket names as committed, removes them, and empties the bucket. A line cut
// short by the crash ends its journal.
func (s *Store) replayAuditJournals() error {
	dir := filepath.Join(s.dir, auditJournalDir)
	names, err := listJournals(dir)
	if err != nil {
		return fmt.Errorf("replay audit journals: %w", err)
	}
	var named bool
	if err := s.db.View(func(tx *bolt.Tx) error { named = bucket(tx, bucketAuditJournal) != nil; return nil }); err != nil {
		return fmt.Errorf("replay audit journals: %w", err)
	}
	if len(names) == 0 && !named {
		return nil // the common case: a clean stop
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := writeBucket(tx, bucketAuditJournal)
		if err != nil {
			return err
		}
		for _, name := range names {
			if b.Get([]byte(name)) != nil {
				continue
			}
			j, err := readAuditJournal(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			if err := commitAuditJournals(tx, []*auditJournal{j}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay audit journals: %w", err)
	}
	for _, name := range names {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("replay audit journals: %w", err)
		}
	}
	// All committed and removed: no name needs keeping.
	err = s.db.Update(func(tx *bolt.Tx) error {
		if bucket(tx, bucketAuditJournal) == nil {
			return nil
		}
		return tx.DeleteBucket([]byte(bucketAuditJournal))
	})
	if err != nil {
		return fmt.Errorf("replay audit journals: %w", err)
	}
	return nil
}

// readAuditJournal reads the complete lines of an audit journal.
func readAuditJournal(path string) (*auditJournal, error) {
	entries, err := readJournal[AuditEntry](path, "its entries are then not in the audit log")
	if err != nil {
		return nil, err
	}
	return &auditJournal{name: filepath.Base(path), entries: entries}, nil
}
