package ticket

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The worklist bucket (schema version 3) keeps what the clerks' worklist must answer
// without reading every case: counters maintained in the transactions that register a
// case, change its status or assign it, and an index of the cases by assignee.
//
//	'c' mailbox 0 kind 0 status 0 assignee      -> count (8, big endian)
//	'd' mailbox 0 day(4)                         -> count of open (not closed), not
//	                                                automated cases created that UTC day
//	'a' assignee 0 created(8) 0 refkey           -> nil
//
// The counts never hold mail content; the 'c' space has at most mailboxes × 3 kinds ×
// 3 statuses × (users+1) keys and the 'd' space one key per mailbox and day, so a count
// reads a few thousand small keys whatever the number of cases.
const bucketWorklist = "worklist"

const (
	tagCount    = 'c'
	tagOpenDay  = 'd'
	tagAssignee = 'a'
)

// countKey: 'c' mailbox 0 kind 0 status 0 assignee.
func countKey(mailbox string, kind Kind, status CaseStatus, assignee string) []byte {
	return tagged(tagCount, []byte(mailbox), []byte(kind), []byte(status), []byte(assignee))
}

// dayNumber is the number of the UTC day of t since 1970-01-01 (days before are 0).
func dayNumber(t time.Time) uint32 {
	d := t.Unix() / 86400
	if d < 0 {
		return 0
	}
	return uint32(d)
}

// openDayKey: 'd' mailbox 0 day(4).
func openDayKey(mailbox string, day uint32) []byte {
	return tagged(tagOpenDay, []byte(mailbox), u32(day))
}

// assigneePrefix: 'a' assignee 0.
func assigneePrefix(assignee string) []byte {
	return tagged(tagAssignee, []byte(assignee), nil)
}

// assigneeKey: 'a' assignee 0 created(8) 0 refkey.
func assigneeKey(assignee string, created time.Time, ref Reference) []byte {
	return tagged(tagAssignee, []byte(assignee), timeKey(created), refKey(ref))
}

// addCount adds delta to the counter k of b; a counter that reaches 0 is deleted.
func addCount(b *bolt.Bucket, k []byte, delta int64) error {
	var n int64
	if v := b.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n < 0 {
		return fmt.Errorf("worklist counter %q below zero", k)
	}
	if n == 0 {
		return b.Delete(k)
	}
	return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// openCounts reports whether a case counts in the 'd' space: not closed, not automated.
func openCounts(c *caseRecord) bool {
	return c.Status != StatusClosed && c.Kind != KindAutomated
}

// accountWork adds (delta +1) or removes (-1) case c with assignee to or from the
// worklist counters and the assignee index.
func accountWork(tx *bolt.Tx, c *caseRecord, assignee string, delta int64) error {
	b := bucket(tx, bucketWorklist)
	if err := addCount(b, countKey(c.Mailbox, c.Kind, c.Status, assignee), delta); err != nil {
		return err
	}
	if openCounts(c) {
		if err := addCount(b, openDayKey(c.Mailbox, dayNumber(c.Created)), delta); err != nil {
			return err
		}
	}
	if assignee == "" {
		return nil
	}
	k := assigneeKey(assignee, c.Created, c.Reference)
	if delta > 0 {
		return b.Put(k, nil)
	}
	return b.Delete(k)
}

// assigneeOf returns the assignee of case ref in tx ("" = nobody).
func assigneeOf(tx *bolt.Tx, ref Reference) (string, error) {
	b := bucket(tx, bucketCasework)
	if b == nil {
		return "", nil
	}
	v := b.Get(refKey(ref))
	if v == nil {
		return "", nil
	}
	var as assignment
	if err := json.Unmarshal(v, &as); err != nil {
		return "", fmt.Errorf("decode casework of %s: %w", ref, err)
	}
	return as.Assignee, nil
}

// migrateV2 builds the worklist bucket of schema version 3 from the cases and their
// assignments. The bucket is emptied first, so the result depends only on them.
func migrateV2(tx *bolt.Tx) error {
	if err := tx.DeleteBucket([]byte(bucketWorklist)); err != nil {
		return fmt.Errorf("reset bucket %s: %w", bucketWorklist, err)
	}
	if _, err := tx.CreateBucket([]byte(bucketWorklist)); err != nil {
		return fmt.Errorf("reset bucket %s: %w", bucketWorklist, err)
	}
	return bucket(tx, bucketCases).ForEach(func(k, v []byte) error {
		var c caseRecord
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("decode case %x: %w", k, err)
		}
		a, err := assigneeOf(tx, c.Reference)
		if err != nil {
			return err
		}
		return accountWork(tx, &c, a, 1)
	})
}

