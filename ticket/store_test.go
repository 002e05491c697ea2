package ticket

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	// The year-boundary test needs Europe/Berlin also where the system has
	// no zoneinfo (minimal CI images): embed the tz database in the test.
	_ "time/tzdata"

	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func openTestStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func newTestStore(t testing.TB) *Store {
	t.Helper()
	s := openTestStore(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	return s
}

// incoming is a citizen's mail to mailbox "post" that gets an ack.
func incoming(uid uint32, messageID string, received time.Time) Incoming {
	return Incoming{
		Prefix: "STK",
		Message: Message{
			Mailbox: "post", UIDValidity: 7, UID: uid, MessageID: messageID,
			From: "Erika.Mustermann@Example.ORG", FromName: "Erika Mustermann",
			To: []string{"post@amt.example"}, Subject: fmt.Sprintf("Antrag %d", uid),
			Received: received, Size: 1234,
		},
		AckRecipient: "erika.mustermann@example.org",
		AckDomain:    "amt.example",
	}
}

func mustRegister(t testing.TB, s *Store, in Incoming) Registration {
	t.Helper()
	reg, err := s.Register(in)
	if err != nil {
		t.Fatalf("Register uid %d: %v", in.Message.UID, err)
	}
	return reg
}

func mustLookup(t testing.TB, s *Store, ref Reference) *Case {
	t.Helper()
	c, err := s.Lookup(ref)
	if err != nil {
		t.Fatalf("Lookup %s: %v", ref, err)
	}
	return c
}

func TestRegisterNewCase(t *testing.T) {
	s := newTestStore(t)
	in := incoming(1, "<abc@example.org>", t0)
	in.Message.Attachments = []string{"antrag.pdf"}
	reg := mustRegister(t, s, in)
	want := Registration{Reference: Reference{"STK", 2026, 1}, Seq: 1, NewCase: true}
	if reg != want {
		t.Fatalf("Register = %+v, want %+v", reg, want)
	}
	c := mustLookup(t, s, reg.Reference)
	if c.Reference != reg.Reference || c.Mailbox != "post" || c.Status != StatusNew || c.Kind != KindCitizen ||
		c.Sender != "erika.mustermann@example.org" || c.Subject != "Antrag 1" ||
		!c.Created.Equal(t0) || !c.Updated.Equal(t0) {
		t.Errorf("case = %+v", c)
	}
	if len(c.Messages) != 1 {
		t.Fatalf("%d messages, want 1", len(c.Messages))
	}
	m := c.Messages[0]
	if m.Seq != 1 || m.UID != 1 || m.UIDValidity != 7 || m.MessageID != "abc@example.org" ||
		m.From != "Erika.Mustermann@Example.ORG" || !m.Received.Equal(t0) ||
		!slices.Equal(m.Attachments, []string{"antrag.pdf"}) {
		t.Errorf("message = %+v", m)
	}
	// The ack's Message-ID carries the case, the seq and a tag (ackid.go).
	if !regexp.MustCompile(`^STK-2026-000001-5\.1\.[a-z2-7]{16}\.ack@amt\.example$`).MatchString(m.Ack.MessageID) {
		t.Errorf("ack Message-ID %q, want STK-2026-000001-5.1.<tag>.ack@amt.example", m.Ack.MessageID)
	}
	wantAck := Ack{Status: AckPending, Recipient: "erika.mustermann@example.org",
		MessageID: m.Ack.MessageID, NextTry: t0}
	if !m.Ack.NextTry.Equal(wantAck.NextTry) {
		t.Errorf("ack NextTry = %v, want %v", m.Ack.NextTry, t0)
	}
	m.Ack.NextTry = wantAck.NextTry
	if m.Ack != wantAck {
		t.Errorf("ack = %+v, want %+v", m.Ack, wantAck)
	}
	if n, err := s.CountMessages(); n != 1 || err != nil {
		t.Errorf("CountMessages = %d, %v", n, err)
	}
	if _, err := s.Lookup(Reference{"STK", 2026, 2}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup of a missing case: %v", err)
	}
}

func TestRegisterAckStates(t *testing.T) {
	tests := []struct {
		name      string
		recipient string
		reason    string
		kind      Kind
		want      Ack
	}{
		{"suppressed", "", "AUTO_SUBMITTED", KindAutomated, Ack{Status: AckSuppressed, Reason: "AUTO_SUBMITTED"}},
		{"no recipient", "", "", KindMalformed, Ack{Status: AckSuppressed, Reason: ReasonNoRecipient}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			in := incoming(1, "x@y", t0)
			in.AckRecipient, in.SuppressReason, in.Kind = tt.recipient, tt.reason, tt.kind
			in.Message.Ack = Ack{Status: AckSent, Attempts: 3} // ignored
			reg := mustRegister(t, s, in)
			c := mustLookup(t, s, reg.Reference)
			if c.Kind != tt.kind {
				t.Errorf("kind = %q, want %q", c.Kind, tt.kind)
			}
			if got := c.Messages[0].Ack; got != tt.want {
				t.Errorf("ack = %+v, want %+v", got, tt.want)
			}
			if reg.AckReason != tt.want.Reason {
				t.Errorf("AckReason = %q, want %q", reg.AckReason, tt.want.Reason)
			}
			if due, err := s.DueAcks("post", t0.Add(time.Hour), 0); len(due) != 0 || err != nil {
				t.Errorf("DueAcks = %v, %v; want none", due, err)
			}
		})
	}
}

