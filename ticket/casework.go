package ticket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"
)

// Casework is what clerks add to a case: who is assigned to it and internal notes. It is
// kept beside the case record (which Register writes and the index relies on), in two
// buckets created by the first write:
//
//	casework  case key -> {assignee, assigned_at, assigned_by} (JSON)
//	notes     case key seq(8) -> note (JSON); seq from the bucket's NextSequence
//
// Each change writes its audit entry in the same transaction, so no change goes
// unrecorded.

// MaxNoteLen bounds the text of a note (bytes).
const MaxNoteLen = 8000

// ErrEmptyNote: AddNote with a text that is empty or only white space.
var ErrEmptyNote = errors.New("empty note")

// Note is an internal note on a case; citizens never see it.
type Note struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

// Casework is the clerks' part of a case.
type Casework struct {
	Assignee   string    `json:"assignee,omitempty"` // user name, "" = nobody
	AssignedAt time.Time `json:"assigned_at,omitzero"`
	AssignedBy string    `json:"assigned_by,omitempty"`
	Notes      []Note    `json:"notes,omitempty"` // oldest first
}

type assignment struct {
	Assignee   string    `json:"assignee,omitempty"`
	AssignedAt time.Time `json:"assigned_at,omitzero"`
	AssignedBy string    `json:"assigned_by,omitempty"`
}

// cleanNote trims text, normalises line breaks to "\n" and drops control characters
// other than line breaks and tabs.
func cleanNote(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ToValidUTF8(text, "\uFFFD")
	text = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r == '\r' {
			return '\n'
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, text)
	return strings.TrimSpace(text)
}

// AddNote adds an internal note by a to case ref and writes its audit entry (AuditNote)
// in the same transaction. An empty text gives ErrEmptyNote, a text longer than MaxNoteLen
// bytes is refused, an unknown case gives an error wrapping ErrNotFound.
func (s *Store) AddNote(ref Reference, text string, a Actor) (Note, error) {
	text = cleanNote(text)
	if text == "" {
		return Note{}, fmt.Errorf("add note to %s: %w", ref, ErrEmptyNote)
	}
	if len(text) > MaxNoteLen {
		return Note{}, fmt.Errorf("add note to %s: %d bytes (at most %d)", ref, len(text), MaxNoteLen)
	}
	n := Note{At: a.At, Author: a.Name, Text: text}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if _, err := getCase(tx, ref); err != nil {
			return err
		}
		b, err := writeBucket(tx, bucketNotes)
		if err != nil {
			return err
		}
		if n.Seq, err = b.NextSequence(); err != nil {
			return err
		}
		v, err := json.Marshal(n)
		if err != nil {
			return err
		}
		if err := b.Put(append(refKey(ref), seqKey(n.Seq)...), v); err != nil {
			return err
		}
		e := a.NewAuditEntry(AuditNote, ref, fmt.Sprintf("note %d (%d characters)", n.Seq, len([]rune(text))))
		return appendAudit(tx, &e)
	})
	if err != nil {
		return Note{}, fmt.Errorf("add note to %s: %w", ref, err)
	}
	return n, nil
}

// Assign assigns case ref to user assignee ("" = nobody) and writes its audit entry
// (AuditAssign) in the same transaction. The assignee must be an existing, enabled user
// (ErrNotFound, ErrDisabled); whether they may see the case's mailbox is the caller's
// decision.
func (s *Store) Assign(ref Reference, assignee string, a Actor) error {
	assignee = NormalizeUserName(assignee)
	err := s.db.Update(func(tx *bolt.Tx) error {
		c, err := getCase(tx, ref)
		if err != nil {
			return err
		}
		if assignee != "" {
			u, err := getUser(tx, assignee)
			if err != nil {
				return err
			}
			if u.Disabled {
				return fmt.Errorf("user %q: %w", assignee, ErrDisabled)
			}
		}
		b, err := writeBucket(tx, bucketCasework)
		if err != nil {
			return err
		}
		var old assignment
		if v := b.Get(refKey(ref)); v != nil {
			if err := json.Unmarshal(v, &old); err != nil {
				return fmt.Errorf("decode casework: %w", err)
			}
		}
		v, err := json.Marshal(assignment{Assignee: assignee, AssignedAt: a.At, AssignedBy: a.Name})
		if err != nil {
			return err
		}
		if err := b.Put(refKey(ref), v); err != nil {
			return err
		}
		if err := accountWork(tx, c, old.Assignee, -1); err != nil {
			return fmt.Errorf("worklist: %w", err)
		}
		if err := accountWork(tx, c, assignee, 1); err != nil {
			return fmt.Errorf("worklist: %w", err)
		}
		e := a.NewAuditEntry(AuditAssign, ref, fmt.Sprintf("%q -> %q", old.Assignee, assignee))
		return appendAudit(tx, &e)
	})
	if err != nil {
		return fmt.Errorf("assign %s to %q: %w", ref, assignee, err)
	}
	return nil
}

// CaseworkOf returns the assignee and the notes of case ref (empty when there are none;
// an unknown case gives an error wrapping ErrNotFound).
func (s *Store) CaseworkOf(ref Reference) (*Casework, error) {
	var w Casework
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := getCase(tx, ref); err != nil {
			return err
		}
		if b := bucket(tx, bucketCasework); b != nil {
			if v := b.Get(refKey(ref)); v != nil {
				var as assignment
				if err := json.Unmarshal(v, &as); err != nil {
					return fmt.Errorf("decode casework: %w", err)
				}
				w.Assignee, w.AssignedAt, w.AssignedBy = as.Assignee, as.AssignedAt, as.AssignedBy
			}
		}
		b := bucket(tx, bucketNotes)
		if b == nil {
			return nil
		}
		prefix := refKey(ref)
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) != len(prefix)+8 {
				continue
			}
			var n Note
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("decode note %x: %w", k, err)
			}
			w.Notes = append(w.Notes, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("casework of %s: %w", ref, err)
	}
	return &w, nil
}
