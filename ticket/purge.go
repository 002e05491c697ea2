package ticket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Lawful deletion (GDPR Art. 5(1)(e), domain-de.md § E): a closed case is kept for the
// retention of its mailbox, counted from the day it was closed (Case.StatusAt); then
// Purge deletes its raw mails, the personal data of its messages and its notes. The case
// stays as a minimal register entry (reference, mailbox, kind, status, dates, Purged) so
// that the numbering stays gapless and auditable. Each purged case gets a content-free
// entry in the deletion log:
//
//	purgelog  at(8) seq(8) -> PurgeLogEntry (JSON), created by the first write
//
// Purge works in three steps, each safe to repeat: (1) scrub the records in batches of
// purgeBatch cases, each batch one transaction that also writes the log and audit
// entries; (2) delete the raw files that purged messages name and no remaining message
// names; (3) clear the raw sums of the purged messages. A crash between the steps leaves
// purged messages that still name their raw sum; the next run finishes them.

// AuditPurge is the audit action of a case purged by Purge.
const AuditPurge = "purge"

// ReasonPurged is the suppression reason of an ack still pending when its case was purged.
const ReasonPurged = "PURGED"

// PurgeActor is the actor name of the audit entries Purge writes.
const PurgeActor = "system:retention"

const (
	bucketPurgeLog = "purgelog"
	purgeBatch     = 100
)

// PurgeReport is the result of Purge.
type PurgeReport struct {
	DryRun bool
	// Cases are the cases purged (dry run: that would be), in register order.
	Cases []Reference
	// Seqs are the messages of those cases, for removal from derived data such as the
	// search index.
	Seqs []uint64
	// RawDeleted counts the raw mail files deleted (dry run: that would be); RawShared
	// those kept because a message of a remaining case names the same file.
	RawDeleted int
	RawShared  int
}

// PurgeLogEntry is one entry of the deletion log. It holds no content: no addresses,
// no subjects, no file names.
type PurgeLogEntry struct {
	Seq       uint64    `json:"seq"` // set by the store, increasing
	At        time.Time `json:"at"`  // when the case was purged
	Reference Reference `json:"reference"`
	Mailbox   string    `json:"mailbox"`
	Kind      Kind      `json:"kind"`
	Created   time.Time `json:"created"`
	Closed    time.Time `json:"closed"` // Case.StatusAt: the retention counts from here
	Messages  int       `json:"messages"`
}

// purgeDue reports whether case c is due for purging at now.
func purgeDue(c *caseRecord, now time.Time, retention map[string]time.Duration) bool {
	ret := retention[c.Mailbox]
	return ret > 0 && c.Status == StatusClosed && !c.StatusAt.IsZero() && !c.StatusAt.Add(ret).After(now)
}

// hasPersonalData reports whether m holds anything scrubMessage removes.
func hasPersonalData(m *Message) bool {
	return m.From != "" || m.FromName != "" || len(m.To) > 0 || m.Subject != "" ||
		len(m.Attachments) > 0 || m.MessageID != "" || len(m.InReplyTo) > 0 ||
		len(m.References) > 0 || m.Malformed != "" || m.Ack.Recipient != "" ||
		m.Ack.Reply != "" || m.Ack.MessageID != "" || m.Ack.Status == AckPending ||
		m.VerifiedSender != ""
}

// Purge deletes the mails and personal data of every closed case whose mailbox has a
// retention (by mailbox name; none or 0 = keep forever) that ended at or before now,
// counted from Case.StatusAt. With dryRun nothing is changed and the report says what
// would be. Purge is idempotent: a purged case is not reported again, unless a message
// was attached to it after it was purged (that message is scrubbed, too).
func (s *Store) Purge(now time.Time, retention map[string]time.Duration, dryRun bool) (PurgeReport, error) {
	rep := PurgeReport{DryRun: dryRun}
	var due []Reference
	err := s.db.View(func(tx *bolt.Tx) error {
		return bucket(tx, bucketCases).ForEach(func(k, v []byte) error {
			var c caseRecord
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("decode case %x: %w", k, err)
			}
			if !purgeDue(&c, now, retention) {
				return nil
			}
			if c.Purged.IsZero() {
				due = append(due, c.Reference)
				return nil
			}
			for _, seq := range c.Seqs {
				m, err := getMessage(tx, seq)
				if err != nil {
					return err
				}
				if hasPersonalData(&m.Message) {
					due = append(due, c.Reference)
					break
				}
			}
			return nil
		})
	})
	if err != nil {
		return rep, fmt.Errorf("purge: find expired cases: %w", err)
	}
	if dryRun {
		err = s.db.View(func(tx *bolt.Tx) error {
			for _, ref := range due {
				c, err := getCase(tx, ref)
				if err != nil {
					return err
				}
				rep.Cases = append(rep.Cases, ref)
				rep.Seqs = append(rep.Seqs, c.Seqs...)
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("purge (dry run): %w", err)
		}
		pending, keep, err := s.pendingRaw(due)
		if err != nil {
			return rep, fmt.Errorf("purge (dry run): %w", err)
		}
		for sum := range pending {
			if keep[sum] {
				rep.RawShared++
			} else {
				rep.RawDeleted++
			}
		}
		return rep, nil
	}
	for batch := range slices.Chunk(due, purgeBatch) {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, ref := range batch {
				seqs, ok, err := purgeCase(tx, ref, now, retention)
				if err != nil {
					return fmt.Errorf("case %s: %w", ref, err)
				}
				if ok {
					rep.Cases = append(rep.Cases, ref)
					rep.Seqs = append(rep.Seqs, seqs...)
				}
			}
			return nil
		})
		if err != nil {
			// The batches before stay purged; report them with the error.
			return rep, fmt.Errorf("purge: %w", err)
		}
	}
	if rep.RawDeleted, rep.RawShared, err = s.purgeRaw(); err != nil {
		return rep, fmt.Errorf("purge: %w", err)
	}
	return rep, nil
}

