package ticket

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Issue 8: cases only the right people can write into.

func ackIDOf(t *testing.T, s *Store, seq uint64) string {
	t.Helper()
	m, _, err := s.MessageBySeq(seq)
	if err != nil {
		t.Fatal(err)
	}
	if m.Ack.MessageID == "" {
		t.Fatalf("message %d has no ack Message-ID", seq)
	}
	return m.Ack.MessageID
}

func TestAckByIDOnlyOurTaggedIDs(t *testing.T) {
	s := newTestStore(t)
	reg := mustRegister(t, s, incoming(1, "a@example.org", t0))
	mustRegister(t, s, incoming(2, "b@example.org", t0))
	id := ackIDOf(t, s, reg.Seq)
	ref, seq := reg.Reference.String(), reg.Seq
	tag := strings.Split(id, ".")[2]
	other := newTestStore(t) // another register: another secret
	otherReg := mustRegister(t, other, incoming(1, "a@example.org", t0))
	otherID := ackIDOf(t, other, otherReg.Seq)

	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"our id", id, true},
		{"with brackets", "<" + id + ">", true},
		{"domain in other case", strings.Replace(id, "amt.example", "AMT.Example", 1), true},
		// The attack of issue 8: REF.SEQ.ack@host could be guessed from a reference.
		{"guessed untagged id", fmt.Sprintf("%s.%d.ack@amt.example", ref, seq), false},
		{"altered tag", strings.Replace(id, tag, "aaaaaaaaaaaaaaaa", 1), false},
		{"tag of another seq", fmt.Sprintf("%s.%d.%s.ack@amt.example", ref, seq+1, tag), false},
		{"same id from another register", otherID, otherID == id},
		{"no ack suffix", fmt.Sprintf("%s.%d.%s@amt.example", ref, seq, tag), false},
		{"not an id", "hello@amt.example", false},
		{"unknown seq", fmt.Sprintf("%s.%d.%s.ack@amt.example", ref, 99, tag), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.AckByID(tt.id)
			if tt.ok {
				if err != nil || got.Seq != seq || got.Reference != reg.Reference || got.Legacy || got.Ack.Recipient == "" {
					t.Errorf("AckByID(%q) = %+v, %v; want seq %d of %s", tt.id, got, err, seq, ref)
				}
				return
			}
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("AckByID(%q) = %+v, %v; want ErrNotFound", tt.id, got, err)
			}
		})
	}
	if _, err := s.CaseOfMessage("post", fmt.Sprintf("%s.%d.ack@amt.example", ref, seq)); !errors.Is(err, ErrNotFound) {
		t.Errorf("the guessed untagged id finds a case: %v", err)
	}
}

