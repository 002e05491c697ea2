package ticket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Register registers one mail in ONE bbolt Update transaction:
//
//  1. dedupe by (mailbox, UIDVALIDITY, UID), then by (mailbox, Message-ID, content
//     evidence), or by (mailbox, evidence) when the mail has no Message-ID (dedupeKey);
//     the same Message-ID with other content is a new registration, marked
//     MessageIDReused;
//  2. allocate the next number for (prefix, year of Received in in.Location), or attach to
//     the case in.FollowUpOf; a new case with in.LinkTo is linked to that case and back;
//  3. apply in.Rate to a requested ack (see RateRule);
//  4. write the message, the case and the indexes, and the outbox entry of a pending ack
//     (or the suppression reason);
//  5. raise the watermark of (mailbox, UIDVALIDITY) to UID (never lower it).
//
// A duplicate returns the existing reference and Seq with Duplicate set; only the watermark
// is written then. Any error rolls everything back, so no number is used up.
func (s *Store) Register(in Incoming) (Registration, error) {
	m := in.Message
	if err := checkIncoming(&in); err != nil {
		return Registration{}, fmt.Errorf("register %s uid %d: %w", m.Mailbox, m.UID, err)
	}
	var reg Registration
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		reg, err = register(tx, in)
		if err != nil {
			return err
		}
		return raiseWatermark(tx, m.Mailbox, m.UIDValidity, m.UID)
	})
	if err != nil {
		return Registration{}, fmt.Errorf("register %s uid %d: %w", m.Mailbox, m.UID, err)
	}
	return reg, nil
}

// RegisterBatch registers several mails in ONE transaction (group commit:
// one fsync pair for all of them), each exactly as Register would, in
// order; a later mail sees the earlier ones (a Message-ID twice in the batch
// is a duplicate). Any error rolls back the whole batch. The raw files the
// batch names must be durable first (SyncRaw).
func (s *Store) RegisterBatch(ins []Incoming) ([]Registration, error) {
	for i := range ins {
		if err := checkIncoming(&ins[i]); err != nil {
			return nil, fmt.Errorf("register %s uid %d: %w", ins[i].Message.Mailbox, ins[i].Message.UID, err)
		}
	}
	regs := make([]Registration, len(ins))
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, in := range ins {
			reg, err := register(tx, in)
			if err != nil {
				return fmt.Errorf("uid %d: %w", in.Message.UID, err)
			}
			if err := raiseWatermark(tx, in.Message.Mailbox, in.Message.UIDValidity, in.Message.UID); err != nil {
				return err
			}
			regs[i] = reg
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("register batch of %d: %w", len(ins), err)
	}
	return regs, nil
}

// checkIncoming validates in and fills defaults.
func checkIncoming(in *Incoming) error {
	m := &in.Message
	m.MessageID = trimID(m.MessageID)
	switch {
	case !validPrefix(in.Prefix):
		return fmt.Errorf("prefix %q (want 1-10 of A-Z0-9): %w", in.Prefix, ErrBadReference)
	case m.Mailbox == "" || strings.IndexByte(m.Mailbox, sep) >= 0:
		return fmt.Errorf("mailbox name %q", m.Mailbox)
	case !validKeyTime(m.Received):
		return fmt.Errorf("received time %v out of range", m.Received)
	case m.RawSHA256 != "" && !validSum(m.RawSHA256):
		return fmt.Errorf("raw sha256 %q: not 64 lower-case hex digits", m.RawSHA256)
	case in.AckRecipient != "" && in.AckDomain == "":
		return errors.New("ack recipient without ack domain")
	case !m.Ack.NextTry.IsZero() && !validKeyTime(m.Ack.NextTry):
		return fmt.Errorf("next try %v out of range", m.Ack.NextTry)
	}
	if in.Kind == "" {
		in.Kind = KindCitizen
	}
	return nil
}

// trimID is a Message-ID without surrounding space and angle brackets.
func trimID(id string) string {
	return strings.Trim(strings.TrimSpace(id), "<>")
}