func TestRegisterInvalid(t *testing.T) {
	tests := []struct {
		name   string
		change func(in *Incoming)
	}{
		{"bad prefix", func(in *Incoming) { in.Prefix = "stk" }},
		{"no mailbox", func(in *Incoming) { in.Message.Mailbox = "" }},
		{"no received", func(in *Incoming) { in.Message.Received = time.Time{} }},
		{"ack without domain", func(in *Incoming) { in.AckDomain = "" }},
		{"bad raw sum", func(in *Incoming) { in.Message.RawSHA256 = "../../etc/passwd" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			in := incoming(1, "x@y", t0)
			tt.change(&in)
			if reg, err := s.Register(in); err == nil {
				t.Fatalf("Register = %+v, want an error", reg)
			}
			if n, _ := s.CountMessages(); n != 0 {
				t.Errorf("%d messages stored", n)
			}
		})
	}
}

func TestRegisterDedupe(t *testing.T) {
	sum := func(c byte) string { return string(slices.Repeat([]byte{c}, 64)) }
	first := incoming(10, "<m1@example.org>", t0)
	first.Message.RawSHA256 = sum('a')
	tests := []struct {
		name string
		in   func() Incoming
		dup  bool
	}{
		{"same uid", func() Incoming { return incoming(10, "other@example.org", t0) }, true},
		{"same message-id, new uid", func() Incoming { return incoming(11, "m1@example.org", t0) }, true},
		{"same message-id, new uidvalidity", func() Incoming {
			in := incoming(1, " <m1@example.org> ", t0)
			in.Message.UIDValidity = 8
			return in
		}, true},
		{"same uid, new uidvalidity", func() Incoming {
			in := incoming(10, "m2@example.org", t0)
			in.Message.UIDValidity = 8
			return in
		}, false},
		{"same message-id, other mailbox", func() Incoming {
			in := incoming(10, "m1@example.org", t0)
			in.Message.Mailbox = "bauamt"
			return in
		}, false},
		{"same raw, has message-id", func() Incoming {
			in := incoming(11, "m2@example.org", t0)
			in.Message.RawSHA256 = sum('a')
			return in
		}, false},
		{"new message", func() Incoming { return incoming(11, "m2@example.org", t0) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			reg1 := mustRegister(t, s, first)
			reg2 := mustRegister(t, s, tt.in())
			if reg2.Duplicate != tt.dup {
				t.Fatalf("Duplicate = %v, want %v (%+v)", reg2.Duplicate, tt.dup, reg2)
			}
			n, _ := s.CountMessages()
			if tt.dup {
				if reg2.Reference != reg1.Reference || reg2.Seq != reg1.Seq || reg2.NewCase {
					t.Errorf("duplicate registration = %+v, want %+v", reg2, reg1)
				}
				if n != 1 {
					t.Errorf("%d messages after a duplicate, want 1", n)
				}
				// The duplicate used no number.
				if reg3 := mustRegister(t, s, incoming(99, "m3@example.org", t0)); reg3.Reference.Number != 2 {
					t.Errorf("next reference %s, want number 2", reg3.Reference)
				}
			} else if n != 2 || reg2.Seq != 2 {
				t.Errorf("new registration %+v, %d messages", reg2, n)
			}
		})
	}
}

