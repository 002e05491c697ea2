package ticket

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Lookup returns the case ref with all its messages, or an error wrapping ErrNotFound.
func (s *Store) Lookup(ref Reference) (*Case, error) {
	var c Case
	err := s.db.View(func(tx *bolt.Tx) error {
		rec, err := getCase(tx, ref)
		if err != nil {
			return err
		}
		c, err = loadCase(tx, rec)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lookup: %w", err)
	}
	return &c, nil
}

// CaseOfMessage returns the case a Message-ID (with or without <>) in mailbox belongs to:
// a registered mail's or one of our acks'. Unknown IDs give an error wrapping ErrNotFound.
func (s *Store) CaseOfMessage(mailbox, messageID string) (*Reference, error) {
	id := strings.Trim(strings.TrimSpace(messageID), "<>")
	var ref Reference
	err := s.db.View(func(tx *bolt.Tx) error {
		if id == "" {
			return ErrNotFound
		}
		v := bucket(tx, bucketMsgID).Get(msgIDKey(mailbox, id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		ref, err = parseRefKey(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("case of message %q in %s: %w", messageID, mailbox, err)
	}
	return &ref, nil
}

// List returns the cases matching f, newest (by Created) first, with their messages. It walks
// the sender index when f.Sender is set, else the status index: the part of f.Status, or
// the parts of all statuses merged by creation time. A time range or a Limit stops the walk
// early.
func (s *Store) List(f Filter) ([]Case, error) {
	var out []Case
	visit := func(tx *bolt.Tx, refKey []byte) (bool, error) {
		ref, err := parseRefKey(refKey)
		if err != nil {
			return false, err
		}
		rec, err := getCase(tx, ref)
		if err != nil {
			return false, err
		}
		if !f.matches(rec) {
			return false, nil
		}
		c, err := loadCase(tx, rec)
		if err != nil {
			return false, err
		}
		out = append(out, c)
		return f.Limit > 0 && len(out) >= f.Limit, nil
	}
	// Both indexes have keys prefix created(8) 0 refkey.
	err := s.db.View(func(tx *bolt.Tx) error {
		var (
			b        *bolt.Bucket
			prefixes [][]byte
		)
		switch {
		case f.Sender != "":
			b, prefixes = bucket(tx, bucketSender), [][]byte{join([]byte(strings.ToLower(f.Sender)), nil)}
		case f.Status != "":
			b, prefixes = bucket(tx, bucketIndex), [][]byte{statusPrefix(f.Status)}
		default:
			b = bucket(tx, bucketIndex)
			prefixes = keyPrefixes(b, tagStatus)
		}
		cursors := make([]*backCursor, 0, len(prefixes))
		for _, prefix := range prefixes {
			lo := append(bytes.Clone(prefix), timeKey(clampTime(f.Since))...)
			hi := prefixEnd(prefix)
			if !f.Until.IsZero() {
				hi = append(bytes.Clone(prefix), timeKey(clampTime(f.Until))...)
			}
			cursors = append(cursors, newBackCursor(b, lo, hi, len(prefix)))
		}
		return mergeBack(cursors, func(suffix []byte) (bool, error) {
			if len(suffix) < 9 { // a filter value with a 0 byte in it can match a key part
				return false, nil
			}
			return visit(tx, suffix[9:])
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return out, nil
}

// keyPrefixes returns the distinct first parts (up to and with the first 0 byte) of the keys
// of b that begin with tag, one Seek each: the statuses in the status index.
func keyPrefixes(b *bolt.Bucket, tag byte) [][]byte {
	var out [][]byte
	c := b.Cursor()
	for k, _ := c.Seek([]byte{tag}); len(k) > 0 && k[0] == tag; {
		i := bytes.IndexByte(k, sep)
		if i < 0 {
			k, _ = c.Next() // not an index key; skip it
			continue
		}
		p := bytes.Clone(k[:i+1])
		out = append(out, p)
		k, _ = c.Seek(prefixEnd(p))
	}
	return out
}

// matches applies the filters that no index covers (the time range is checked again
// because the sender index only bounds it).
func (f *Filter) matches(c *caseRecord) bool {
	return (f.Mailbox == "" || c.Mailbox == f.Mailbox) &&
		(f.Sender == "" || c.Sender == strings.ToLower(f.Sender)) &&
		(f.Since.IsZero() || !c.Created.Before(f.Since)) &&
		(f.Until.IsZero() || c.Created.Before(f.Until)) &&
		(f.Status == "" || c.Status == f.Status) &&
		(f.Kind == "" || c.Kind == f.Kind)
}

// clampTime limits t to the range a timeKey can hold.
func clampTime(t time.Time) time.Time {
	lo, hi := time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)
	switch {
	case t.Before(lo):
		return lo
	case t.After(hi):
		return hi
	}
	return t
}

// backCursor walks the keys k of a bucket with lo <= k < hi backwards; key is the current
// one, nil when done. A nil hi means no upper bound.
type backCursor struct {
	c         *bolt.Cursor
	lo        []byte
	key       []byte
	prefixLen int // the part of each key that mergeBack does not compare
}

func newBackCursor(b *bolt.Bucket, lo, hi []byte, prefixLen int) *backCursor {
	bc := &backCursor{c: b.Cursor(), lo: lo, prefixLen: prefixLen}
	var k []byte
	if hi == nil {
		k, _ = bc.c.Last()
	} else if k, _ = bc.c.Seek(hi); k == nil {
		k, _ = bc.c.Last()
	} else {
		k, _ = bc.c.Prev()
	}
	bc.set(k)
	return bc
}

func (bc *backCursor) set(k []byte) {
	if k != nil && bytes.Compare(k, bc.lo) < 0 {
		k = nil
	}
	bc.key = k
}

func (bc *backCursor) prev() {
	k, _ := bc.c.Prev()
	bc.set(k)
}

// mergeBack calls fn with the key suffixes (after each cursor's prefix) of all cursors,
// highest first, until fn reports stop.
func mergeBack(cursors []*backCursor, fn func(suffix []byte) (stop bool, err error)) error {
	for {
		var top *backCursor
		for _, bc := range cursors {
			if bc.key != nil && (top == nil ||
				bytes.Compare(bc.key[bc.prefixLen:], top.key[top.prefixLen:]) > 0) {
				top = bc
			}
		}
		if top == nil {
			return nil
		}
		if stop, err := fn(top.key[top.prefixLen:]); err != nil || stop {
			return err
		}
		top.prev()
	}
}

// MessageBySeq returns message seq and the reference of its case, or an error wrapping
// ErrNotFound.
func (s *Store) MessageBySeq(seq uint64) (*Message, Reference, error) {
	var rec *messageRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = getMessage(tx, seq)
		return err
	})
	if err != nil {
		return nil, Reference{}, fmt.Errorf("message by seq: %w", err)
	}
	return &rec.Message, rec.Case, nil
}

// CaseHasSender reports whether any message of case ref is From sender (compared in lower
// case): whether sender has written on the case, so that a mail of theirs naming it may be
// attached to it (Incoming.FollowUpOf) rather than only linked (Incoming.LinkTo). An unknown
// case gives an error wrapping ErrNotFound.
func (s *Store) CaseHasSender(ref Reference, sender string) (bool, error) {
	want := senderOf(sender)
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		c, err := getCase(tx, ref)
		if err != nil || want == "" {
			return err
		}
		if c.Sender == want {
			found = true
			return nil
		}
		for _, seq := range c.Seqs {
			m, err := getMessage(tx, seq)
			if err != nil {
				return err
			}
			if senderOf(m.From) == want {
				found = true
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("case %s has sender %q: %w", ref, sender, err)
	}
	return found, nil
}

// CountMessages returns the number of registered messages.
func (s *Store) CountMessages() (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		n = bucket(tx, bucketMessages).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count messages: %w", err)
	}
	return n, nil
}