// TestAckByIDLegacy: an ack made before the tags keeps its untagged ID, which is recognised
// as Legacy for exactly that ack.
func TestAckByIDLegacy(t *testing.T) {
	s := newTestStore(t)
	reg := mustRegister(t, s, incoming(1, "a@example.org", t0))
	mustRegister(t, s, incoming(2, "b@example.org", t0))
	legacy := fmt.Sprintf("%s.%d.ack@amt.example", reg.Reference, reg.Seq)
	err := s.db.Update(func(tx *bolt.Tx) error {
		m, err := getMessage(tx, reg.Seq)
		if err != nil {
			return err
		}
		m.Ack.MessageID = legacy
		return putMessage(tx, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.AckByID("<" + legacy + ">")
	if err != nil || !got.Legacy || got.Seq != reg.Seq {
		t.Errorf("AckByID(legacy) = %+v, %v; want the legacy ack %d", got, err, reg.Seq)
	}
	if _, err := s.AckByID(fmt.Sprintf("%s.%d.ack@amt.example", reg.Reference, 2)); !errors.Is(err, ErrNotFound) {
		t.Errorf("an untagged id of a tagged ack: %v, want ErrNotFound", err)
	}
}

// TestAckSecretKeptAndBackedUp: the secret is made once, kept across Open and carried by a
// backup, so IDs sent before a restore still verify after it.
func TestAckSecretKeptAndBackedUp(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	reg := registerWithRaw(t, s, 1)
	id := ackIDOf(t, s, reg.Seq)
	archive, info := backupOf(t, s)
	s.Close()

	s = openTestStore(t, dir)
	if _, err := s.AckByID(id); err != nil {
		t.Errorf("after reopening: %v", err)
	}
	s.Close()

	restored := t.TempDir()
	if _, err := Restore(bytes.NewReader(archive), restored); err != nil {
		t.Fatal(err)
	}
	r := checkRestoredRegister(t, restored, info)
	if _, err := r.AckByID(id); err != nil {
		t.Errorf("after restoring the backup: %v", err)
	}
}

func TestCaseHasVerifiedSender(t *testing.T) {
	s := newTestStore(t)
	in := incoming(1, "a@example.org", t0)
	in.Message.VerifiedSender, in.Message.VerifiedBy = "Buerger+amt@Example.org", "spf"
	first := mustRegister(t, s, in)
	unverified := mustRegister(t, s, incoming(2, "b@example.org", t0))
	tests := []struct {
		name string
		ref  Reference
		addr string
		want bool
		err  error
	}{
		{"the verified sender", first.Reference, "buerger+amt@example.org", true, nil},
		{"normalised", first.Reference, "BUERGER@example.org", true, nil},
		{"someone else", first.Reference, "mallory@example.org", false, nil},
		{"empty", first.Reference, "", false, nil},
		// The From of case 2 is Erika, but she was never verified.
		{"a From that was not verified", unverified.Reference, "erika.mustermann@example.org", false, nil},
		{"unknown case", Reference{"STK", 2026, 99}, "buerger@example.org", false, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CaseHasVerifiedSender(tt.ref, tt.addr)
			if got != tt.want || !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Errorf("CaseHasVerifiedSender(%s, %q) = %v, %v; want %v, %v", tt.ref, tt.addr, got, err, tt.want, tt.err)
			}
		})
	}
}

// TestRegisterMarksBounceInSameTransaction: issue 8 item 6, the bounce mark of an ack is
// written by the transaction that registers the bounce, so one is never committed without
// the other.
func TestRegisterMarksBounceInSameTransaction(t *testing.T) {
	bounceOf := func(ackSeq uint64, uid uint32) Incoming {
		in := incoming(uid, fmt.Sprintf("dsn%d@mx.example.org", uid), t0.Add(time.Hour))
		in.AckRecipient, in.SuppressReason, in.Kind = "", "REPORT", KindAutomated
		in.Bounce = &BounceMark{Seq: ackSeq, Status: "5.1.1", Detail: "user unknown", At: t0.Add(time.Hour)}
		return in
	}
	t.Run("committed together", func(t *testing.T) {
		s := newTestStore(t)
		ack := mustRegister(t, s, incoming(1, "a@example.org", t0))
		if err := s.RecordAck(ack.Seq, AckResult{Status: AckSent, At: t0}); err != nil {
			t.Fatal(err)
		}
		in := bounceOf(ack.Seq, 2)
		in.FollowUpOf = &ack.Reference
		reg := mustRegister(t, s, in)
		if !reg.Bounced || reg.BounceErr != nil || reg.Reference != ack.Reference {
			t.Errorf("registration %+v, want the bounce attached and marked", reg)
		}
		m, _, _ := s.MessageBySeq(ack.Seq)
		if m.Ack.Status != AckBounced || m.Ack.Bounce != "5.1.1" {
			t.Errorf("ack %+v, want bounced 5.1.1", m.Ack)
		}
	})
	t.Run("rolled back together", func(t *testing.T) {
		s := newTestStore(t)
		ack := mustRegister(t, s, incoming(1, "a@example.org", t0))
		// The second mail of the batch fails inside the transaction (its case counter
		// collides), so the whole batch - the bounce with its mark - must be rolled back.
		err := s.db.Update(func(tx *bolt.Tx) error {
			return bucket(tx, bucketCounters).Bucket([]byte("STK/2026")).SetSequence(0)
		})
		if err != nil {
			t.Fatal(err)
		}
		bad := incoming(3, "c@example.org", t0.Add(2*time.Hour))
		if _, err := s.RegisterBatch([]Incoming{bounceOf(ack.Seq, 2), bad}); err == nil {
			t.Fatal("RegisterBatch succeeded; the test needs it to fail")
		}
		m, _, _ := s.MessageBySeq(ack.Seq)
		if m.Ack.Status != AckPending {
			t.Errorf("ack %+v after a rolled-back bounce, want still pending", m.Ack)
		}
		if n, _ := s.CountMessages(); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
	})
	t.Run("an ack never due is not marked, the bounce is registered", func(t *testing.T) {
		s := newTestStore(t)
		in := incoming(1, "a@example.org", t0)
		in.AckRecipient, in.SuppressReason = "", "LIST"
		first := mustRegister(t, s, in)
		reg := mustRegister(t, s, bounceOf(first.Seq, 2))
		if reg.Bounced || !errors.Is(reg.BounceErr, ErrBadTransition) {
			t.Errorf("registration %+v, want BounceErr ErrBadTransition", reg)
		}
		if n, _ := s.CountMessages(); n != 2 {
			t.Errorf("%d messages, want 2", n)
		}
	})
}