func TestRegisterDedupeByRawHash(t *testing.T) {
	s := newTestStore(t)
	sum := string(slices.Repeat([]byte{'b'}, 64))
	in := incoming(1, "", t0)
	in.Message.RawSHA256 = sum
	reg1 := mustRegister(t, s, in)
	in.Message.UID = 2
	if reg2 := mustRegister(t, s, in); !reg2.Duplicate || reg2.Reference != reg1.Reference {
		t.Errorf("same raw hash: %+v", reg2)
	}
	in.Message.UID, in.Message.RawSHA256 = 3, string(slices.Repeat([]byte{'c'}, 64))
	if reg3 := mustRegister(t, s, in); reg3.Duplicate {
		t.Errorf("other raw hash: %+v", reg3)
	}
	// Neither Message-ID nor hash: only the UID dedupes.
	in.Message.UID, in.Message.RawSHA256 = 4, ""
	mustRegister(t, s, in)
	in.Message.UID = 5
	if reg := mustRegister(t, s, in); reg.Duplicate {
		t.Errorf("no id, new uid: %+v", reg)
	}
	if n, _ := s.CountMessages(); n != 4 {
		t.Errorf("%d messages, want 4", n)
	}
}

func TestWatermark(t *testing.T) {
	s := newTestStore(t)
	check := func(uidValidity, want uint32) {
		t.Helper()
		got, err := s.Watermark("post", uidValidity)
		if err != nil || got != want {
			t.Errorf("Watermark(post, %d) = %d, %v; want %d", uidValidity, got, err, want)
		}
	}
	check(7, 0)
	mustRegister(t, s, incoming(5, "a@x", t0))
	check(7, 5)
	mustRegister(t, s, incoming(3, "b@x", t0)) // lower UID: registered, watermark stays
	check(7, 5)
	// A duplicate by Message-ID with a higher UID still raises the watermark.
	if reg := mustRegister(t, s, incoming(9, "a@x", t0)); !reg.Duplicate {
		t.Fatalf("not a duplicate: %+v", reg)
	}
	check(7, 9)
	in := incoming(2, "c@x", t0)
	in.Message.UIDValidity = 8
	mustRegister(t, s, in)
	check(8, 2)
	check(7, 9)
	if got, _ := s.Watermark("bauamt", 7); got != 0 {
		t.Errorf("other mailbox watermark %d", got)
	}
}

func TestGaplessNumbering(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin") // time/tzdata is embedded
	if err != nil {
		t.Fatal(err)
	}
	s := newTestStore(t)
	newYearsEve := time.Date(2025, 12, 31, 23, 30, 0, 0, time.UTC) // 00:30 on 1 Jan 2026 in Berlin
	tests := []struct {
		prefix   string
		loc      *time.Location
		received time.Time
		want     string
	}{
		{"STK", berlin, t0, "STK-2026-000001-5"},
		{"STK", berlin, t0, "STK-2026-000002-8"},
		{"BAU", berlin, t0, "BAU-2026-000001-5"},
		{"STK", berlin, newYearsEve, "STK-2026-000003"},
		{"STK", nil, newYearsEve, "STK-2025-000001-9"},
		{"STK", time.UTC, newYearsEve, "STK-2025-000002-4"},
		{"STK", berlin, newYearsEve.Add(-time.Hour), "STK-2025-000003"},
		{"BAU", berlin, t0, "BAU-2026-000002"},
		{"STK", berlin, t0, "STK-2026-000004"},
	}
	for i, tt := range tests {
		in := incoming(uint32(i+1), fmt.Sprintf("m%d@x", i), tt.received)
		in.Prefix, in.Location = tt.prefix, tt.loc
		reg := mustRegister(t, s, in)
		if got := reg.Reference.String(); got[:len(tt.want)] != tt.want {
			t.Errorf("registration %d (%s at %v in %v) = %s, want %s", i, tt.prefix, tt.received, tt.loc, got, tt.want)
		}
	}
}

