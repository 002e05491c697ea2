package ticket

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DueAcks returns up to limit (0 = all) pending acks of mailbox whose NextTry is not after
// now, the earliest first.
func (s *Store) DueAcks(mailbox string, now time.Time, limit int) ([]OutboxEntry, error) {
	return s.DueAcksExcept(mailbox, now, limit, nil)
}

// DueAcksExcept is DueAcks without the acks of the messages skip reports (nil skips
// none); they neither count towards limit nor are read. A responder's pipelined burst
// takes more acks with it as they become due: those it took already are still pending in
// the register until their batch is committed.
func (s *Store) DueAcksExcept(mailbox string, now time.Time, limit int, skip func(seq uint64) bool) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := join([]byte(mailbox), nil)
		c := bucket(tx, bucketOutbox).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			nextTry, seq, err := parseOutboxKey(k, len(prefix))
			if err != nil {
				return err
			}
			if nextTry.After(now) {
				break
			}
			if skip != nil && skip(seq) {
				continue
			}
			m, err := getMessage(tx, seq)
			if err != nil {
				return err
			}
			cr, err := getCase(tx, m.Case)
			if err != nil {
				return err
			}
			out = append(out, OutboxEntry{Reference: m.Case, Case: cr.toCase(), Message: m.Message,
				FollowUp: len(cr.Seqs) > 0 && cr.Seqs[0] != seq})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due acks of %s: %w", mailbox, err)
	}
	return out, nil
}

func parseOutboxKey(k []byte, prefixLen int) (time.Time, uint64, error) {
	if len(k) != prefixLen+17 {
		return time.Time{}, 0, fmt.Errorf("outbox key %x", k)
	}
	return parseTimeKey(k[prefixLen : prefixLen+8]), binary.BigEndian.Uint64(k[prefixLen+9:]), nil
}

// NextAckDue returns the earliest NextTry of mailbox's pending acks; false when there is none.
func (s *Store) NextAckDue(mailbox string) (time.Time, bool, error) {
	var (
		next  time.Time
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := join([]byte(mailbox), nil)
		k, _ := bucket(tx, bucketOutbox).Cursor().Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return nil
		}
		var err error
		next, _, err = parseOutboxKey(k, len(prefix))
		found = err == nil
		return err
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next ack due of %s: %w", mailbox, err)
	}
	return next, found, nil
}

// RecordAck records the outcome of a send attempt for message seq, whose ack must be
// pending (ErrNotPending otherwise):
//   - AckSent: SentAt = At, Reply; removed from the outbox.
//   - AckFailed: Reply; removed from the outbox.
//   - AckPending: Reply, NextTry; rescheduled in the outbox.
//
// Each of these counts one attempt. AckBounced marks a sent ack as bounced (Reply holds
// the bounce's reason); MarkBounced does more. AckSent also writes the sent index that
// AcksSentSince counts.
func (s *Store) RecordAck(seq uint64, res AckResult) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		m, err := getMessage(tx, seq)
		if err != nil {
			return err
		}
		return recordAck(tx, m, res)
	})
	if err != nil {
		return fmt.Errorf("record ack of message %d: %w", seq, err)
	}
	return nil
}

// recordAck is RecordAck in the caller's transaction, on m as read in it.
func recordAck(tx *bolt.Tx, m *messageRecord, res AckResult) error {
	seq := m.Seq
	a := &m.Ack
	switch res.Status {
	case AckSent, AckFailed, AckPending:
		if a.Status != AckPending {
			return fmt.Errorf("ack is %s: %w", a.Status, ErrNotPending)
		}
		if res.Status == AckPending && !validKeyTime(res.NextTry) {
			return fmt.Errorf("next try %v out of range", res.NextTry)
		}
		outbox := bucket(tx, bucketOutbox)
		if err := outbox.Delete(outboxKey(m.Mailbox, a.NextTry, seq)); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		a.Status = res.Status
		a.InFlight = time.Time{}
		a.Attempts++
		a.Reply = res.Reply
		a.NextTry = time.Time{}
		switch res.Status {
		case AckSent:
			a.SentAt = res.At
			if err := bucket(tx, bucketIndex).Put(sentKey(a.SentAt, seq), nil); err != nil {
				return fmt.Errorf("sent index: %w", err)
			}
			if !ackVerified(m.VerifiedSender, a.Recipient) {
				if err := bucket(tx, bucketIndex).Put(unverifiedSentKey(a.SentAt, seq), nil); err != nil {
					return fmt.Errorf("sent index: %w", err)
				}
			}
		case AckPending:
			a.NextTry = res.NextTry
			if err := outbox.Put(outboxKey(m.Mailbox, a.NextTry, seq), nil); err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
		}
	case AckBounced:
		if a.Status != AckSent {
			return fmt.Errorf("bounce of an ack that is %s, not sent", a.Status)
		}
		a.Status = AckBounced
		a.Reply = res.Reply
	default:
		return fmt.Errorf("unknown ack status %q", res.Status)
	}
	if res.Sent != nil {
		if err := putSentText(tx, ackSentKey(seq), *res.Sent); err != nil {
			return err
		}
	}
	return putMessage(tx, m)
}

// MarkBounced records a bounce of the ack of message seq (a DSN, RFC 3464, or another
// non-delivery report that names our ack): Status AckBounced, Bounce = status (e.g.
// "5.1.1"), BouncedAt = at, Reply "bounced: <status> <detail>". SentAt is kept. Allowed from
// sent, pending (its outbox entry is removed: it is not sent again) and failed, and again
// from bounced (the later report wins); a suppressed ack was never due and gives an error
// wrapping ErrBadTransition.
func (s *Store) MarkBounced(seq uint64, status, detail string, at time.Time) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return markBounced(tx, seq, status, detail, at) })
	if err != nil {
		return fmt.Errorf("mark ack of message %d bounced: %w", seq, err)
	}
	return nil
}

