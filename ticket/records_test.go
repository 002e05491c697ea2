package ticket

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

func TestRecordsStaySmall(t *testing.T) {
	s := newTestStore(t)
	in := incoming(1, strings.Repeat("i", 300)+"@example.org", t0)
	in.Message.Subject = strings.Repeat("Ä", 2000)
	in.Message.FromName = strings.Repeat("n", 500)
	in.Message.Malformed = strings.Repeat("m", 5000)
	in.Message.To = nil
	for i := range 100 {
		in.Message.To = append(in.Message.To, fmt.Sprintf("person%03d@example.org", i))
		in.Message.Attachments = append(in.Message.Attachments, fmt.Sprintf("%s-%03d.pdf", strings.Repeat("f", 150), i))
		in.Message.References = append(in.Message.References, fmt.Sprintf("ref%03d.%s@example.org", i, strings.Repeat("r", 60)))
		in.Message.InReplyTo = append(in.Message.InReplyTo, fmt.Sprintf("irt%03d@example.org", i))
	}
	reg := mustRegister(t, s, in)

	err := s.db.View(func(tx *bolt.Tx) error {
		for _, b := range []struct {
			name string
			key  []byte
		}{{bucketMessages, seqKey(reg.Seq)}, {bucketCases, refKey(reg.Reference)}} {
			v := bucket(tx, b.name).Get(b.key)
			t.Logf("%s record: %d bytes", b.name, len(v))
			if len(v) == 0 || len(v) > maxRecordBytes {
				t.Errorf("%s record of %d bytes, want 1..%d", b.name, len(v), maxRecordBytes)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := mustLookup(t, s, reg.Reference)
	m := c.Messages[0]
	if !utf8.ValidString(m.Subject) || !strings.HasSuffix(m.Subject, "…") || len(m.Subject) > maxSubject {
		t.Errorf("subject %d bytes, valid %v", len(m.Subject), utf8.ValidString(m.Subject))
	}
	if len(c.Subject) > maxSubject || !utf8.ValidString(c.Subject) {
		t.Errorf("case subject %d bytes", len(c.Subject))
	}
	if len(m.To) == 0 || m.To[0] != "person000@example.org" {
		t.Errorf("To = %v", m.To)
	}
	if len(m.References) > 0 && m.References[len(m.References)-1] != in.Message.References[99] {
		t.Errorf("References lost the last entry: %v", m.References)
	}
	// The full Message-ID still finds the case, although the stored one is cut.
	if ref, err := s.CaseOfMessage("post", in.Message.MessageID); err != nil || *ref != reg.Reference {
		t.Errorf("CaseOfMessage(long id) = %v, %v", ref, err)
	}
	if r := mustRegister(t, s, in); !r.Duplicate {
		t.Errorf("long Message-ID not deduplicated")
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcdef", 5, "ab…"},
		{"ääää", 7, "ää…"},
		{"ääää", 6, "ä…"}, // the cut inside the second ä moves back
		{"", 5, ""},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.max); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// TestCaseJSONContract pins the JSON names scripts rely on (DESIGN.md § Contracts).
func TestCaseJSONContract(t *testing.T) {
	s := newTestStore(t)
	in := incoming(1, "a@x", t0)
	in.AckRecipient, in.SuppressReason = "", "LIST"
	reg := mustRegister(t, s, in)
	c := mustLookup(t, s, reg.Reference)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"reference", "mailbox", "status", "created", "messages"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("case JSON lacks %q: %s", key, b)
		}
	}
	if doc["reference"] != "STK-2026-000001-5" || doc["status"] != "new" {
		t.Errorf("case JSON: %s", b)
	}
	msg := doc["messages"].([]any)[0].(map[string]any)
	for _, key := range []string{"from", "subject", "received", "message_id", "ack"} {
		if _, ok := msg[key]; !ok {
			t.Errorf("message JSON lacks %q: %s", key, b)
		}
	}
	ack := msg["ack"].(map[string]any)
	if ack["status"] != "suppressed" || ack["reason"] != "LIST" {
		t.Errorf("ack JSON: %v", ack)
	}
	var back Case
	if err := json.Unmarshal(b, &back); err != nil || back.Reference != c.Reference {
		t.Errorf("case JSON does not read back: %v", err)
	}
}
