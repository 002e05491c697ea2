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
// the sender index when f.Sender is set and the created index otherwise, so a time range
// or a Limit stops the walk early.
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
	err := s.db.View(func(tx *bolt.Tx) error {
		if f.Sender != "" {
			prefix := join([]byte(strings.ToLower(f.Sender)), nil)
			lo := append(bytes.Clone(prefix), timeKey(clampTime(f.Since))...)
			hi := prefixEnd(prefix)
			if !f.Until.IsZero() {
				hi = append(bytes.Clone(prefix), timeKey(clampTime(f.Until))...)
			}
			return scanBack(bucket(tx, bucketSender), lo, hi, func(k []byte) (bool, error) {
				return visit(tx, k[len(prefix)+9:])
			})
		}
		var lo, hi []byte
		if !f.Since.IsZero() {
			lo = timeKey(clampTime(f.Since))
		}
		if !f.Until.IsZero() {
			hi = timeKey(clampTime(f.Until))
		}
		return scanBack(bucket(tx, bucketCreated), lo, hi, func(k []byte) (bool, error) {
			return visit(tx, k[9:])
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return out, nil
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

// scanBack calls fn for the keys k of b with lo <= k < hi, highest first, until fn reports
// stop. A nil hi means no upper bound.
func scanBack(b *bolt.Bucket, lo, hi []byte, fn func(k []byte) (stop bool, err error)) error {
	c := b.Cursor()
	var k []byte
	if hi == nil {
		k, _ = c.Last()
	} else if k, _ = c.Seek(hi); k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && bytes.Compare(k, lo) >= 0; k, _ = c.Prev() {
		if stop, err := fn(k); err != nil || stop {
			return err
		}
	}
	return nil
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
