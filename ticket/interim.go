package ticket

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Interim notices (Zwischennachricht, issue 11): the acknowledgement promises a citizen an
// interim reply when the case is not closed within the mailbox's handling time. The
// promise is kept in the bucket "interim", created by the first write, with three key
// spaces:
//
//	'd' mailbox 0 created(8) 0 refkey -> nil   a case that may need a notice: written by
//	                                          Register for a new citizen case whose ack is
//	                                          due; removed when the case has been decided
//	'o' mailbox 0 nexttry(8) 0 refkey -> nil   a notice waiting to be sent (its outbox)
//	'n' refkey -> Interim (JSON)              the notice record of a case
//	'r' recipient 0 due(8) 0 refkey -> nil     notices per recipient, for the per-sender
//	                                          limit of [mailbox.policy] (R2)
//
// The due time of a case is Created+after, so the 'd' keys of a mailbox are in due order
// for any after: EnqueueDueInterims reads only the keys that are due, never all cases.
// Enqueueing is one Update that removes the 'd' key and writes the record and the 'o'
// key together, so a restart neither skips a notice nor sends one twice (the responder's
// repeat after a crash between the SMTP 250 and RecordInterim carries the same
// Message-ID, as for acks).

const bucketInterim = "interim"

const (
	tagInterimDue    = 'd'
	tagInterimOutbox = 'o'
	tagInterimRecord = 'n'
	tagInterimRate   = 'r'
)

// interimRateWindow is the window of the per-recipient limit, as for acks (R2).
const interimRateWindow = 24 * time.Hour

func interimRateKey(recipient string, due time.Time, ref Reference) []byte {
	return tagged(tagInterimRate, []byte(strings.ToLower(recipient)), timeKey(due), refKey(ref))
}

// interimsTo counts the notices enqueued for recipient with a due time in (since, until].
func interimsTo(b *bolt.Bucket, recipient string, since, until time.Time) int {
	prefix := tagged(tagInterimRate, []byte(strings.ToLower(recipient)), nil)
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(append(bytes.Clone(prefix), timeKey(since.Add(1))...)); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) < len(prefix)+8 || parseTimeKey(k[len(prefix):len(prefix)+8]).After(until) {
			break
		}
		n++
	}
	return n
}

// Suppression reasons of an interim notice.
const (
	// ReasonClerk: a clerk suppressed the notice of this case.
	ReasonClerk = "CLERK"
	// ReasonNoAck: the case's acknowledgement was not sent (suppressed, failed, bounced),
	// so there is no address the citizen has confirmed to be theirs.
	ReasonNoAck = "NO_ACK"
)

// Audit actions of interim notices.
const (
	AuditInterimSuppress = "interim_suppress"
	AuditInterimSendNow  = "interim_send_now"
)

// ErrInterimNotAllowed: SendInterimNow for a case that may not get a notice (no sent ack,
// automated, closed, or a notice pending or sent already).
var ErrInterimNotAllowed = errors.New("interim notice not allowed")

// maxInterimBatch bounds the cases one EnqueueDueInterims transaction decides.
const maxInterimBatch = 500

// Interim is the interim notice of a case: the fields of an Ack (status, recipient,
// Message-ID, attempts, SMTP reply, bounce, the kind of echo of the acknowledgement it
// follows) and who asked for it.
type Interim struct {
	Ack
	// Due is when it became due (enqueued by the schedule or by a clerk).
	Due time.Time `json:"due,omitzero"`
	// By is the clerk who asked for it ("send now") or suppressed it; "" = the schedule.
	By string `json:"by,omitempty"`
}

// InterimEntry is one due interim notice.
type InterimEntry struct {
	Reference Reference
	Case      Case    // without Messages
	First     Message // the first message, whose acknowledgement the notice follows
	Interim   Interim
}

func interimDueKey(mailbox string, created time.Time, ref Reference) []byte {
	return tagged(tagInterimDue, []byte(mailbox), timeKey(created), refKey(ref))
}

