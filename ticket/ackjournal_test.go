package ticket

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dueMessage returns seq's message as DueAcks hands it to a responder.
func dueMessage(t *testing.T, s *Store, seq uint64) *Message {
	t.Helper()
	due, err := s.DueAcks("post", t0.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range due {
		if e.Message.Seq == seq {
			return &e.Message
		}
	}
	t.Fatalf("message %d is not due", seq)
	return nil
}

func journals(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, journalDir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// A batch's records survive a crash before its Commit (the kill -9 of issue 9 item 5,
// now without a commit per ack): Open applies them, so a sent ack is not sent again and
// the one in flight is "maybe sent".
func TestAckBatchCrashBeforeCommit(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	for uid := uint32(1); uid <= 3; uid++ {
		mustRegister(t, s, incoming(uid, "", t0))
	}
	b := s.NewAckBatch()
	m1, m2, m3 := dueMessage(t, s, 1), dueMessage(t, s, 2), dueMessage(t, s, 3)
	sent := &SentText{Subject: "Eingangsbestätigung", Text: "Ihre Nachricht ist eingegangen."}
	steps := []func() error{
		func() error { _, err := b.MarkSending(m1, t0.Add(time.Second)); return err },
		func() error {
			return b.Record(m1, AckResult{Status: AckSent, Reply: "250 ok", At: t0.Add(2 * time.Second), Sent: sent})
		},
		func() error {
			return b.Record(m2, AckResult{Status: AckPending, Reply: "451 later", At: t0, NextTry: t0.Add(time.Hour)})
		},
		func() error { _, err := b.MarkSending(m3, t0.Add(3*time.Second)); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	// The crash: no Commit. The register itself has nothing of the batch yet.
	if got := mustLookup(t, s, mustLookupRef(t, s, 1)).Messages[0].Ack; got.Status != AckPending {
		t.Fatalf("before the crash the register says %s", got.Status)
	}
	s.Close()

	s = openTestStore(t, dir)
	defer s.Close()
	a1 := mustLookup(t, s, mustLookupRef(t, s, 1)).Messages[0].Ack
	if a1.Status != AckSent || !a1.SentAt.Equal(t0.Add(2*time.Second)) || a1.Attempts != 1 || !a1.InFlight.IsZero() {
		t.Errorf("ack 1 after the restart: %+v", a1)
	}
	if st, err := s.SentAck(1); err != nil || st == nil || st.Text != sent.Text {
		t.Errorf("sent text of ack 1: %+v, %v", st, err)
	}
	a2 := mustLookup(t, s, mustLookupRef(t, s, 2)).Messages[0].Ack
	if a2.Status != AckPending || !a2.NextTry.Equal(t0.Add(time.Hour)) || a2.Attempts != 1 {
		t.Errorf("ack 2 after the restart: %+v", a2)
	}
	a3 := mustLookup(t, s, mustLookupRef(t, s, 3)).Messages[0].Ack
	if a3.Status != AckPending || !a3.InFlight.Equal(t0.Add(3*time.Second)) {
		t.Errorf("ack 3 after the restart: %+v", a3)
	}
	if n, err := s.AcksSentSince(t0); err != nil || n != 1 {
		t.Errorf("sent index counts %d (%v), want 1", n, err)
	}
	if left := journals(t, dir); len(left) != 0 {
		t.Errorf("journals left after the replay: %v", left)
	}
	// Ack 3 goes out again and says so; only it is due now.
	due, err := s.DueAcks("post", t0.Add(time.Minute), 0)
	if err != nil || len(due) != 1 || due[0].Message.Seq != 3 {
		t.Fatalf("due after the restart: %v, %v", due, err)
	}
	b = s.NewAckBatch()
	if again, err := b.MarkSending(&due[0].Message, t0.Add(time.Minute)); err != nil || !again {
		t.Errorf("MarkSending of the ack in flight at the crash = %v, %v; want true", again, err)
	}
	if err := b.Record(&due[0].Message, AckResult{Status: AckSent, Reply: "250 ok", At: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if skipped, err := b.Commit(); err != nil || skipped != 0 {
		t.Fatalf("Commit = %d, %v", skipped, err)
	}
	if a3 := mustLookup(t, s, mustLookupRef(t, s, 3)).Messages[0].Ack; a3.Status != AckSent || !a3.MaybeSent {
		t.Errorf("ack 3 after its resend: %+v", a3)
	}
}

// Replaying a journal that Commit already applied (a crash between the commit and the
// file's removal) changes nothing: records apply only at the attempt count they were
// made at.
func TestAckJournalIdempotent(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	mustRegister(t, s, incoming(1, "", t0))
	mustRegister(t, s, incoming(2, "", t0))
	b := s.NewAckBatch()
	m1, m2 := dueMessage(t, s, 1), dueMessage(t, s, 2)
	if _, err := b.MarkSending(m1, t0); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(m1, AckResult{Status: AckPending, Reply: "451", At: t0, NextTry: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(m2, AckResult{Status: AckSent, Reply: "250", At: t0}); err != nil {
		t.Fatal(err)
	}
	names := journals(t, dir)
	if len(names) != 1 {
		t.Fatalf("journals %v, want one", names)
	}
	saved, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if left := journals(t, dir); len(left) != 0 {
		t.Fatalf("Commit left %v", left)
	}
	want1 := mustLookup(t, s, mustLookupRef(t, s, 1)).Messages[0].Ack
	s.Close()
	// The crash came before the removal; in addition its last line was cut short.
	torn := append(saved, `{"seq":1,"attempts":1,"result":{"Status":"sent"`...)
	if err := os.WriteFile(names[0], torn, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	got1 := mustLookup(t, s, mustLookupRef(t, s, 1)).Messages[0].Ack
	if got1.Attempts != 1 || got1.Status != AckPending || !got1.InFlight.IsZero() || !got1.NextTry.Equal(want1.NextTry) {
		t.Errorf("ack 1 after the second replay: %+v, want %+v", got1, want1)
	}
	if n, _ := s.AcksSentSince(t0); n != 1 {
		t.Errorf("sent index counts %d, want 1", n)
	}
}

// A record for an ack that changed meanwhile (a bounce report, a purge) is skipped, not
// an error that would lose the rest of the batch.
func TestAckBatchSkipsChanged(t *testing.T) {
	s := newTestStore(t)
	mustRegister(t, s, incoming(1, "", t0))
	mustRegister(t, s, incoming(2, "", t0))
	b := s.NewAckBatch()
	m1, m2 := dueMessage(t, s, 1), dueMessage(t, s, 2)
	if err := s.MarkBounced(1, "5.1.1", "unknown user", t0); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Message{m1, m2} {
		if err := b.Record(m, AckResult{Status: AckSent, Reply: "250", At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if skipped, err := b.Commit(); err != nil || skipped != 1 {
		t.Fatalf("Commit = %d skipped, %v; want 1", skipped, err)
	}
	if a := mustLookup(t, s, mustLookupRef(t, s, 1)).Messages[0].Ack; a.Status != AckBounced {
		t.Errorf("bounced ack became %s", a.Status)
	}
	if a := mustLookup(t, s, mustLookupRef(t, s, 2)).Messages[0].Ack; a.Status != AckSent {
		t.Errorf("ack 2 is %s", a.Status)
	}
}

// A damaged line inside a journal is an error that names the file and what to do; the
// register is not touched.
func TestAckJournalDamaged(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	mustRegister(t, s, incoming(1, "", t0))
	s.Close()
	if err := os.MkdirAll(filepath.Join(dir, journalDir), 0o700); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, journalDir, "00000000000000000001-000001.jsonl")
	if err := os.WriteFile(bad, []byte("{\"seq\":1,\"attem\x00\n{\"seq\":1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{NoSync: true})
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "line 1") ||
		!strings.Contains(err.Error(), "move the file aside") {
		t.Fatalf("Open with a damaged journal: %v", err)
	}
	if err := os.Rename(bad, bad+".aside"); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open after moving the journal aside: %v", err)
	}
	s.Close()
}

// Record refuses what a batch does not carry; a write error reaches Commit.
func TestAckBatchRefuses(t *testing.T) {
	s := newTestStore(t)
	mustRegister(t, s, incoming(1, "", t0))
	m := dueMessage(t, s, 1)
	b := s.NewAckBatch()
	if err := b.Record(m, AckResult{Status: AckBounced, At: t0}); err == nil {
		t.Error("Record(bounced) accepted")
	}
	if err := b.Record(m, AckResult{Status: AckPending, At: t0}); err == nil {
		t.Error("Record(pending) without a next try accepted")
	}
	sent := *m
	sent.Ack.Status = AckSent
	if _, err := b.MarkSending(&sent, t0); !errors.Is(err, ErrNotPending) {
		t.Errorf("MarkSending of a sent ack: %v", err)
	}
	if skipped, err := b.Commit(); err != nil || skipped != 0 {
		t.Errorf("Commit of an empty batch = %d, %v", skipped, err)
	}
}

// A journal that cannot be written fails the mark or result and is reported by Commit,
// after the records that were written are committed.
func TestAckBatchWriteError(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	defer s.Close()
	mustRegister(t, s, incoming(1, "", t0))
	mustRegister(t, s, incoming(2, "", t0))
	m1, m2 := dueMessage(t, s, 1), dueMessage(t, s, 2)
	b := s.NewAckBatch()
	if err := b.Record(m1, AckResult{Status: AckSent, Reply: "250", At: t0}); err != nil {
		t.Fatal(err)
	}
	// The journal file is replaced by a directory of the same name: writes fail.
	b.f.Close()
	b.f = nil
	if err := os.Remove(b.name); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(b.name, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(m2, AckResult{Status: AckSent, Reply: "250", At: t0}); err == nil {
		t.Fatal("Record into an unwritable journal succeeded")
	}
	if _, err := b.Commit(); err == nil {
		t.Error("Commit did not report the failed journal write")
	}
	if a := mustLookup(t, s, mustLookupRef(t, s, 1)).Messages[0].Ack; a.Status != AckSent {
		t.Errorf("the written record was not committed: ack 1 is %s", a.Status)
	}
	if a := mustLookup(t, s, mustLookupRef(t, s, 2)).Messages[0].Ack; a.Status != AckPending {
		t.Errorf("ack 2 is %s, want pending (its record was not written)", a.Status)
	}
	if _, err := b.Commit(); err != nil {
		t.Errorf("the next Commit: %v", err)
	}
}

// BenchmarkAckBatchCommit: one round's batch of 64 acks (each marked in flight, then
// recorded sent with its text, as a pipelined responder records them) applied in one
// transaction. The store syncs as in production, so the figure includes two fdatasyncs.
func BenchmarkAckBatchCommit(b *testing.B) {
	s := newTestStore(b)
	sent := &SentText{Subject: "Eingangsbestätigung [STK-2026-000001-1] – Antrag", Text: strings.Repeat("Ihre Nachricht ist bei uns eingegangen und unter dem Aktenzeichen registriert worden.\n", 30)}
	const round = 64
	uid := uint32(0)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for range round {
			uid++
			mustRegister(b, s, incoming(uid, "", t0))
		}
		due, err := s.DueAcks("post", t0.Add(time.Hour), 0)
		if err != nil || len(due) != round {
			b.Fatalf("DueAcks = %d, %v", len(due), err)
		}
		batch := s.NewAckBatch()
		if _, err := batch.MarkSending(&due[0].Message, t0); err != nil {
			b.Fatal(err)
		}
		for i := range due {
			res := AckResult{Status: AckSent, Reply: "250 2.0.0 Ok: queued as 4711", At: t0.Add(time.Second), Sent: sent}
			if i+1 < len(due) {
				_, err = batch.RecordAndMarkSending(&due[i].Message, res, &due[i+1].Message, t0)
			} else {
				err = batch.Record(&due[i].Message, res)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if _, err := batch.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
