package ticket

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// MessageItem is one registered message with its case (without the case's
// message list): what derived data such as the search index is built from.
type MessageItem struct {
	Message Message
	Case    Case
}

// MessagesAfter returns up to limit messages with a Seq above after, in Seq
// order. Following the register this way is crash-safe for derived data:
// it asks again from the last Seq it has.
func (s *Store) MessagesAfter(after uint64, limit int) ([]MessageItem, error) {
	var out []MessageItem
	err := s.db.View(func(tx *bolt.Tx) error {
		cases := map[Reference]Case{}
		c := bucket(tx, bucketMessages).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			var m messageRecord
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("message %x: %w", k, err)
			}
			cs, ok := cases[m.Case]
			if !ok {
				cr, err := getCase(tx, m.Case)
				if err != nil {
					return err
				}
				cs = cr.toCase()
				cases[m.Case] = cs
			}
			out = append(out, MessageItem{Message: m.Message, Case: cs})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("messages after %d: %w", after, err)
	}
	return out, nil
}

// LastSeq returns the highest Seq of a registered message (0 for none): with the search
// index's LastSeq, how far the index lags behind the register.
func (s *Store) LastSeq() (uint64, error) {
	var last uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if k, _ := bucket(tx, bucketMessages).Cursor().Last(); len(k) == 8 {
			last = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("last seq: %w", err)
	}
	return last, nil
}