func interimOutboxKey(mailbox string, nextTry time.Time, ref Reference) []byte {
	return tagged(tagInterimOutbox, []byte(mailbox), timeKey(nextTry), refKey(ref))
}

func interimRecordKey(ref Reference) []byte {
	return append([]byte{tagInterimRecord}, refKey(ref)...)
}

// parseInterimKey splits the time and reference off a 'd' or 'o' key of prefix.
func parseInterimKey(k []byte, prefixLen int) (time.Time, Reference, error) {
	if len(k) < prefixLen+10 {
		return time.Time{}, Reference{}, fmt.Errorf("interim key %x", k)
	}
	t := parseTimeKey(k[prefixLen : prefixLen+8])
	ref, err := parseRefKey(k[prefixLen+9:])
	return t, ref, err
}

// markInterimCandidate writes the 'd' key of a new citizen case whose first message's
// ack is due. Register calls it in its transaction.
func markInterimCandidate(tx *bolt.Tx, c *caseRecord, m *Message) error {
	if c.Kind != KindCitizen || m.Ack.Status != AckPending {
		return nil
	}
	b, err := writeBucket(tx, bucketInterim)
	if err != nil {
		return err
	}
	if err := b.Put(interimDueKey(c.Mailbox, c.Created, c.Reference), nil); err != nil {
		return fmt.Errorf("interim index: %w", err)
	}
	return nil
}

func getInterim(b *bolt.Bucket, ref Reference) (*Interim, error) {
	if b == nil {
		return nil, nil
	}
	v := b.Get(interimRecordKey(ref))
	if v == nil {
		return nil, nil
	}
	var in Interim
	if err := json.Unmarshal(v, &in); err != nil {
		return nil, fmt.Errorf("decode interim notice of %s: %w", ref, err)
	}
	return &in, nil
}

func putInterim(b *bolt.Bucket, ref Reference, in *Interim) error {
	v, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode interim notice of %s: %w", ref, err)
	}
	return b.Put(interimRecordKey(ref), v)
}

// interimEligible says whether case c may get an interim notice now, and when not, whether
// that can still change (the acknowledgement is still pending).
func interimEligible(tx *bolt.Tx, c *caseRecord) (first *messageRecord, ok, wait bool, err error) {
	if c.Kind != KindCitizen || c.Status == StatusClosed || !c.Purged.IsZero() || len(c.Seqs) == 0 {
		return nil, false, false, nil
	}
	first, err = getMessage(tx, c.Seqs[0])
	if err != nil {
		return nil, false, false, err
	}
	switch {
	case first.Ack.Status == AckPending:
		return first, false, true, nil
	case first.Ack.Status != AckSent || first.Ack.Bounce != "" || first.Ack.Recipient == "":
		return first, false, false, nil
	}
	return first, true, false, nil
}

// newInterimMessageID returns an unguessable Message-ID for the notice of ref, in the
// domain of the acknowledgement's Message-ID: a forged reply or bounce cannot name it.
func newInterimMessageID(ref Reference, ackID string) (string, error) {
	domain := ackID[strings.LastIndexByte(ackID, '@')+1:]
	if domain == "" {
		return "", fmt.Errorf("ack Message-ID %q has no domain", ackID)
	}
	var r [12]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("random Message-ID: %w", err)
	}
	return fmt.Sprintf("%s.interim.%s@%s", ref, hex.EncodeToString(r[:]), domain), nil
}