// purgeCase scrubs case ref in tx if it is still due (a clerk may have reopened it since
// it was found) and writes its deletion log and audit entries.
func purgeCase(tx *bolt.Tx, ref Reference, now time.Time, retention map[string]time.Duration) ([]uint64, bool, error) {
	c, err := getCase(tx, ref)
	if err != nil {
		return nil, false, err
	}
	if !purgeDue(c, now, retention) {
		return nil, false, nil
	}
	if c.Sender != "" {
		if err := bucket(tx, bucketSender).Delete(senderKey(c.Sender, c.Created, ref)); err != nil {
			return nil, false, fmt.Errorf("sender index: %w", err)
		}
	}
	for _, seq := range c.Seqs {
		m, err := getMessage(tx, seq)
		if err != nil {
			return nil, false, err
		}
		if !hasPersonalData(&m.Message) {
			continue
		}
		if err := unindexMessage(tx, ref, &m.Message); err != nil {
			return nil, false, fmt.Errorf("message %d: %w", seq, err)
		}
		scrubMessage(&m.Message)
		if err := putMessage(tx, m); err != nil {
			return nil, false, err
		}
	}
	if err := deleteNotes(tx, ref); err != nil {
		return nil, false, err
	}
	if err := purgeSent(tx, c); err != nil {
		return nil, false, err
	}
	c.Sender, c.Subject = "", ""
	if c.Purged.IsZero() {
		c.Purged = now
	}
	if err := putCase(tx, c); err != nil {
		return nil, false, err
	}
	le := PurgeLogEntry{At: now, Reference: ref, Mailbox: c.Mailbox, Kind: c.Kind,
		Created: c.Created, Closed: c.StatusAt, Messages: len(c.Seqs)}
	if err := appendPurgeLog(tx, &le); err != nil {
		return nil, false, err
	}
	ae := Actor{Name: PurgeActor, At: now}.NewAuditEntry(AuditPurge, ref, fmt.Sprintf("%d messages", len(c.Seqs)))
	if err := appendAudit(tx, &ae); err != nil {
		return nil, false, err
	}
	return slices.Clone(c.Seqs), true, nil
}

// unindexMessage removes m from the msgid, dedupe, ackrate and outbox entries, which
// hold its Message-IDs and the ack recipient. The uid index (mailbox, UIDVALIDITY, UID)
// stays, so the watcher does not register the mail again while it is in the folder.
func unindexMessage(tx *bolt.Tx, ref Reference, m *Message) error {
	msgIDs := bucket(tx, bucketMsgID)
	for _, id := range []string{m.MessageID, m.Ack.MessageID} {
		if id == "" {
			continue
		}
		k := msgIDKey(m.Mailbox, id)
		if bytes.Equal(msgIDs.Get(k), refKey(ref)) {
			if err := msgIDs.Delete(k); err != nil {
				return fmt.Errorf("msgid index: %w", err)
			}
		}
	}
	dd := bucket(tx, bucketDedupe)
	for _, k := range [][]byte{dedupeKey(m), legacyDedupeKey(m)} {
		if k != nil && bytes.Equal(dd.Get(k), seqKey(m.Seq)) {
			if err := dd.Delete(k); err != nil {
				return fmt.Errorf("dedupe index: %w", err)
			}
		}
	}
	if err := deleteRateIndexes(tx, m); err != nil {
		return err
	}
	if m.Ack.Status == AckPending {
		if err := bucket(tx, bucketOutbox).Delete(outboxKey(m.Mailbox, m.Ack.NextTry, m.Seq)); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// scrubMessage clears the personal data of m; RawSHA256 is cleared by purgeRaw once the
// file is gone.
func scrubMessage(m *Message) {
	m.From, m.FromName, m.To, m.Subject = "", "", nil, ""
	m.VerifiedSender = ""
	m.Attachments, m.MessageID, m.InReplyTo, m.References = nil, "", nil, nil
	m.Malformed = ""
	m.Ack.Recipient, m.Ack.Reply, m.Ack.MessageID = "", "", ""
	if m.Ack.Status == AckPending {
		m.Ack.Status, m.Ack.Reason, m.Ack.NextTry = AckSuppressed, ReasonPurged, time.Time{}
	}
}

func deleteNotes(tx *bolt.Tx, ref Reference) error {
	b := bucket(tx, bucketNotes)
	if b == nil {
		return nil
	}
	prefix := refKey(ref)
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) == len(prefix)+8 {
			keys = append(keys, bytes.Clone(k))
		}
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("delete note %x: %w", k, err)
		}
	}
	return nil
}