// WorkFilter selects the cases of a worklist tab. Zero fields do not filter.
type WorkFilter struct {
	Mailboxes []string     // nil = all; an empty, non-nil slice = none
	Kinds     []Kind       // nil = all
	Statuses  []CaseStatus // nil = all
	// Assignee: nil = anybody or nobody; "" = unassigned cases; a name = that user's cases
	// (walked through the assignee index).
	Assignee *string
	// OverdueAt, when set, keeps only cases created before the UTC day of the cutoff of
	// their mailbox (see Overdue); a mailbox without a cutoff has no overdue cases.
	OverdueAt map[string]time.Time
	Oldest    bool // oldest first; default newest first (by Created)
	Offset    int
	Limit     int // 0 = 20
}

// WorkItem is one row of the worklist: a case with its messages, and its assignee.
type WorkItem struct {
	Case     Case
	Assignee string
}

// overdueBefore returns the start of the UTC day of cutoff: a case created before it is
// overdue. Counting by whole days lets WorkCounts read one counter per day.
func overdueBefore(cutoff time.Time) time.Time {
	return time.Unix(int64(dayNumber(cutoff))*86400, 0).UTC()
}

func (f *WorkFilter) matches(c *caseRecord, assignee string) bool {
	if f.Mailboxes != nil && !slices.Contains(f.Mailboxes, c.Mailbox) {
		return false
	}
	if f.Kinds != nil && !slices.Contains(f.Kinds, c.Kind) {
		return false
	}
	if f.Statuses != nil && !slices.Contains(f.Statuses, c.Status) {
		return false
	}
	if f.Assignee != nil && assignee != *f.Assignee {
		return false
	}
	if f.OverdueAt != nil {
		cut, ok := f.OverdueAt[c.Mailbox]
		if !ok || cut.IsZero() || !openCounts(c) || !c.Created.Before(overdueBefore(cut)) {
			return false
		}
	}
	return true
}

// Worklist returns the page of cases matching f (newest or oldest first) and whether there
// are more. It walks the assignee index for a named assignee, else the status index of
// f.Statuses (all statuses when nil), bounded above by the latest overdue cutoff.
func (s *Store) Worklist(f WorkFilter) ([]WorkItem, bool, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 20
	}
	var (
		out     []WorkItem
		skipped int
		more    bool
	)
	if f.Mailboxes != nil && len(f.Mailboxes) == 0 {
		return nil, false, nil
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		var (
			b        *bolt.Bucket
			prefixes [][]byte
		)
		if f.Assignee != nil && *f.Assignee != "" {
			b, prefixes = bucket(tx, bucketWorklist), [][]byte{assigneePrefix(*f.Assignee)}
		} else {
			b = bucket(tx, bucketIndex)
			if f.Statuses == nil {
				prefixes = keyPrefixes(b, tagStatus)
			}
			for _, st := range f.Statuses {
				prefixes = append(prefixes, statusPrefix(st))
			}
		}
		var hiTime time.Time
		for _, cut := range f.OverdueAt {
			if t := overdueBefore(cut); t.After(hiTime) {
				hiTime = t
			}
		}
		if f.OverdueAt != nil && hiTime.IsZero() {
			return nil
		}
		visit := func(suffix []byte) (bool, error) {
			if len(suffix) < 9 {
				return false, nil
			}
			ref, err := parseRefKey(suffix[9:])
			if err != nil {
				return false, err
			}
			rec, err := getCase(tx, ref)
			if err != nil {
				return false, err
			}
			a, err := assigneeOf(tx, ref)
			if err != nil {
				return false, err
			}
			if !f.matches(rec, a) {
				return false, nil
			}
			if skipped < f.Offset {
				skipped++
				return false, nil
			}
			if len(out) == limit {
				more = true
				return true, nil
			}
			c, err := loadCase(tx, rec)
			if err != nil {
				return false, err
			}
			out = append(out, WorkItem{Case: c, Assignee: a})
			return false, nil
		}
		if f.Oldest {
			cursors := make([]*fwdCursor, 0, len(prefixes))
			for _, p := range prefixes {
				cursors = append(cursors, newFwdCursor(b, p, scanEnd(p, hiTime), len(p)))
			}
			return mergeFwd(cursors, visit)
		}
		cursors := make([]*backCursor, 0, len(prefixes))
		for _, p := range prefixes {
			cursors = append(cursors, newBackCursor(b, p, scanEnd(p, hiTime), len(p)))
		}
		return mergeBack(cursors, visit)
	})
	if err != nil {
		return nil, false, fmt.Errorf("worklist: %w", err)
	}
	return out, more, nil
}

