package ticket

import (
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A Message-ID identifies a mail only together with evidence that it is the same mail
// (issue 9, finding 1): contact forms and scripts reuse Message-IDs, and a reused one must
// not swallow a different mail.
func TestRegisterReusedMessageID(t *testing.T) {
	hash := func(c byte) string { return string(slices.Repeat([]byte{c}, 64)) }
	mail := func(uid uint32, id, raw string, size int64, oversize bool) Incoming {
		in := incoming(uid, id, t0)
		in.Message.RawSHA256, in.Message.Size, in.Message.Oversize = raw, size, oversize
		return in
	}
	tests := []struct {
		name        string
		first, then Incoming
		dup         bool
	}{
		{"same id, other content", mail(1, "1@localhost", hash('a'), 100, false), mail(2, "1@localhost", hash('b'), 100, false), false},
		{"id <@>, other content", mail(1, "<@>", hash('a'), 100, false), mail(2, "<@>", hash('b'), 100, false), false},
		{"oversize, same header, other size", mail(1, "big@x", hash('e'), 5<<20, true), mail(2, "big@x", hash('e'), 6<<20, true), false},
		{"oversize without id, same header, other size", mail(1, "", hash('e'), 5<<20, true), mail(2, "", hash('e'), 6<<20, true), false},
		{"byte-identical resend", mail(1, "1@localhost", hash('a'), 100, false), mail(2, "1@localhost", hash('a'), 100, false), true},
		{"oversize resend", mail(1, "big@x", hash('e'), 5<<20, true), mail(2, "big@x", hash('e'), 5<<20, true), true},
		{"oversize resend without id", mail(1, "", hash('e'), 5<<20, true), mail(2, "", hash('e'), 5<<20, true), true},
		{"same mail after a UIDVALIDITY change", mail(1, "1@localhost", hash('a'), 100, false), func() Incoming {
			in := mail(1, "1@localhost", hash('a'), 100, false)
			in.Message.UIDValidity = 8
			return in
		}(), true},
		// Without a raw hash there is no evidence: the Message-ID alone decides, as before.
		{"no evidence", mail(1, "1@localhost", hash('a'), 100, false), mail(2, "1@localhost", "", 100, false), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			reg1 := mustRegister(t, s, tt.first)
			reg2 := mustRegister(t, s, tt.then)
			if reg2.Duplicate != tt.dup {
				t.Fatalf("Duplicate = %v, want %v", reg2.Duplicate, tt.dup)
			}
			if tt.dup {
				return
			}
			if reg2.Reference == reg1.Reference {
				t.Fatalf("the second mail was put into the first one's case %s", reg1.Reference)
			}
			c := mustLookup(t, s, reg2.Reference)
			reused := c.Messages[0].MessageIDReused
			if want := tt.then.Message.MessageID != ""; reused != want {
				t.Errorf("MessageIDReused = %v, want %v", reused, want)
			}
			if first := mustLookup(t, s, reg1.Reference); first.Messages[0].MessageIDReused {
				t.Error("the first mail is marked as reusing its Message-ID")
			}
			// A third copy of either one is a duplicate of that one.
			again := tt.then
			again.Message.UID = 3
			if reg3 := mustRegister(t, s, again); !reg3.Duplicate || reg3.Reference != reg2.Reference {
				t.Errorf("resend of the second mail = %+v, want duplicate of %s", reg3, reg2.Reference)
			}
			again = tt.first
			again.Message.UID = 4
			if reg4 := mustRegister(t, s, again); !reg4.Duplicate || reg4.Reference != reg1.Reference {
				t.Errorf("resend of the first mail = %+v, want duplicate of %s", reg4, reg1.Reference)
			}
		})
	}
}

