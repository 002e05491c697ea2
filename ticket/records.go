package ticket

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Records are stored as JSON. A value of about 2 KB or more no longer shares a 4 KiB page
// with others (go-libs.md pitfall 21), so long fields are capped and a message record is
// shrunk further until it fits maxRecordBytes.
const (
	maxRecordBytes = 1800
	maxSubject     = 256
	maxName        = 128
	maxAddress     = 254 // RFC 5321 §4.5.3.1.3 path limit, minus the brackets
	maxMessageID   = 250
	maxText        = 256 // Malformed, Ack.Reason, Ack.Reply
	maxList        = 8   // To, Attachments
	maxFileName    = 100
	maxIDList      = 4  // InReplyTo, References
	maxBounce      = 32 // Ack.Bounce, a status code such as "5.1.1"
)

// caseRecord is a case as stored: without its messages, which it lists by Seq.
type caseRecord struct {
	Reference Reference   `json:"reference"`
	Mailbox   string      `json:"mailbox"`
	Status    CaseStatus  `json:"status"`
	Kind      Kind        `json:"kind"`
	Created   time.Time   `json:"created"`
	Updated   time.Time   `json:"updated"`
	Sender    string      `json:"sender"`
	Subject   string      `json:"subject"`
	StatusAt  time.Time   `json:"status_at,omitzero"`
	Links     []Reference `json:"links,omitempty"` // at most maxLinks
	Purged    time.Time   `json:"purged,omitzero"`
	Seqs      []uint64    `json:"seqs"`
}

func (c *caseRecord) toCase() Case {
	return Case{Reference: c.Reference, Mailbox: c.Mailbox, Status: c.Status, Kind: c.Kind,
		Created: c.Created, Updated: c.Updated, Sender: c.Sender, Subject: c.Subject,
		StatusAt: c.StatusAt, Links: slices.Clone(c.Links), Purged: c.Purged}
}

// messageRecord is a message as stored, with the reference of its case.
type messageRecord struct {
	Case Reference `json:"case"`
	Message
}

func getCase(tx *bolt.Tx, ref Reference) (*caseRecord, error) {
	v := bucket(tx, bucketCases).Get(refKey(ref))
	if v == nil {
		return nil, fmt.Errorf("case %s: %w", ref, ErrNotFound)
	}
	var c caseRecord
	if err := json.Unmarshal(v, &c); err != nil {
		return nil, fmt.Errorf("decode case %s: %w", ref, err)
	}
	return &c, nil
}

func putCase(tx *bolt.Tx, c *caseRecord) error {
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode case %s: %w", c.Reference, err)
	}
	return appendBucket(tx, bucketCases).Put(refKey(c.Reference), v)
}

func getMessage(tx *bolt.Tx, seq uint64) (*messageRecord, error) {
	v := bucket(tx, bucketMessages).Get(seqKey(seq))
	if v == nil {
		return nil, fmt.Errorf("message %d: %w", seq, ErrNotFound)
	}
	var m messageRecord
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, fmt.Errorf("decode message %d: %w", seq, err)
	}
	return &m, nil
}

func putMessage(tx *bolt.Tx, m *messageRecord) error {
	v, err := encodeMessage(m)
	if err != nil {
		return fmt.Errorf("encode message %d: %w", m.Seq, err)
	}
	return appendBucket(tx, bucketMessages).Put(seqKey(m.Seq), v)
}

// loadCase assembles a Case with its messages.
func loadCase(tx *bolt.Tx, rec *caseRecord) (Case, error) {
	c := rec.toCase()
	c.Messages = make([]Message, 0, len(rec.Seqs))
	for _, seq := range rec.Seqs {
		m, err := getMessage(tx, seq)
		if err != nil {
			return Case{}, fmt.Errorf("case %s: %w", rec.Reference, err)
		}
		c.Messages = append(c.Messages, m.Message)
	}
	return c, nil
}

// capMessage bounds every free-size field of m.
func capMessage(m *Message) {
	m.MessageID = truncate(m.MessageID, maxMessageID)
	m.From = truncate(m.From, maxAddress)
	m.FromName = truncate(m.FromName, maxName)
	m.Subject = truncate(m.Subject, maxSubject)
	m.Malformed = truncate(m.Malformed, maxText)
	m.To = capList(m.To, maxList, maxAddress)
	m.Attachments = capList(m.Attachments, maxList, maxFileName)
	m.InReplyTo = capList(m.InReplyTo, maxIDList, maxMessageID)
	m.References = capReferences(m.References, maxIDList)
	m.Ack.Reason = truncate(m.Ack.Reason, maxText)
	m.Ack.Recipient = truncate(m.Ack.Recipient, maxAddress)
	m.Ack.Reply = truncate(m.Ack.Reply, maxText)
	m.Ack.Bounce = truncate(m.Ack.Bounce, maxBounce)
}

// shrink makes m smaller, least valuable data first; step counts from 0. It reports
// false when there is nothing left to drop.
func shrink(m *Message, step int) bool {
	switch step {
	case 0:
		m.References = capReferences(m.References, 2)
	case 1:
		m.To = capList(m.To, 2, maxAddress)
	case 2:
		m.Attachments = capList(m.Attachments, 3, 40)
	case 3:
		m.InReplyTo = capList(m.InReplyTo, 1, maxMessageID)
	case 4:
		m.Ack.Reply = truncate(m.Ack.Reply, 80)
		m.Malformed = truncate(m.Malformed, 80)
	case 5:
		m.Subject = truncate(m.Subject, 80)
		m.FromName = truncate(m.FromName, 40)
	case 6:
		m.References, m.To, m.Attachments = nil, nil, nil
	default:
		return false
	}
	return true
}

// encodeMessage encodes m, shrinking it until it fits maxRecordBytes where possible.
func encodeMessage(m *messageRecord) ([]byte, error) {
	capMessage(&m.Message)
	for step := 0; ; step++ {
		v, err := json.Marshal(m)
		if err != nil || len(v) <= maxRecordBytes || !shrink(&m.Message, step) {
			return v, err
		}
	}
}

// truncate cuts s to at most max bytes at a rune boundary, marking the cut with "…".
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	cut := max - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "") + ellipsis
}

// capList keeps the first n entries of list, each truncated to max bytes.
func capList(list []string, n, max int) []string {
	if len(list) > n {
		list = list[:n]
	}
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = truncate(s, max)
	}
	return out
}

// capReferences keeps the first and the last n-1 Message-IDs of a References list, as
// RFC 5322 §3.6.4 suggests when shortening it.
func capReferences(refs []string, n int) []string {
	if len(refs) > n {
		refs = append(refs[:1:1], refs[len(refs)-(n-1):]...)
	}
	return capList(refs, n, maxMessageID)
}