func location(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

func register(tx *bolt.Tx, in Incoming) (Registration, error) {
	m := in.Message
	if seq, found, err := findDuplicate(tx, &m); err != nil || found {
		if err != nil {
			return Registration{}, err
		}
		old, err := getMessage(tx, seq)
		if err != nil {
			return Registration{}, fmt.Errorf("duplicate: %w", err)
		}
		return Registration{Reference: old.Case, Seq: seq, Duplicate: true}, nil
	}

	// A different mail reusing a Message-ID (issue 9): it is registered, and the case
	// view says so.
	m.MessageIDReused = idReused(tx, &m)
	seq, err := bucket(tx, bucketMessages).NextSequence()
	if err != nil {
		return Registration{}, fmt.Errorf("next seq: %w", err)
	}
	m.Seq = seq
	if m.VerifiedSender = senderOf(m.VerifiedSender); m.VerifiedSender == "" {
		m.VerifiedBy = ""
	}
	m.VerifiedBy = truncate(m.VerifiedBy, maxBounce)

	var c *caseRecord
	if in.FollowUpOf != nil {
		c, err = getCase(tx, *in.FollowUpOf)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Registration{}, fmt.Errorf("follow-up: %w", err)
		}
	}
	newCase := c == nil
	if newCase {
		if c, err = openCase(tx, in, &m); err != nil {
			return Registration{}, err
		}
		if in.LinkTo != nil {
			if err := linkCases(tx, c, *in.LinkTo); err != nil {
				return Registration{}, err
			}
		}
	} else {
		c.Seqs = append(c.Seqs, seq)
		if m.Received.After(c.Updated) {
			c.Updated = m.Received
		}
	}
	ref := c.Reference

	reason := ""
	if in.AckRecipient != "" && in.Rate != nil {
		if reason, err = rateLimit(tx, *in.Rate, c, !newCase, &m, in.AckRecipient); err != nil {
			return Registration{}, err
		}
	}
	m.Ack = Ack{NextTry: m.Ack.NextTry}
	switch {
	case reason != "":
		// The recipient is kept: the clerk sees who got no ack and why.
		m.Ack = Ack{Status: AckSuppressed, Reason: reason, Recipient: truncate(in.AckRecipient, maxAddress)}
	case in.AckRecipient != "":
		m.Ack.Status = AckPending
		m.Ack.Recipient = truncate(in.AckRecipient, maxAddress)
		// Our Message-ID encodes the case, so a reply finds it (msgid index) and a repeated
		// ack after a crash is recognisable as the same one; its tag proves it is ours
		// (ackid.go).
		secret, err := ackSecret(tx)
		if err != nil {
			return Registration{}, err
		}
		m.Ack.MessageID = ackMessageID(secret, ref, seq, in.AckDomain)
		if m.Ack.NextTry.IsZero() {
			m.Ack.NextTry = m.Received
		}
	case in.SuppressReason != "":
		m.Ack = Ack{Status: AckSuppressed, Reason: in.SuppressReason}
	default:
		m.Ack = Ack{Status: AckSuppressed, Reason: ReasonNoRecipient}
	}
	if m.Ack.Status == AckPending {
		m.Ack.Echo, m.Ack.EchoReason = truncate(in.AckEcho, 16), truncate(in.AckEchoReason, 200)
	}

	if err := putCase(tx, c); err != nil {
		return Registration{}, err
	}
	rec := &messageRecord{Case: ref, Message: m}
	if err := putMessage(tx, rec); err != nil {
		return Registration{}, err
	}
	if err := writeMessageIndexes(tx, ref, &m); err != nil {
		return Registration{}, err
	}
	if newCase {
		if err := markInterimCandidate(tx, c, &m); err != nil {
			return Registration{}, err
		}
	}
	reg := Registration{Reference: ref, Seq: seq, NewCase: newCase,
		RateLimited: isRateReason(reason), AckReason: m.Ack.Reason}
	if b := in.Bounce; b != nil {
		// In this transaction: the bounce and its mark are committed together or not at all.
		var err error
		if b.Interim != nil {
			err = markInterimBounced(tx, *b.Interim, b.Status, b.Detail, b.At)
		} else {
			err = markBounced(tx, b.Seq, b.Status, b.Detail, b.At)
		}
		switch {
		case err == nil:
			reg.Bounced = true
		case errors.Is(err, ErrBadTransition) || errors.Is(err, ErrNotFound):
			reg.BounceErr = err // the bounce is registered all the same
		default:
			return Registration{}, fmt.Errorf("mark bounced (message %d, interim %v): %w", b.Seq, b.Interim, err)
		}
	}
	return reg, nil
}