// enqueueInterim writes a pending notice for c to the recipient of its acknowledgement.
func enqueueInterim(tx *bolt.Tx, b *bolt.Bucket, c *caseRecord, first *messageRecord, now time.Time, by string) error {
	id, err := newInterimMessageID(c.Reference, first.Ack.MessageID)
	if err != nil {
		return err
	}
	in := &Interim{Ack: Ack{Status: AckPending, Recipient: first.Ack.Recipient, MessageID: id,
		NextTry: now, Echo: first.Ack.Echo, EchoReason: first.Ack.EchoReason}, Due: now, By: by}
	if err := putInterim(b, c.Reference, in); err != nil {
		return err
	}
	if err := b.Put(interimOutboxKey(c.Mailbox, now, c.Reference), nil); err != nil {
		return fmt.Errorf("interim outbox: %w", err)
	}
	if err := b.Put(interimRateKey(in.Recipient, now, c.Reference), nil); err != nil {
		return fmt.Errorf("interim rate index: %w", err)
	}
	// A reply to the notice finds the case like a reply to the ack.
	if err := bucket(tx, bucketMsgID).Put(msgIDKey(c.Mailbox, id), refKey(c.Reference)); err != nil {
		return fmt.Errorf("msgid index: %w", err)
	}
	return nil
}

// EnqueueDueInterims decides, in one Update, the cases of mailbox created at or before
// cutoff (now minus the mailbox's interim "after") that are waiting for that decision: a
// case that is still open, citizen, not purged, whose first acknowledgement was sent and
// did not bounce and that has no notice record (a clerk's suppression or "send now") gets
// a pending notice due at now; every other case is dropped from the schedule, except one
// whose acknowledgement is still pending, which is looked at again next time. perRecipient
// > 0 is the per-sender limit of acks (R2) applied to notices: a case whose recipient got
// that many notices in the last 24 hours waits for a later pass. It decides at most
// maxInterimBatch cases and returns how many notices it enqueued.
func (s *Store) EnqueueDueInterims(mailbox string, cutoff, now time.Time, perRecipient int) (int, error) {
	return s.decideDueInterims(mailbox, cutoff, now, true, perRecipient)
}

// DropDueInterims removes the cases of mailbox created at or before cutoff from the
// schedule without a notice: for a mailbox whose interim notices are disabled (its
// acknowledgements promised none), so that enabling them later does not send notices for
// those cases. It returns how many it dropped.
func (s *Store) DropDueInterims(mailbox string, cutoff time.Time) (int, error) {
	return s.decideDueInterims(mailbox, cutoff, cutoff, false, 0)
}

func (s *Store) decideDueInterims(mailbox string, cutoff, now time.Time, enqueue bool, perRecipient int) (int, error) {
	if !validKeyTime(now) {
		return 0, fmt.Errorf("enqueue interim notices: time %v out of range", now)
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := bucket(tx, bucketInterim)
		if b == nil {
			return nil
		}
		prefix := tagged(tagInterimDue, []byte(mailbox), nil)
		var done [][]byte
		c := b.Cursor()
		seen := 0
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && seen < maxInterimBatch; k, _ = c.Next() {
			created, ref, err := parseInterimKey(k, len(prefix))
			if err != nil {
				return err
			}
			if created.After(cutoff) {
				break
			}
			seen++
			if !enqueue {
				done = append(done, bytes.Clone(k))
				n++
				continue
			}
			cr, err := getCase(tx, ref)
			if errors.Is(err, ErrNotFound) {
				done = append(done, bytes.Clone(k))
				continue
			}
			if err != nil {
				return err
			}
			first, ok, wait, err := interimEligible(tx, cr)
			if err != nil {
				return err
			}
			if wait {
				continue
			}
			if ok && perRecipient > 0 && interimsTo(b, first.Ack.Recipient, now.Add(-interimRateWindow), now) >= perRecipient {
				continue // R2: this recipient had enough today; a later pass enqueues it
			}
			done = append(done, bytes.Clone(k))
			if !ok {
				continue
			}
			if old, err := getInterim(b, ref); err != nil || old != nil {
				if err != nil {
					return err
				}
				continue // suppressed or sent by a clerk before it was due
			}
			if err := enqueueInterim(tx, b, cr, first, now, ""); err != nil {
				return err
			}
			n++
		}
		for _, k := range done {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("interim index: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue interim notices of %s: %w", mailbox, err)
	}
	return n, nil
}

// NextInterimCandidate returns the creation time of mailbox's oldest case still waiting
// for the interim decision (its due time is that plus after); false when there is none.
func (s *Store) NextInterimCandidate(mailbox string) (time.Time, bool, error) {
	return s.firstInterimKey(tagInterimDue, mailbox)
}

// NextInterimDue returns the earliest NextTry of mailbox's pending interim notices.
func (s *Store) NextInterimDue(mailbox string) (time.Time, bool, error) {
	return s.firstInterimKey(tagInterimOutbox, mailbox)
}

func (s *Store) firstInterimKey(tag byte, mailbox string) (time.Time, bool, error) {
	var (
		t     time.Time
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		b := bucket(tx, bucketInterim)
		if b == nil {
			return nil
		}
		prefix := tagged(tag, []byte(mailbox), nil)
		k, _ := b.Cursor().Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return nil
		}
		var err error
		t, _, err = parseInterimKey(k, len(prefix))
		found = err == nil
		return err
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("interim schedule of %s: %w", mailbox, err)
	}
	return t, found, nil
}

