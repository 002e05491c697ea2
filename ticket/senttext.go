package ticket

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// What was sent (issue 11): the subject and decoded text of an acknowledgement or interim
// notice exactly as rendered for sending, so that the clerk sees what the citizen got,
// not only a status. They are kept beside the message records (which stay small, see
// maxRecordBytes) in the bucket "sent_text", created by the first write:
//
//	'a' seq(8)  -> SentText (JSON)   the acknowledgement of message seq
//	'i' refkey  -> SentText (JSON)   the interim notice of a case
//
// RecordAck and RecordInterim write it in the transaction that records the attempt.
const bucketSentText = "sent_text"

// MaxSentText bounds the stored text of one sent mail (bytes); a longer text is cut and
// SentText.Truncated set. Our templates render a few kilobytes.
const MaxSentText = 16 << 10

// SentText is an acknowledgement or notice as it was sent: the subject (decoded, one line)
// and the plain text body.
type SentText struct {
	Subject   string `json:"subject"`
	Text      string `json:"text"`
	Truncated bool   `json:"truncated,omitempty"`
}

func ackSentKey(seq uint64) []byte        { return append([]byte{'a'}, seqKey(seq)...) }
func interimSentKey(ref Reference) []byte { return append([]byte{'i'}, refKey(ref)...) }

func putSentText(tx *bolt.Tx, key []byte, st SentText) error {
	st.Subject = truncate(st.Subject, maxSubject*4)
	if len(st.Text) > MaxSentText {
		st.Text, st.Truncated = truncate(st.Text, MaxSentText), true
	}
	b, err := writeBucket(tx, bucketSentText)
	if err != nil {
		return err
	}
	v, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode sent text: %w", err)
	}
	if err := b.Put(key, v); err != nil {
		return fmt.Errorf("sent text: %w", err)
	}
	return nil
}

func (s *Store) sentText(key []byte) (*SentText, error) {
	var st *SentText
	err := s.db.View(func(tx *bolt.Tx) error {
		b := bucket(tx, bucketSentText)
		if b == nil {
			return nil
		}
		v := b.Get(key)
		if v == nil {
			return nil
		}
		st = new(SentText)
		return json.Unmarshal(v, st)
	})
	return st, err
}

// SentAck returns what was sent as the acknowledgement of message seq; nil when nothing
// was recorded (not sent yet, or sent by a version before this record).
func (s *Store) SentAck(seq uint64) (*SentText, error) {
	st, err := s.sentText(ackSentKey(seq))
	if err != nil {
		return nil, fmt.Errorf("sent acknowledgement of message %d: %w", seq, err)
	}
	return st, nil
}

// SentInterim returns what was sent as the interim notice of case ref; nil when nothing.
func (s *Store) SentInterim(ref Reference) (*SentText, error) {
	st, err := s.sentText(interimSentKey(ref))
	if err != nil {
		return nil, fmt.Errorf("sent interim notice of %s: %w", ref, err)
	}
	return st, nil
}

// CaseSent is what was sent for a case: the texts of its acknowledgements by message Seq,
// and its interim notice with its text.
type CaseSent struct {
	Acks        map[uint64]SentText `json:"acks,omitempty"`
	Interim     *Interim            `json:"interim,omitempty"`
	InterimText *SentText           `json:"interim_text,omitempty"`
}

// SentOf returns what was sent for case ref (ErrNotFound for an unknown case).
func (s *Store) SentOf(ref Reference) (*CaseSent, error) {
	out := &CaseSent{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c, err := getCase(tx, ref)
		if err != nil {
			return err
		}
		if out.Interim, err = getInterim(bucket(tx, bucketInterim), ref); err != nil {
			return err
		}
		b := bucket(tx, bucketSentText)
		if b == nil {
			return nil
		}
		get := func(k []byte) (*SentText, error) {
			v := b.Get(k)
			if v == nil {
				return nil, nil
			}
			st := new(SentText)
			if err := json.Unmarshal(v, st); err != nil {
				return nil, fmt.Errorf("decode sent text: %w", err)
			}
			return st, nil
		}
		for _, seq := range c.Seqs {
			st, err := get(ackSentKey(seq))
			if err != nil {
				return err
			}
			if st != nil {
				if out.Acks == nil {
					out.Acks = map[uint64]SentText{}
				}
				out.Acks[seq] = *st
			}
		}
		out.InterimText, err = get(interimSentKey(ref))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sent mail of %s: %w", ref, err)
	}
	return out, nil
}

// SentAckView is an acknowledgement with the subject and text sent.
type SentAckView struct {
	Ack
	Subject   string `json:"subject,omitempty"`
	Text      string `json:"text,omitempty"`
	Truncated bool   `json:"text_truncated,omitempty"`
}

// MessageView is a message whose acknowledgement carries what was sent.
type MessageView struct {
	Message
	Ack SentAckView `json:"ack"`
}

// InterimView is the interim notice with what was sent.
type InterimView struct {
	Interim
	Subject   string `json:"subject,omitempty"`
	Text      string `json:"text,omitempty"`
	Truncated bool   `json:"text_truncated,omitempty"`
}

// CaseView is a case as "intake case show -json" and GET /api/cases/{ref} show it: the
// register's case with what was sent on each acknowledgement ("ack": {..., "subject",
// "text"}) and the interim notice (issue 11).
type CaseView struct {
	Case
	Messages []MessageView `json:"messages"`
	Interim  *InterimView  `json:"interim,omitempty"`
}

// NewCaseView joins c and what was sent for it (cs may be nil: nothing known).
func NewCaseView(c *Case, cs *CaseSent) CaseView {
	out := CaseView{Case: *c, Messages: []MessageView{}}
	for _, m := range c.Messages {
		mv := MessageView{Message: m, Ack: SentAckView{Ack: m.Ack}}
		if cs != nil {
			if st, ok := cs.Acks[m.Seq]; ok {
				mv.Ack.Subject, mv.Ack.Text, mv.Ack.Truncated = st.Subject, st.Text, st.Truncated
			}
		}
		out.Messages = append(out.Messages, mv)
	}
	if cs != nil && cs.Interim != nil {
		out.Interim = &InterimView{Interim: *cs.Interim}
		if st := cs.InterimText; st != nil {
			out.Interim.Subject, out.Interim.Text, out.Interim.Truncated = st.Subject, st.Text, st.Truncated
		}
	}
	return out
}
