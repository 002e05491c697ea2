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

// The ack journal (issue 12). Recording every acknowledgement's in-flight mark and
// result in a bbolt transaction of its own cost two fsync'd commits per ack, taken
// while the responder's window (one ack at a time between the end of DATA and its
// record, issue 9) was held and while registration waited for bbolt's single writer.
// An AckBatch instead appends each mark and result as a line to a journal file of its
// own — a write(2) without fsync, which a kill -9 does not lose: the data is in the
// kernel's page cache — and Commit applies the whole batch in one transaction, one
// fsync. Open replays the journals a crash left behind before anything reads the
// outbox, so a killed daemon still repeats at most the one ack that was in flight.
//
// Only a power failure or kernel crash can lose a batch's journal; then the acks of
// that batch (at most ackBatch) that the server had accepted go out again, each with
// its stable Message-ID — every batch is durable before the next one starts.
//
// Records are idempotent: each carries the ack's attempt count when it was made and
// applies only while the ack is still pending with that count (a mark only when it is
// not already set to the same time). A journal replayed twice — a crash between
// Commit and the file's removal — therefore changes nothing the second time.

const journalDir = "ackjournal"

// journalRecord is one line of an ack journal: an in-flight mark (InFlight set) or a
// result (Result set) of message Seq's acknowledgement.
type journalRecord struct {
	Seq      uint64     `json:"seq"`
	Attempts int        `json:"attempts"`
	InFlight time.Time  `json:"in_flight,omitzero"`
	Result   *AckResult `json:"result,omitempty"`
}

// AckBatch records the acknowledgements one round of sends of a responder makes, over
// any number of connections: MarkSending and Record append to the batch's journal at
// once, Commit writes them all to the register. Safe for concurrent use.
type AckBatch struct {
	s    *Store
	name string // the journal file, created with the first record

	mu   sync.Mutex
	f    *os.File
	recs []journalRecord
	err  error // the first write error: Commit reports it
}

// NewAckBatch starts a batch of ack records.
func (s *Store) NewAckBatch() *AckBatch {
	return &AckBatch{s: s, name: filepath.Join(s.dir, journalDir, journalName(s.journalSeq.Add(1)))}
}

// MarkSending records, just before the end of the SMTP DATA of m's ack, that the ack
// is in flight (see Store.MarkSending); m is the message as DueAcks returned it.
// wasInFlight reports that it was in flight at a crash already: this send may repeat
// it.
func (b *AckBatch) MarkSending(m *Message, at time.Time) (wasInFlight bool, err error) {
	rec, err := markRecord(m, at)
	if err != nil {
		return false, err
	}
	if err := b.append(rec); err != nil {
		return false, fmt.Errorf("mark ack of message %d in flight: %w", m.Seq, err)
	}
	return !m.Ack.InFlight.IsZero(), nil
}

// RecordAndMarkSending records the result of done's ack and marks next's ack in flight
// (Record, then MarkSending) with one write(2) to the journal: a pipelined responder
// reads done's reply and next's envelope replies together, and writes next's end of data
// after both records (issue 12). A kill -9 leaves both lines or neither; with neither,
// done is still marked in flight and is the one ack a crash may repeat (invariant 3).
// On an error neither is recorded.
func (b *AckBatch) RecordAndMarkSending(done *Message, res AckResult, next *Message, at time.Time) (wasInFlight bool, err error) {
	result, err := resultRecord(done, res)
	if err != nil {
		return false, err
	}
	mark, err := markRecord(next, at)
	if err != nil {
		return false, err
	}
	if err := b.append(result, mark); err != nil {
		return false, fmt.Errorf("record ack of message %d and mark ack of message %d in flight: %w", done.Seq, next.Seq, err)
	}
	return !next.Ack.InFlight.IsZero(), nil
}

// markRecord is the journal line that marks m's ack in flight at at.
func markRecord(m *Message, at time.Time) (journalRecord, error) {
	if m.Ack.Status != AckPending {
		return journalRecord{}, fmt.Errorf("mark ack of message %d in flight: ack is %s: %w", m.Seq, m.Ack.Status, ErrNotPending)
	}
	return journalRecord{Seq: m.Seq, Attempts: m.Ack.Attempts, InFlight: at}, nil
}

// Record records the result of the attempt to send m's ack (see Store.RecordAck; only
// AckSent, AckFailed and AckPending).
func (b *AckBatch) Record(m *Message, res AckResult) error {
	rec, err := resultRecord(m, res)
	if err != nil {
		return err
	}
	if err := b.append(rec); err != nil {
		return fmt.Errorf("record ack of message %d: %w", m.Seq, err)
	}
	return nil
}