// DueInterims returns up to limit (0 = all) pending interim notices of mailbox whose
// NextTry is not after now, the earliest first.
func (s *Store) DueInterims(mailbox string, now time.Time, limit int) ([]InterimEntry, error) {
	var out []InterimEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		b := bucket(tx, bucketInterim)
		if b == nil {
			return nil
		}
		prefix := tagged(tagInterimOutbox, []byte(mailbox), nil)
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			next, ref, err := parseInterimKey(k, len(prefix))
			if err != nil {
				return err
			}
			if next.After(now) {
				break
			}
			cr, err := getCase(tx, ref)
			if err != nil {
				return err
			}
			in, err := getInterim(b, ref)
			if err != nil {
				return err
			}
			if in == nil {
				return fmt.Errorf("interim outbox names %s without a notice", ref)
			}
			first, err := getMessage(tx, cr.Seqs[0])
			if err != nil {
				return err
			}
			out = append(out, InterimEntry{Reference: ref, Case: cr.toCase(), First: first.Message, Interim: *in})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due interim notices of %s: %w", mailbox, err)
	}
	return out, nil
}

// InterimOf returns the interim notice record of case ref; nil when it has none.
func (s *Store) InterimOf(ref Reference) (*Interim, error) {
	var in *Interim
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		in, err = getInterim(bucket(tx, bucketInterim), ref)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("interim notice of %s: %w", ref, err)
	}
	return in, nil
}

// RecordInterim records the outcome of a send attempt of case ref's interim notice, which
// must be pending (ErrNotPending otherwise), as RecordAck does for an acknowledgement;
// res.Sent, when set, is stored as what was sent.
func (s *Store) RecordInterim(ref Reference, res AckResult) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := bucket(tx, bucketInterim)
		in, err := getInterim(b, ref)
		if err != nil {
			return err
		}
		// A clerk may suppress the notice while the responder is sending it: a notice that
		// went out is recorded as sent all the same (the record must say what the citizen got).
		raced := in != nil && in.Status == AckSuppressed && in.Reason == ReasonClerk && in.MessageID != "" && res.Status == AckSent
		if in == nil || in.Status != AckPending && !raced {
			return fmt.Errorf("no pending notice: %w", ErrNotPending)
		}
		cr, err := getCase(tx, ref)
		if err != nil {
			return err
		}
		if err := b.Delete(interimOutboxKey(cr.Mailbox, in.NextTry, ref)); err != nil {
			return fmt.Errorf("interim outbox: %w", err)
		}
		in.Reason = ""
		switch res.Status {
		case AckSent, AckFailed, AckPending:
		default:
			return fmt.Errorf("unknown result status %q", res.Status)
		}
		in.Status = res.Status
		in.Attempts++
		in.Reply = truncate(res.Reply, maxText)
		in.NextTry = time.Time{}
		switch res.Status {
		case AckSent:
			in.SentAt = res.At
			// Counted by AcksSentSince like an ack: the hourly cap covers notices too.
			if err := bucket(tx, bucketIndex).Put(sentKey(res.At, cr.Seqs[0]), nil); err != nil {
				return fmt.Errorf("sent index: %w", err)
			}
		case AckPending:
			if !validKeyTime(res.NextTry) {
				return fmt.Errorf("next try %v out of range", res.NextTry)
			}
			in.NextTry = res.NextTry
			if err := b.Put(interimOutboxKey(cr.Mailbox, in.NextTry, ref), nil); err != nil {
				return fmt.Errorf("interim outbox: %w", err)
			}
		}
		if res.Sent != nil {
			if err := putSentText(tx, interimSentKey(ref), *res.Sent); err != nil {
				return err
			}
		}
		return putInterim(b, ref, in)
	})
	if err != nil {
		return fmt.Errorf("record interim notice of %s: %w", ref, err)
	}
	return nil
}