// A register written before content evidence was part of the dedupe key holds entries
// keyed by Message-ID (or raw hash) alone; they keep deduping the same mail and no longer
// swallow a different one.
func TestRegisterReusedMessageIDLegacyIndex(t *testing.T) {
	hash := func(c byte) string { return string(slices.Repeat([]byte{c}, 64)) }
	tests := []struct {
		name        string
		id          string
		raw         string
		size        int64
		oversize    bool
		then        func(in *Incoming)
		dup, reused bool
	}{
		{"same mail", "1@localhost", hash('a'), 100, false, func(*Incoming) {}, true, false},
		{"other mail", "1@localhost", hash('a'), 100, false, func(in *Incoming) { in.Message.RawSHA256 = hash('b') }, false, true},
		{"oversize, same mail", "", hash('e'), 5 << 20, true, func(*Incoming) {}, true, false},
		{"oversize, other size", "", hash('e'), 5 << 20, true, func(in *Incoming) { in.Message.Size = 6 << 20 }, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			first := incoming(1, tt.id, t0)
			first.Message.RawSHA256, first.Message.Size, first.Message.Oversize = tt.raw, tt.size, tt.oversize
			reg1 := mustRegister(t, s, first)
			// Rewrite the entry the way the old code wrote it.
			err := s.db.Update(func(tx *bolt.Tx) error {
				m := first.Message
				m.MessageID = trimID(m.MessageID)
				dd := bucket(tx, bucketDedupe)
				if err := dd.Delete(dedupeKey(&m)); err != nil {
					return err
				}
				return dd.Put(legacyDedupeKey(&m), seqKey(reg1.Seq))
			})
			if err != nil {
				t.Fatal(err)
			}
			then := first
			then.Message.UID = 2
			tt.then(&then)
			reg2 := mustRegister(t, s, then)
			if reg2.Duplicate != tt.dup {
				t.Fatalf("Duplicate = %v, want %v", reg2.Duplicate, tt.dup)
			}
			if !tt.dup {
				if got := mustLookup(t, s, reg2.Reference).Messages[0].MessageIDReused; got != tt.reused {
					t.Errorf("MessageIDReused = %v, want %v", got, tt.reused)
				}
			}
		})
	}
}

func TestMakeAcksDue(t *testing.T) {
	s := newTestStore(t)
	for uid := uint32(1); uid <= 3; uid++ {
		mustRegister(t, s, incoming(uid, "", t0))
	}
	other := incoming(4, "", t0)
	other.Message.Mailbox = "bauamt"
	mustRegister(t, s, other)
	// Seq 1 waits an hour, seq 2 a day; seq 3 is due already.
	for seq, wait := range map[uint64]time.Duration{1: time.Hour, 2: 24 * time.Hour, 4: time.Hour} {
		if err := s.RecordAck(seq, AckResult{Status: AckPending, At: t0, NextTry: t0.Add(wait), Reply: "421 later"}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.MakeAcksDue("post", t0)
	if err != nil || n != 2 {
		t.Fatalf("MakeAcksDue = %d, %v; want 2", n, err)
	}
	due, err := s.DueAcks("post", t0, 0)
	if err != nil || len(due) != 3 {
		t.Fatalf("%d due after the flush, want 3 (%v)", len(due), err)
	}
	for _, e := range due {
		if !e.Message.Ack.NextTry.Equal(t0) || e.Message.Ack.Attempts != map[uint64]int{1: 1, 2: 1, 3: 0}[e.Message.Seq] {
			t.Errorf("seq %d: next try %v, attempts %d", e.Message.Seq, e.Message.Ack.NextTry, e.Message.Ack.Attempts)
		}
	}
	if due, _ := s.DueAcks("bauamt", t0, 0); len(due) != 0 {
		t.Errorf("another mailbox's ack was made due")
	}
}

// An ack in flight at a crash (MarkSending without a recorded result) is "maybe sent"
// when it is sent again; the result clears the mark.
func TestMarkSending(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	mustRegister(t, s, incoming(1, "", t0))
	m := dueMessage(t, s, 1)
	if again, err := s.NewAckBatch().MarkSending(m, t0); err != nil || again {
		t.Fatalf("first MarkSending = %v, %v", again, err)
	}
	// The crash: no result, no Commit. The next attempt:
	s.Close()
	s = openTestStore(t, dir)
	defer s.Close()
	m = dueMessage(t, s, 1)
	b := s.NewAckBatch()
	if again, err := b.MarkSending(m, t0.Add(time.Minute)); err != nil || !again {
		t.Fatalf("MarkSending after a crash = %v, %v; want in flight before", again, err)
	}
	if err := b.Record(m, AckResult{Status: AckSent, At: t0.Add(time.Minute), Reply: "250 ok"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	c := mustLookup(t, s, mustLookupRef(t, s, 1))
	if a := c.Messages[0].Ack; !a.InFlight.IsZero() || !a.MaybeSent || a.Status != AckSent {
		t.Errorf("ack after the resend: %+v", a)
	}
	if _, err := s.NewAckBatch().MarkSending(&c.Messages[0], t0); err == nil {
		t.Error("MarkSending of a sent ack succeeded")
	}
}

func mustLookupRef(t *testing.T, s *Store, seq uint64) Reference {
	t.Helper()
	var ref Reference
	err := s.db.View(func(tx *bolt.Tx) error {
		m, err := getMessage(tx, seq)
		if err == nil {
			ref = m.Case
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}