// TestRollbackConsumesNothing aborts a registration inside its transaction, after the
// number was taken; the next registration must get that number.
func TestRollbackConsumesNothing(t *testing.T) {
	s := newTestStore(t)
	mustRegister(t, s, incoming(1, "a@x", t0))
	boom := errors.New("boom")
	err := s.db.Update(func(tx *bolt.Tx) error {
		in := incoming(2, "b@x", t0)
		if err := checkIncoming(&in); err != nil {
			return err
		}
		reg, err := register(tx, in)
		if err != nil {
			return err
		}
		if reg.Reference.Number != 2 {
			return fmt.Errorf("number %d inside the tx", reg.Reference.Number)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v", err)
	}
	reg := mustRegister(t, s, incoming(3, "c@x", t0))
	if reg.Reference.Number != 2 || reg.Seq != 2 {
		t.Errorf("after rollback: %+v, want number 2 seq 2", reg)
	}
	if _, err := s.CaseOfMessage("post", "b@x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rolled-back message is indexed: %v", err)
	}
}

func TestConcurrentRegister(t *testing.T) {
	s := newTestStore(t)
	const workers, perWorker = 8, 40
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		regs []Registration
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				uid := uint32(w*perWorker + i + 1)
				in := incoming(uid, fmt.Sprintf("m%d@x", uid), t0)
				reg, err := s.Register(in)
				if err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 { // some mails are fetched twice
					again, err := s.Register(in)
					if err != nil || !again.Duplicate || again.Reference != reg.Reference || again.Seq != reg.Seq {
						t.Errorf("second Register of uid %d = %+v, %v; first %+v", uid, again, err, reg)
					}
				}
				mu.Lock()
				regs = append(regs, reg)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var numbers, seqs []uint64
	for _, r := range regs {
		if r.Duplicate || !r.NewCase {
			t.Fatalf("first registration %+v", r)
		}
		numbers = append(numbers, r.Reference.Number)
		seqs = append(seqs, r.Seq)
	}
	slices.Sort(numbers)
	slices.Sort(seqs)
	if len(numbers) != workers*perWorker {
		t.Fatalf("%d new registrations, want %d", len(numbers), workers*perWorker)
	}
	for i := range numbers {
		if numbers[i] != uint64(i+1) || seqs[i] != uint64(i+1) {
			t.Fatalf("numbers/seqs not gapless and unique at %d: number %d seq %d", i, numbers[i], seqs[i])
		}
	}
	if wm, _ := s.Watermark("post", 7); wm != workers*perWorker {
		t.Errorf("watermark %d, want %d", wm, workers*perWorker)
	}
}

func TestFollowUp(t *testing.T) {
	s := newTestStore(t)
	first := mustRegister(t, s, incoming(1, "orig@example.org", t0))
	mustRegister(t, s, incoming(2, "other@example.org", t0))

	// The citizen answers our ack: In-Reply-To holds our ack's Message-ID.
	sent, _, err := s.MessageBySeq(first.Seq)
	if err != nil {
		t.Fatal(err)
	}
	ackID := sent.Ack.MessageID
	ref, err := s.CaseOfMessage("post", "<"+ackID+">")
	if err != nil || *ref != first.Reference {
		t.Fatalf("CaseOfMessage(ack id) = %v, %v", ref, err)
	}
	if ref, err := s.CaseOfMessage("post", "orig@example.org"); err != nil || *ref != first.Reference {
		t.Fatalf("CaseOfMessage(orig) = %v, %v", ref, err)
	}
	if _, err := s.CaseOfMessage("bauamt", "orig@example.org"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CaseOfMessage in another mailbox: %v", err)
	}
	if _, err := s.CaseOfMessage("post", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("CaseOfMessage of an empty id: %v", err)
	}

	later := t0.Add(48 * time.Hour)
	in := incoming(3, "reply@example.org", later)
	in.Message.InReplyTo = []string{ackID}
	in.FollowUpOf = ref
	reg := mustRegister(t, s, in)
	if reg.Reference != first.Reference || reg.NewCase || reg.Duplicate || reg.Seq != 3 {
		t.Fatalf("follow-up = %+v", reg)
	}
	c := mustLookup(t, s, first.Reference)
	if len(c.Messages) != 2 || c.Messages[1].MessageID != "reply@example.org" || c.Subject != "Antrag 1" {
		t.Fatalf("case after follow-up: %+v", c)
	}
	if !c.Updated.Equal(later) || !c.Created.Equal(t0) {
		t.Errorf("created %v updated %v", c.Created, c.Updated)
	}
	if got := c.Messages[1].Ack.MessageID; !strings.HasPrefix(got, "STK-2026-000001-5.3.") || !strings.HasSuffix(got, ".ack@amt.example") {
		t.Errorf("follow-up ack id %q", got)
	}
	if ref, err := s.CaseOfMessage("post", "reply@example.org"); err != nil || *ref != first.Reference {
		t.Errorf("CaseOfMessage(reply) = %v, %v", ref, err)
	}
	// The follow-up took no number.
	if reg := mustRegister(t, s, incoming(4, "new@example.org", t0)); reg.Reference.Number != 3 {
		t.Errorf("next new case %s, want number 3", reg.Reference)
	}
	// A follow-up of an unknown case opens a new one.
	in = incoming(5, "stray@example.org", t0)
	in.FollowUpOf = &Reference{"STK", 2026, 777}
	if reg := mustRegister(t, s, in); !reg.NewCase || reg.Reference.Number != 4 {
		t.Errorf("follow-up of unknown case = %+v", reg)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	first := mustRegister(t, s, incoming(1, "a@x", t0))
	mustRegister(t, s, incoming(2, "b@x", t0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{}) // with fsync this time
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c := mustLookup(t, s, first.Reference); len(c.Messages) != 1 || c.Messages[0].MessageID != "a@x" {
		t.Errorf("case after reopen: %+v", c)
	}
	if wm, _ := s.Watermark("post", 7); wm != 2 {
		t.Errorf("watermark after reopen %d", wm)
	}
	if reg := mustRegister(t, s, incoming(1, "a@x", t0)); !reg.Duplicate {
		t.Errorf("re-fetch after reopen not a duplicate: %+v", reg)
	}
	if reg := mustRegister(t, s, incoming(3, "c@x", t0)); reg.Reference.Number != 3 || reg.Seq != 3 {
		t.Errorf("numbering after reopen: %+v", reg)
	}
	if due, _ := s.DueAcks("post", t0, 0); len(due) != 3 {
		t.Errorf("%d due acks after reopen, want 3", len(due))
	}
	if n, _ := s.CountMessages(); n != 3 {
		t.Errorf("%d messages", n)
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	defer s.Close()
	start := time.Now()
	s2, err := Open(dir, Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		s2.Close()
		t.Fatal("second Open succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Open took %v", d)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return bucket(tx, bucketMeta).Put([]byte(keySchema), []byte(strconv.Itoa(SchemaVersion+1)))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(dir, Options{}); err == nil {
		s.Close()
		t.Fatalf("Open of a schema %d database succeeded", SchemaVersion+1)
	}
}

func TestSchemaWritten(t *testing.T) {
	s := newTestStore(t)
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := string(bucket(tx, bucketMeta).Get([]byte(keySchema))); v != strconv.Itoa(SchemaVersion) {
			return fmt.Errorf("schema %q", v)
		}
		for _, name := range allBuckets() {
			if bucket(tx, name) == nil {
				return fmt.Errorf("bucket %s missing", name)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