// markBounced is MarkBounced in the caller's transaction (Register uses it for
// Incoming.Bounce).
func markBounced(tx *bolt.Tx, seq uint64, status, detail string, at time.Time) error {
	m, err := getMessage(tx, seq)
	if err != nil {
		return err
	}
	a := &m.Ack
	switch a.Status {
	case AckPending:
		if err := bucket(tx, bucketOutbox).Delete(outboxKey(m.Mailbox, a.NextTry, seq)); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		a.NextTry = time.Time{}
	case AckSent, AckFailed, AckBounced:
	default:
		return fmt.Errorf("bounce of an ack that is %s: %w", a.Status, ErrBadTransition)
	}
	a.Status = AckBounced
	a.Bounce = truncate(status, maxBounce)
	a.BouncedAt = at
	a.Reply = strings.Join(slices.DeleteFunc([]string{"bounced:", status, detail},
		func(s string) bool { return s == "" }), " ")
	return putMessage(tx, m)
}

// AcksSentSince counts the acks of all mailboxes sent at or after t (by the sent index,
// which RecordAck(AckSent) writes; bounced acks still count).
func (s *Store) AcksSentSince(t time.Time) (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		c := bucket(tx, bucketIndex).Cursor()
		for k, _ := c.Seek(sentKey(t, 0)); len(k) > 0 && k[0] == tagSent; k, _ = c.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("acks sent since %v: %w", t, err)
	}
	return n, nil
}

// AckSendTimesSince returns the send times of the acks (and interim notices) of all
// mailboxes sent at or after t, ascending, and those of the acks to unverified senders
// among them: what AcksSentSince and UnverifiedAcksSentSince count, in one read, so that
// the hourly cap can seed a running count once instead of scanning before every send.
func (s *Store) AckSendTimesSince(t time.Time) (all, unverified []time.Time, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := bucket(tx, bucketIndex).Cursor()
		for k, _ := c.Seek(sentKey(t, 0)); len(k) > 9 && k[0] == tagSent; k, _ = c.Next() {
			all = append(all, parseTimeKey(k[1:9]))
		}
		for k, _ := c.Seek(unverifiedSentKey(t, 0)); len(k) > 9 && k[0] == tagUnverifiedSent; k, _ = c.Next() {
			unverified = append(unverified, parseTimeKey(k[1:9]))
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("ack send times since %v: %w", t, err)
	}
	return all, unverified, nil
}

// OutboxStats counts mailbox's pending acknowledgements and returns the
// receipt time of the one registered first, i.e. waiting longest (zero when
// there is none), for monitoring. It reads only the outbox keys and one
// message record: Seqs grow with registration.
func (s *Store) OutboxStats(mailbox string) (n int, oldest time.Time, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		prefix := join([]byte(mailbox), nil)
		var first uint64
		c := bucket(tx, bucketOutbox).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			_, seq, err := parseOutboxKey(k, len(prefix))
			if err != nil {
				return err
			}
			if n == 0 || seq < first {
				first = seq
			}
			n++
		}
		if n == 0 {
			return nil
		}
		m, err := getMessage(tx, first)
		if err != nil {
			return err
		}
		oldest = m.Received
		return nil
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox of %s: %w", mailbox, err)
	}
	return n, oldest, nil
}

// MakeAcksDue makes every pending ack of mailbox that is scheduled after now due at now
// (NextTry = now), so that they go out at once when the SMTP server is reachable again
// after an outage, instead of each at its own retry time. It returns how many it moved.
func (s *Store) MakeAcksDue(mailbox string, now time.Time) (int, error) {
	if !validKeyTime(now) {
		return 0, fmt.Errorf("make acks of %s due: time %v out of range", mailbox, now)
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		prefix := join([]byte(mailbox), nil)
		outbox := bucket(tx, bucketOutbox)
		var seqs []uint64
		c := outbox.Cursor()
		for k, _ := c.Seek(append(slices.Clone(prefix), timeKey(now)...)); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			nextTry, seq, err := parseOutboxKey(k, len(prefix))
			if err != nil {
				return err
			}
			if nextTry.After(now) {
				seqs = append(seqs, seq)
			}
		}
		for _, seq := range seqs {
			m, err := getMessage(tx, seq)
			if err != nil {
				return err
			}
			if m.Ack.Status != AckPending {
				return fmt.Errorf("outbox entry of message %d whose ack is %s", seq, m.Ack.Status)
			}
			if err := outbox.Delete(outboxKey(m.Mailbox, m.Ack.NextTry, seq)); err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
			m.Ack.NextTry = now
			if err := outbox.Put(outboxKey(m.Mailbox, now, seq), nil); err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
			if err := putMessage(tx, m); err != nil {
				return err
			}
		}
		n = len(seqs)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("make acks of %s due: %w", mailbox, err)
	}
	return n, nil
}

// markSending records, in tx, that m's ack is about to cross the end of the SMTP DATA
// (an AckBatch's mark, applied). The result clears the mark; an ack that still carries it
// when it is marked again was in flight at a crash and may have reached the server: it is
// then marked MaybeSent, and wasInFlight is true.
func markSending(tx *bolt.Tx, m *messageRecord, at time.Time) (wasInFlight bool, err error) {
	if m.Ack.Status != AckPending {
		return false, fmt.Errorf("ack is %s: %w", m.Ack.Status, ErrNotPending)
	}
	if !m.Ack.InFlight.IsZero() {
		wasInFlight = true
		m.Ack.MaybeSent = true
	}
	m.Ack.InFlight = at
	return wasInFlight, putMessage(tx, m)
}