// MarkInterimBounced records a bounce of case ref's interim notice (see MarkBounced).
func (s *Store) MarkInterimBounced(ref Reference, status, detail string, at time.Time) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return markInterimBounced(tx, ref, status, detail, at)
	})
	if err != nil {
		return fmt.Errorf("mark interim notice of %s bounced: %w", ref, err)
	}
	return nil
}

// markInterimBounced is MarkInterimBounced inside tx; Register calls it in the transaction
// that registers the bounce (Incoming.Bounce with Interim set).
func markInterimBounced(tx *bolt.Tx, ref Reference, status, detail string, at time.Time) error {
	b := bucket(tx, bucketInterim)
	in, err := getInterim(b, ref)
	if err != nil {
		return err
	}
	if in == nil || in.Status == AckSuppressed {
		return fmt.Errorf("bounce of a notice never due: %w", ErrBadTransition)
	}
	if in.Status == AckPending {
		cr, err := getCase(tx, ref)
		if err != nil {
			return err
		}
		if err := b.Delete(interimOutboxKey(cr.Mailbox, in.NextTry, ref)); err != nil {
			return fmt.Errorf("interim outbox: %w", err)
		}
		in.NextTry = time.Time{}
	}
	in.Status, in.Bounce, in.BouncedAt = AckBounced, truncate(status, maxBounce), at
	in.Reply = truncate(strings.TrimSpace("bounced: "+status+" "+detail), maxText)
	return putInterim(b, ref, in)
}

// SuppressInterim records that case ref gets no interim notice (ReasonClerk), with its
// audit entry, in one transaction: a pending notice leaves the outbox, a case not yet due
// leaves the schedule. A notice already sent cannot be suppressed (ErrBadTransition).
func (s *Store) SuppressInterim(ref Reference, a Actor) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		cr, err := getCase(tx, ref)
		if err != nil {
			return err
		}
		b, err := writeBucket(tx, bucketInterim)
		if err != nil {
			return err
		}
		in, err := getInterim(b, ref)
		if err != nil {
			return err
		}
		switch {
		case in == nil:
			in = &Interim{}
		case in.Status == AckPending:
			if err := b.Delete(interimOutboxKey(cr.Mailbox, in.NextTry, ref)); err != nil {
				return fmt.Errorf("interim outbox: %w", err)
			}
		case in.Status == AckSuppressed:
			return nil
		default:
			return fmt.Errorf("notice is %s: %w", in.Status, ErrBadTransition)
		}
		if err := b.Delete(interimDueKey(cr.Mailbox, cr.Created, ref)); err != nil {
			return fmt.Errorf("interim index: %w", err)
		}
		// Recipient and Message-ID stay: a send in flight is still recorded (RecordInterim).
		*in = Interim{Ack: Ack{Status: AckSuppressed, Reason: ReasonClerk, Recipient: in.Recipient, MessageID: in.MessageID,
			Echo: in.Echo, EchoReason: in.EchoReason, Attempts: in.Attempts}, Due: in.Due, By: truncate(a.Name, maxName)}
		if err := putInterim(b, ref, in); err != nil {
			return err
		}
		e := a.NewAuditEntry(AuditInterimSuppress, ref, "")
		return appendAudit(tx, &e)
	})
	if err != nil {
		return fmt.Errorf("suppress interim notice of %s: %w", ref, err)
	}
	return nil
}