// resultRecord is the journal line of the result res of m's ack.
func resultRecord(m *Message, res AckResult) (journalRecord, error) {
	switch res.Status {
	case AckSent, AckFailed:
	case AckPending:
		if !validKeyTime(res.NextTry) {
			return journalRecord{}, fmt.Errorf("record ack of message %d: next try %v out of range", m.Seq, res.NextTry)
		}
	default:
		return journalRecord{}, fmt.Errorf("record ack of message %d: status %q in a batch", m.Seq, res.Status)
	}
	return journalRecord{Seq: m.Seq, Attempts: m.Ack.Attempts, Result: &res}, nil
}

// append writes recs to the journal, a line each, with one write(2).
func (b *AckBatch) append(recs ...journalRecord) error {
	var lines []byte
	for _, rec := range recs {
		line, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if lines == nil {
			lines = line // one record, as most are: no copy
		} else {
			lines = append(lines, line...)
		}
		lines = append(lines, '\n')
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	if b.f == nil {
		var err error
		if b.f, err = openJournal(b.name); err != nil {
			b.err = fmt.Errorf("ack journal: %w", err)
			return b.err
		}
	}
	// One write: a kill -9 leaves the lines whole or not at all in the page cache.
	if _, err := b.f.Write(lines); err != nil {
		b.err = fmt.Errorf("ack journal %s: %w", b.name, err)
		return b.err
	}
	b.recs = append(b.recs, recs...)
	return nil
}

// Results returns how many results were recorded since the last Commit.
func (b *AckBatch) Results() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, rec := range b.recs {
		if rec.Result != nil {
			n++
		}
	}
	return n
}

// Commit writes the batch's records to the register in one transaction and removes
// the batch's journal. Records that no longer apply (the ack was bounced, purged or
// recorded meanwhile) are skipped; skipped says how many. After Commit the batch is
// empty and can be used again.
func (b *AckBatch) Commit() (skipped int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.recs) > 0 {
		if skipped, err = b.s.applyJournal(b.recs); err != nil {
			return 0, fmt.Errorf("commit ack batch: %w", err)
		}
	}
	// A journal write that failed (its record is not in recs) is reported once.
	err = b.err
	b.recs = b.recs[:0]
	if b.f != nil {
		b.f.Close()
		b.f = nil
		if rerr := os.Remove(b.name); rerr != nil {
			// Replaying it again later changes nothing (records are idempotent).
			err = errors.Join(err, fmt.Errorf("remove ack journal: %w", rerr))
		}
	}
	b.err = nil
	return skipped, err
}

// applyJournal applies recs in order in one transaction.
func (s *Store) applyJournal(recs []journalRecord) (skipped int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, rec := range recs {
			applied, err := applyJournalRecord(tx, rec)
			if err != nil {
				return err
			}
			if !applied {
				skipped++
			}
		}
		return nil
	})
	return skipped, err
}

// applyJournalRecord applies rec if it still applies: the ack is pending with the
// attempt count rec was made at (and, for a mark, not marked at that time already).
func applyJournalRecord(tx *bolt.Tx, rec journalRecord) (bool, error) {
	m, err := getMessage(tx, rec.Seq)
	if errors.Is(err, ErrNotFound) {
		return false, nil // purged
	}
	if err != nil {
		return false, err
	}
	if m.Ack.Status != AckPending || m.Ack.Attempts != rec.Attempts {
		return false, nil
	}
	switch {
	case rec.Result != nil:
		return true, recordAck(tx, m, *rec.Result)
	case !rec.InFlight.IsZero():
		if m.Ack.InFlight.Equal(rec.InFlight) {
			return false, nil
		}
		_, err := markSending(tx, m, rec.InFlight)
		return true, err
	}
	return false, fmt.Errorf("ack journal record of message %d is empty", rec.Seq)
}

// replayAckJournals applies the journals a crash left in dir (oldest first) and
// removes them. A damaged line is an error naming the file: moving the file aside costs
// at most the repeat of the acks it recorded.
func (s *Store) replayAckJournals() (int, error) {
	dir := filepath.Join(s.dir, journalDir)
	names, err := listJournals(dir)
	if err != nil {
		return 0, fmt.Errorf("replay ack journals: %w", err)
	}
	total := 0
	for _, name := range names {
		path := filepath.Join(dir, name)
		recs, err := readJournal[journalRecord](path, "the acks it recorded may then be sent again")
		if err != nil {
			return total, fmt.Errorf("replay ack journals: %w", err)
		}
		if _, err := s.applyJournal(recs); err != nil {
			return total, fmt.Errorf("replay ack journal %s: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return total, fmt.Errorf("replay ack journal: %w", err)
		}
		total += len(recs)
	}
	return total, nil
}