func appendPurgeLog(tx *bolt.Tx, e *PurgeLogEntry) error {
	b, err := writeBucket(tx, bucketPurgeLog)
	if err != nil {
		return err
	}
	if e.Seq, err = b.NextSequence(); err != nil {
		return fmt.Errorf("deletion log sequence: %w", err)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode deletion log entry: %w", err)
	}
	if err := b.Put(append(timeKey(clampTime(e.At)), seqKey(e.Seq)...), v); err != nil {
		return fmt.Errorf("write deletion log entry: %w", err)
	}
	return nil
}

// pendingRaw returns the raw sums named by messages of purged cases (and of the cases
// in also, as if they were purged), with those messages, and which sums a message of a
// remaining case names.
func (s *Store) pendingRaw(also []Reference) (pending map[string][]uint64, keep map[string]bool, err error) {
	extra := map[Reference]bool{}
	for _, r := range also {
		extra[r] = true
	}
	pending, keep = map[string][]uint64{}, map[string]bool{}
	err = s.db.View(func(tx *bolt.Tx) error {
		purged := map[Reference]bool{}
		return bucket(tx, bucketMessages).ForEach(func(k, v []byte) error {
			var m messageRecord
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode message %x: %w", k, err)
			}
			if m.RawSHA256 == "" {
				return nil
			}
			p, ok := purged[m.Case]
			if !ok {
				c, err := getCase(tx, m.Case)
				if err != nil {
					return err
				}
				p = !c.Purged.IsZero() || extra[m.Case]
				purged[m.Case] = p
			}
			if p {
				pending[m.RawSHA256] = append(pending[m.RawSHA256], m.Seq)
			} else {
				keep[m.RawSHA256] = true
			}
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("find raw mails to delete: %w", err)
	}
	return pending, keep, nil
}

// purgeRaw deletes the raw files only purged messages name, then clears the raw sums of
// all purged messages (shared files stay for the cases that still name them).
func (s *Store) purgeRaw() (deleted, shared int, err error) {
	pending, keep, err := s.pendingRaw(nil)
	if err != nil {
		return 0, 0, err
	}
	if len(pending) == 0 {
		return 0, 0, nil
	}
	var seqs []uint64
	for sum, ss := range pending {
		seqs = append(seqs, ss...)
		if keep[sum] {
			shared++
			continue
		}
		if !validSum(sum) {
			continue
		}
		err := os.Remove(filepath.Join(s.rawDir, sum[:2], sum))
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, os.ErrNotExist): // deleted by an earlier, interrupted run
		default:
			return deleted, shared, fmt.Errorf("delete raw mail %s: %w", sum, err)
		}
	}
	slices.Sort(seqs)
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, seq := range seqs {
			m, err := getMessage(tx, seq)
			if err != nil {
				return err
			}
			m.RawSHA256 = ""
			if err := putMessage(tx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return deleted, shared, fmt.Errorf("forget deleted raw mails: %w", err)
	}
	return deleted, shared, nil
}

// PurgeLog returns the deletion log entries with since <= At < until (zero = open),
// oldest first.
func (s *Store) PurgeLog(since, until time.Time) ([]PurgeLogEntry, error) {
	var out []PurgeLogEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		b := bucket(tx, bucketPurgeLog)
		if b == nil {
			return nil
		}
		var hi []byte
		if !until.IsZero() {
			hi = timeKey(clampTime(until))
		}
		c := b.Cursor()
		for k, v := c.Seek(timeKey(clampTime(since))); k != nil; k, v = c.Next() {
			if hi != nil && bytes.Compare(k, hi) >= 0 {
				break
			}
			var e PurgeLogEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode deletion log entry %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read deletion log: %w", err)
	}
	return out, nil
}