// findDuplicate looks m up by UID and then by its dedupe key: (Message-ID, content
// evidence), or the evidence alone when there is no Message-ID (see dedupeKey). A legacy
// entry (by Message-ID or raw hash alone, written before evidence was part of the key) is
// a duplicate only when its message carries the same evidence. A message without evidence
// (no raw hash) is a duplicate of any message with its Message-ID.
func findDuplicate(tx *bolt.Tx, m *Message) (uint64, bool, error) {
	keys := []struct {
		bucket string
		key    []byte
	}{
		{bucketUID, uidKey(m.Mailbox, m.UIDValidity, m.UID)},
		{bucketDedupe, dedupeKey(m)},
	}
	for _, k := range keys {
		if k.key == nil || k.bucket == bucketUID && m.UID == 0 {
			continue
		}
		if v := bucket(tx, k.bucket).Get(k.key); v != nil {
			seq, err := seqValue(k.bucket, v)
			return seq, err == nil, err
		}
	}
	ev := contentEvidence(m)
	if ev == "" {
		if m.MessageID == "" {
			return 0, false, nil
		}
		// No evidence: the Message-ID alone decides, as it did before.
		if seq, ok := firstWithID(tx, m); ok {
			return seq, true, nil
		}
		return 0, false, nil
	}
	if lk := legacyDedupeKey(m); lk != nil {
		if v := bucket(tx, bucketDedupe).Get(lk); v != nil {
			seq, err := seqValue(bucketDedupe, v)
			if err != nil {
				return 0, false, err
			}
			old, err := getMessage(tx, seq)
			if err != nil {
				return 0, false, fmt.Errorf("dedupe index: %w", err)
			}
			if oev := contentEvidence(&old.Message); oev == "" || oev == ev {
				return seq, true, nil
			}
		}
	}
	return 0, false, nil
}

func seqValue(name string, v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%s index: bad value %x", name, v)
	}
	return binary.BigEndian.Uint64(v), nil
}

// firstWithID returns a registered message of m's mailbox with m's Message-ID, found by the
// dedupe index (evidence-bearing or legacy entries).
func firstWithID(tx *bolt.Tx, m *Message) (uint64, bool) {
	dd := bucket(tx, bucketDedupe)
	if lk := legacyDedupeKey(m); lk != nil {
		if v := dd.Get(lk); len(v) == 8 {
			return binary.BigEndian.Uint64(v), true
		}
	}
	prefix := dedupeIDPrefix(m.Mailbox, m.MessageID)
	c := dd.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		// The rest of the key is the evidence (64 hex digits); a Message-ID with a NUL
		// byte could make a longer one match the prefix.
		if len(k) == len(prefix)+64 && len(v) == 8 {
			return binary.BigEndian.Uint64(v), true
		}
	}
	return 0, false
}

// idReused reports whether another mail of m's mailbox with m's Message-ID is registered
// (called for a message that is not a duplicate: that mail's content differs).
func idReused(tx *bolt.Tx, m *Message) bool {
	if m.MessageID == "" {
		return false
	}
	_, found := firstWithID(tx, m)
	return found
}

// openCase allocates the next reference of (prefix, year) and returns the new case.
func openCase(tx *bolt.Tx, in Incoming, m *Message) (*caseRecord, error) {
	year := m.Received.In(location(in.Location)).Year()
	name := in.Prefix + "/" + strconv.Itoa(year)
	counter, err := bucket(tx, bucketCounters).CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("counter %s: %w", name, err)
	}
	n, err := counter.NextSequence()
	if err != nil {
		return nil, fmt.Errorf("counter %s: %w", name, err)
	}
	ref := Reference{Prefix: in.Prefix, Year: year, Number: n}
	if bucket(tx, bucketCases).Get(refKey(ref)) != nil {
		return nil, fmt.Errorf("counter %s: case %s exists already", name, ref)
	}
	c := &caseRecord{
		Reference: ref,
		Mailbox:   m.Mailbox,
		Status:    StatusNew,
		Kind:      in.Kind,
		Created:   m.Received,
		Updated:   m.Received,
		Sender:    senderOf(m.From),
		Subject:   truncate(m.Subject, maxSubject),
		Seqs:      []uint64{m.Seq},
	}
	if err := bucket(tx, bucketIndex).Put(statusKey(c.Status, c.Created, ref), nil); err != nil {
		return nil, fmt.Errorf("status index: %w", err)
	}
	if err := accountWork(tx, c, "", 1); err != nil {
		return nil, fmt.Errorf("worklist: %w", err)
	}
	if c.Sender != "" {
		if err := bucket(tx, bucketSender).Put(senderKey(c.Sender, c.Created, ref), nil); err != nil {
			return nil, fmt.Errorf("sender index: %w", err)
		}
	}
	return c, nil
}