// fwdCursor walks the keys k of a bucket with lo <= k < hi forwards.
type fwdCursor struct {
	c         *bolt.Cursor
	hi        []byte
	key       []byte
	prefixLen int
}

func newFwdCursor(b *bolt.Bucket, lo, hi []byte, prefixLen int) *fwdCursor {
	fc := &fwdCursor{c: b.Cursor(), hi: hi, prefixLen: prefixLen}
	k, _ := fc.c.Seek(lo)
	fc.set(k)
	return fc
}

func (fc *fwdCursor) set(k []byte) {
	if k != nil && bytes.Compare(k, fc.hi) >= 0 {
		k = nil
	}
	fc.key = k
}

// mergeFwd calls fn with the key suffixes of all cursors, lowest first, until fn stops.
func mergeFwd(cursors []*fwdCursor, fn func(suffix []byte) (stop bool, err error)) error {
	for {
		var top *fwdCursor
		for _, fc := range cursors {
			if fc.key != nil && (top == nil ||
				bytes.Compare(fc.key[fc.prefixLen:], top.key[top.prefixLen:]) < 0) {
				top = fc
			}
		}
		if top == nil {
			return nil
		}
		if stop, err := fn(top.key[top.prefixLen:]); err != nil || stop {
			return err
		}
		k, _ := top.c.Next()
		top.set(k)
	}
}

// WorkCounts are the numbers on the worklist tabs.
type WorkCounts struct {
	NewUnassigned int // not automated, new, nobody assigned
	Mine          int // assigned to the user, not closed
	InProgress    int // not automated, in progress
	Overdue       int // not automated, not closed, created before the mailbox's cutoff day
	Automated     int // automated, not closed
	All           int // every case
}

// CountWork returns the tab counts for a user who sees mailboxes (nil = all) from the
// counters of the worklist bucket: its cost grows with mailboxes, users and days, not
// with cases. overdueAt is each mailbox's cutoff (see WorkFilter.OverdueAt).
func (s *Store) CountWork(mailboxes []string, user string, overdueAt map[string]time.Time) (WorkCounts, error) {
	var wc WorkCounts
	user = NormalizeUserName(user)
	visible := func(m string) bool { return mailboxes == nil || slices.Contains(mailboxes, m) }
	err := s.db.View(func(tx *bolt.Tx) error {
		b := bucket(tx, bucketWorklist)
		c := b.Cursor()
		for k, v := c.Seek([]byte{tagCount}); len(k) > 0 && k[0] == tagCount; k, v = c.Next() {
			parts := bytes.Split(k[1:], []byte{sep})
			if len(parts) != 4 || len(v) != 8 {
				return fmt.Errorf("worklist counter %q", k)
			}
			mailbox, kind, status, assignee := string(parts[0]), Kind(parts[1]), CaseStatus(parts[2]), string(parts[3])
			if !visible(mailbox) {
				continue
			}
			n := int(binary.BigEndian.Uint64(v))
			wc.All += n
			open := status != StatusClosed
			switch {
			case kind == KindAutomated && open:
				wc.Automated += n
			case kind != KindAutomated && status == StatusNew && assignee == "":
				wc.NewUnassigned += n
			case kind != KindAutomated && status == StatusInProgress:
				wc.InProgress += n
			}
			if open && assignee != "" && assignee == user {
				wc.Mine += n
			}
		}
		for mailbox, cut := range overdueAt {
			if !visible(mailbox) || cut.IsZero() {
				continue
			}
			end := dayNumber(overdueBefore(cut))
			p := tagged(tagOpenDay, []byte(mailbox), nil)
			for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && len(k) == len(p)+4; k, v = c.Next() {
				if binary.BigEndian.Uint32(k[len(p):]) >= end {
					break
				}
				wc.Overdue += int(binary.BigEndian.Uint64(v))
			}
		}
		return nil
	})
	if err != nil {
		return WorkCounts{}, fmt.Errorf("count worklist: %w", err)
	}
	return wc, nil
}

// scanEnd is the exclusive upper key of a scan of prefix p: the whole prefix, or with a
// non-zero hiTime only the keys before p+hiTime.
func scanEnd(p []byte, hiTime time.Time) []byte {
	if hiTime.IsZero() {
		return prefixEnd(p)
	}
	return append(bytes.Clone(p), timeKey(hiTime)...)
}