// SendInterimNow enqueues an interim notice of case ref due at a.At, with its audit entry,
// in one transaction. The case must be one the schedule would serve (citizen, not closed,
// its acknowledgement sent and not bounced) and have no notice pending or sent; a
// suppressed or failed notice may be sent now. Otherwise ErrInterimNotAllowed.
func (s *Store) SendInterimNow(ref Reference, a Actor) error {
	if !validKeyTime(a.At) {
		return fmt.Errorf("send interim notice of %s: time %v out of range", ref, a.At)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		cr, err := getCase(tx, ref)
		if err != nil {
			return err
		}
		first, ok, _, err := interimEligible(tx, cr)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("case is %s/%s, its acknowledgement not sent: %w", cr.Kind, cr.Status, ErrInterimNotAllowed)
		}
		b, err := writeBucket(tx, bucketInterim)
		if err != nil {
			return err
		}
		old, err := getInterim(b, ref)
		if err != nil {
			return err
		}
		if old != nil && old.Status != AckSuppressed && old.Status != AckFailed {
			return fmt.Errorf("notice is %s: %w", old.Status, ErrInterimNotAllowed)
		}
		if err := b.Delete(interimDueKey(cr.Mailbox, cr.Created, ref)); err != nil {
			return fmt.Errorf("interim index: %w", err)
		}
		if err := enqueueInterim(tx, b, cr, first, a.At, truncate(a.Name, maxName)); err != nil {
			return err
		}
		e := a.NewAuditEntry(AuditInterimSendNow, ref, "")
		return appendAudit(tx, &e)
	})
	if err != nil {
		return fmt.Errorf("send interim notice of %s: %w", ref, err)
	}
	return nil
}

// purgeSent deletes what a purge must not keep of case c's acknowledgements and interim
// notice: the texts sent (they hold the reference, maybe the subject), the notice's
// recipient and Message-ID, and its schedule and outbox entries.
func purgeSent(tx *bolt.Tx, c *caseRecord) error {
	if st := bucket(tx, bucketSentText); st != nil {
		for _, seq := range c.Seqs {
			if err := st.Delete(ackSentKey(seq)); err != nil {
				return fmt.Errorf("sent text: %w", err)
			}
		}
		if err := st.Delete(interimSentKey(c.Reference)); err != nil {
			return fmt.Errorf("sent text: %w", err)
		}
	}
	b := bucket(tx, bucketInterim)
	if b == nil {
		return nil
	}
	if err := b.Delete(interimDueKey(c.Mailbox, c.Created, c.Reference)); err != nil {
		return fmt.Errorf("interim index: %w", err)
	}
	in, err := getInterim(b, c.Reference)
	if err != nil || in == nil {
		return err
	}
	if in.Status == AckPending {
		if err := b.Delete(interimOutboxKey(c.Mailbox, in.NextTry, c.Reference)); err != nil {
			return fmt.Errorf("interim outbox: %w", err)
		}
		in.Status, in.Reason, in.NextTry = AckSuppressed, "PURGED", time.Time{}
	}
	if in.Recipient != "" && !in.Due.IsZero() {
		if err := b.Delete(interimRateKey(in.Recipient, in.Due, c.Reference)); err != nil {
			return fmt.Errorf("interim rate index: %w", err)
		}
	}
	if in.MessageID != "" {
		if err := bucket(tx, bucketMsgID).Delete(msgIDKey(c.Mailbox, in.MessageID)); err != nil {
			return fmt.Errorf("msgid index: %w", err)
		}
	}
	in.Recipient, in.MessageID, in.Reply = "", "", ""
	return putInterim(b, c.Reference, in)
}