// senderOf is the case sender of a From address: lower case, without NUL bytes (they
// separate key parts).
func senderOf(from string) string {
	from = strings.ReplaceAll(strings.TrimSpace(from), "\x00", "")
	return truncate(strings.ToLower(from), maxAddress)
}

// writeMessageIndexes writes the uid, dedupe, msgid, outbox and ackrate entries of a new
// message.
func writeMessageIndexes(tx *bolt.Tx, ref Reference, m *Message) error {
	seq := seqKey(m.Seq)
	if m.UID != 0 {
		if err := bucket(tx, bucketUID).Put(uidKey(m.Mailbox, m.UIDValidity, m.UID), seq); err != nil {
			return fmt.Errorf("uid index: %w", err)
		}
	}
	if k := dedupeKey(m); k != nil {
		if err := bucket(tx, bucketDedupe).Put(k, seq); err != nil {
			return fmt.Errorf("dedupe index: %w", err)
		}
	}
	msgIDs := bucket(tx, bucketMsgID)
	for _, id := range []string{m.MessageID, m.Ack.MessageID} {
		if id == "" {
			continue
		}
		if err := msgIDs.Put(msgIDKey(m.Mailbox, id), refKey(ref)); err != nil {
			return fmt.Errorf("msgid index: %w", err)
		}
	}
	if m.Ack.Status == AckPending {
		if err := bucket(tx, bucketOutbox).Put(outboxKey(m.Mailbox, m.Ack.NextTry, m.Seq), nil); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return writeAckIndexes(tx, m)
}

// linkCases links the new case c and the existing case to, both directions; an unknown
// case is not linked. c is written by the caller, the linked case here.
func linkCases(tx *bolt.Tx, c *caseRecord, to Reference) error {
	other, err := getCase(tx, to)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	c.Links = addLink(c.Links, other.Reference)
	other.Links = addLink(other.Links, c.Reference)
	if err := putCase(tx, other); err != nil {
		return fmt.Errorf("link: %w", err)
	}
	return nil
}

// addLink appends ref to links unless it is there already or links is full.
func addLink(links []Reference, ref Reference) []Reference {
	if len(links) >= maxLinks || slices.Contains(links, ref) {
		return links
	}
	return append(links, ref)
}

// raiseWatermark sets the watermark of (mailbox, uidValidity) to uid if that is higher.
func raiseWatermark(tx *bolt.Tx, mailbox string, uidValidity, uid uint32) error {
	b := bucket(tx, bucketWatermarks)
	k := watermarkKey(mailbox, uidValidity)
	if v := b.Get(k); len(v) == 4 && binary.BigEndian.Uint32(v) >= uid {
		return nil
	}
	if uid == 0 {
		return nil
	}
	if err := b.Put(k, u32(uid)); err != nil {
		return fmt.Errorf("watermark: %w", err)
	}
	return nil
}

// Watermark returns the highest UID registered for (mailbox, uidValidity), 0 when none.
func (s *Store) Watermark(mailbox string, uidValidity uint32) (uint32, error) {
	var uid uint32
	err := s.db.View(func(tx *bolt.Tx) error {
		v := bucket(tx, bucketWatermarks).Get(watermarkKey(mailbox, uidValidity))
		switch len(v) {
		case 0:
		case 4:
			uid = binary.BigEndian.Uint32(v)
		default:
			return fmt.Errorf("bad value %x", v)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("watermark %s/%d: %w", mailbox, uidValidity, err)
	}
	return uid, nil
}
