package ticket

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// interimClock is the fake clock of the interim tests: the handling time is four weeks,
// and each case's acknowledgement is sent a minute after it arrived.
const interimAfter = 4 * 7 * 24 * time.Hour

// sentCase registers a citizen mail received at at, with its ack sent.
func sentCase(t *testing.T, s *Store, uid uint32, at time.Time) Registration {
	t.Helper()
	reg := mustRegister(t, s, incoming(uid, "", at))
	if err := s.RecordAck(reg.Seq, AckResult{Status: AckSent, Reply: "250 ok", At: at.Add(time.Minute)}); err != nil {
		t.Fatalf("RecordAck: %v", err)
	}
	return reg
}

func enqueueAt(t *testing.T, s *Store, now time.Time) int {
	t.Helper()
	n, err := s.EnqueueDueInterims("post", now.Add(-interimAfter), now, 0)
	if err != nil {
		t.Fatalf("EnqueueDueInterims: %v", err)
	}
	return n
}

func dueRefs(t *testing.T, s *Store, now time.Time) []string {
	t.Helper()
	due, err := s.DueInterims("post", now, 0)
	if err != nil {
		t.Fatalf("DueInterims: %v", err)
	}
	var refs []string
	for _, e := range due {
		refs = append(refs, e.Reference.String())
	}
	return refs
}

func TestInterimSchedule(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	defer func() { s.Close() }()

	open := sentCase(t, s, 1, t0)
	closed := sentCase(t, s, 2, t0)
	if err := s.SetStatus(closed.Reference, StatusInProgress, t0.Add(time.Hour)); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	if err := s.SetStatus(closed.Reference, StatusClosed, t0.Add(time.Hour)); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	bounced := sentCase(t, s, 3, t0)
	if err := s.MarkBounced(bounced.Seq, "5.1.1", "no such user", t0.Add(time.Hour)); err != nil {
		t.Fatalf("MarkBounced: %v", err)
	}
	quiet := incoming(4, "", t0)
	quiet.AckRecipient, quiet.SuppressReason = "", "AUTO_SUBMITTED"
	mustRegister(t, s, quiet) // suppressed ack: never a notice
	auto := incoming(5, "", t0)
	auto.Kind = KindAutomated
	autoReg := mustRegister(t, s, auto)
	if err := s.RecordAck(autoReg.Seq, AckResult{Status: AckSent, At: t0}); err != nil {
		t.Fatalf("RecordAck: %v", err)
	}
	suppressed := sentCase(t, s, 6, t0)
	if err := s.SuppressInterim(suppressed.Reference, Actor{Name: "anna", At: t0.Add(time.Hour)}); err != nil {
		t.Fatalf("SuppressInterim: %v", err)
	}
	pending := mustRegister(t, s, incoming(7, "", t0)) // ack not sent yet (outage)
	later := sentCase(t, s, 8, t0.Add(24*time.Hour))

	// One second before the handling time has passed: nothing.
	if n := enqueueAt(t, s, t0.Add(interimAfter-time.Second)); n != 0 {
		t.Fatalf("enqueued %d before due", n)
	}
	due := t0.Add(interimAfter)
	if n := enqueueAt(t, s, due); n != 1 {
		t.Fatalf("enqueued %d at due time, want 1 (only the open case)", n)
	}
	if got := dueRefs(t, s, due); len(got) != 1 || got[0] != open.Reference.String() {
		t.Fatalf("due = %v, want [%s]", got, open.Reference)
	}
	in, err := s.InterimOf(open.Reference)
	if err != nil || in == nil {
		t.Fatalf("InterimOf = %v, %v", in, err)
	}
	if in.Status != AckPending || in.Recipient != "erika.mustermann@example.org" ||
		!strings.HasPrefix(in.MessageID, open.Reference.String()+".interim.") || !strings.HasSuffix(in.MessageID, "@amt.example") {
		t.Errorf("notice = %+v", in)
	}
	for name, ref := range map[string]Reference{"closed": closed.Reference, "bounced": bounced.Reference, "automated": autoReg.Reference} {
		if in, err := s.InterimOf(ref); err != nil || in != nil {
			t.Errorf("%s case: notice %+v, %v; want none", name, in, err)
		}
	}
	if in, _ := s.InterimOf(suppressed.Reference); in == nil || in.Status != AckSuppressed || in.Reason != ReasonClerk || in.By != "anna" {
		t.Errorf("suppressed case: notice %+v", in)
	}

	// Again, and after a restart: not enqueued a second time.
	if n := enqueueAt(t, s, due.Add(time.Minute)); n != 0 {
		t.Fatalf("enqueued %d again", n)
	}
	s.Close()
	s = openTestStore(t, dir)
	if n := enqueueAt(t, s, due.Add(2*time.Minute)); n != 0 {
		t.Fatalf("enqueued %d after restart", n)
	}
	if got := dueRefs(t, s, due.Add(2*time.Minute)); len(got) != 1 {
		t.Fatalf("due after restart = %v, want the one notice still pending", got)
	}

	// Sent: recorded with what was sent, gone from the outbox, never again.
	sent := SentText{Subject: "Zwischennachricht [" + open.Reference.String() + "]", Text: "Guten Tag,\n"}
	if err := s.RecordInterim(open.Reference, AckResult{Status: AckSent, Reply: "250 2.0.0 queued", At: due.Add(3 * time.Minute), Sent: &sent}); err != nil {
		t.Fatalf("RecordInterim: %v", err)
	}
	if got := dueRefs(t, s, due.Add(time.Hour)); len(got) != 0 {
		t.Errorf("due after sending = %v", got)
	}
	if err := s.RecordInterim(open.Reference, AckResult{Status: AckSent, At: due}); !errors.Is(err, ErrNotPending) {
		t.Errorf("second RecordInterim: %v, want ErrNotPending", err)
	}
	if st, err := s.SentInterim(open.Reference); err != nil || st == nil || *st != sent {
		t.Errorf("SentInterim = %+v, %v", st, err)
	}
	// A reply to the notice finds the case.
	in, _ = s.InterimOf(open.Reference)
	if ref, err := s.CaseOfMessage("post", in.MessageID); err != nil || *ref != open.Reference {
		t.Errorf("CaseOfMessage(notice) = %v, %v", ref, err)
	}

	// The ack of the pending case goes out late: its notice follows at the next run.
	if err := s.RecordAck(pending.Seq, AckResult{Status: AckSent, At: due.Add(time.Hour)}); err != nil {
		t.Fatalf("RecordAck: %v", err)
	}
	if n := enqueueAt(t, s, due.Add(2*time.Hour)); n != 1 {
		t.Errorf("enqueued %d after the late ack, want 1", n)
	}
	// The case received a day later is due a day later.
	if n := enqueueAt(t, s, due.Add(24*time.Hour-time.Second)); n != 0 {
		t.Errorf("enqueued %d before the later case is due", n)
	}
	if n := enqueueAt(t, s, due.Add(24*time.Hour)); n != 1 {
		t.Errorf("enqueued %d when the later case is due, want 1", n)
	}
	if next, ok, err := s.NextInterimCandidate("post"); err != nil || ok {
		t.Errorf("candidates left: %v %v %v", next, ok, err)
	}
	_ = later
	s.Close()
}

func TestInterimSendNowAndSuppress(t *testing.T) {
	s := newTestStore(t)
	reg := sentCase(t, s, 1, t0)
	anna := Actor{Name: "anna", Remote: "192.0.2.1", At: t0.Add(time.Hour)}

	if err := s.SendInterimNow(reg.Reference, anna); err != nil {
		t.Fatalf("SendInterimNow: %v", err)
	}
	if got := dueRefs(t, s, anna.At); len(got) != 1 {
		t.Fatalf("due after send now = %v", got)
	}
	if err := s.SendInterimNow(reg.Reference, anna); !errors.Is(err, ErrInterimNotAllowed) {
		t.Errorf("second send now: %v, want ErrInterimNotAllowed", err)
	}
	// The schedule does not add a second one when the case falls due.
	if n := enqueueAt(t, s, t0.Add(interimAfter)); n != 0 {
		t.Errorf("schedule enqueued %d after send now", n)
	}
	// Suppressing the pending one takes it out of the outbox.
	if err := s.SuppressInterim(reg.Reference, anna); err != nil {
		t.Fatalf("SuppressInterim: %v", err)
	}
	if got := dueRefs(t, s, t0.Add(interimAfter)); len(got) != 0 {
		t.Errorf("due after suppress = %v", got)
	}
	if err := s.RecordInterim(reg.Reference, AckResult{Status: AckPending, At: anna.At, NextTry: anna.At.Add(time.Minute)}); !errors.Is(err, ErrNotPending) {
		t.Errorf("RecordInterim(pending) of a suppressed notice: %v", err)
	}
	// Send now after suppress is allowed; after sending, suppress is not.
	if err := s.SendInterimNow(reg.Reference, anna); err != nil {
		t.Fatalf("SendInterimNow after suppress: %v", err)
	}
	if err := s.RecordInterim(reg.Reference, AckResult{Status: AckSent, At: anna.At}); err != nil {
		t.Fatalf("RecordInterim: %v", err)
	}
	if err := s.SuppressInterim(reg.Reference, anna); !errors.Is(err, ErrBadTransition) {
		t.Errorf("suppress of a sent notice: %v", err)
	}
	log, _, err := s.AuditLog(AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action)
	}
	if strings.Count(strings.Join(actions, " "), AuditInterimSendNow) != 2 || strings.Count(strings.Join(actions, " "), AuditInterimSuppress) != 1 {
		t.Errorf("audit actions = %v", actions)
	}

	// Not for a case whose ack was never sent, nor an unknown case.
	quiet := incoming(2, "", t0)
	quiet.AckRecipient, quiet.SuppressReason = "", "RATE"
	q := mustRegister(t, s, quiet)
	if err := s.SendInterimNow(q.Reference, anna); !errors.Is(err, ErrInterimNotAllowed) {
		t.Errorf("send now without a sent ack: %v", err)
	}
	if err := s.SendInterimNow(Reference{Prefix: "STK", Year: 2026, Number: 99}, anna); !errors.Is(err, ErrNotFound) {
		t.Errorf("send now of an unknown case: %v", err)
	}
}

func TestInterimBounce(t *testing.T) {
	s := newTestStore(t)
	reg := sentCase(t, s, 1, t0)
	now := t0.Add(interimAfter)
	enqueueAt(t, s, now)
	if err := s.RecordInterim(reg.Reference, AckResult{Status: AckSent, At: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkInterimBounced(reg.Reference, "5.1.1", "user unknown", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if in, _ := s.InterimOf(reg.Reference); in.Status != AckBounced || in.Bounce != "5.1.1" {
		t.Errorf("notice = %+v", in)
	}
}

func TestAckSentText(t *testing.T) {
	s := newTestStore(t)
	reg := mustRegister(t, s, incoming(1, "", t0))
	long := strings.Repeat("x", MaxSentText+100)
	if err := s.RecordAck(reg.Seq, AckResult{Status: AckSent, At: t0, Sent: &SentText{Subject: "Auto: Eingangsbestätigung", Text: long}}); err != nil {
		t.Fatal(err)
	}
	st, err := s.SentAck(reg.Seq)
	if err != nil || st == nil {
		t.Fatalf("SentAck = %v, %v", st, err)
	}
	if st.Subject != "Auto: Eingangsbestätigung" || len(st.Text) > MaxSentText || !st.Truncated {
		t.Errorf("sent text: subject %q, %d bytes, truncated %v", st.Subject, len(st.Text), st.Truncated)
	}
	if st, err := s.SentAck(reg.Seq + 1); err != nil || st != nil {
		t.Errorf("SentAck of another message = %v, %v", st, err)
	}
}

func TestSentOf(t *testing.T) {
	s := newTestStore(t)
	reg := mustRegister(t, s, incoming(1, "", t0))
	sent := SentText{Subject: "Auto: Eingangsbestätigung [x]", Text: "Sehr geehrte Damen und Herren,\n"}
	if err := s.RecordAck(reg.Seq, AckResult{Status: AckSent, At: t0, Sent: &sent}); err != nil {
		t.Fatal(err)
	}
	cs, err := s.SentOf(reg.Reference)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Acks[reg.Seq] != sent || cs.Interim != nil || cs.InterimText != nil {
		t.Errorf("SentOf = %+v", cs)
	}
	if _, err := s.SentOf(Reference{Prefix: "STK", Year: 2026, Number: 9}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SentOf unknown: %v", err)
	}
	// Purge removes the texts.
	if err := s.SetStatus(reg.Reference, StatusInProgress, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(reg.Reference, StatusClosed, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Purge(t0.Add(48*time.Hour), map[string]time.Duration{"post": 24 * time.Hour}, false); err != nil {
		t.Fatal(err)
	}
	if cs, err := s.SentOf(reg.Reference); err != nil || len(cs.Acks) != 0 {
		t.Errorf("after purge SentOf = %+v, %v; want no texts", cs, err)
	}
}

func TestInterimDisabledDropsSchedule(t *testing.T) {
	s := newTestStore(t)
	reg := sentCase(t, s, 1, t0)
	later := sentCase(t, s, 2, t0.Add(48*time.Hour))
	due := t0.Add(interimAfter)
	if n, err := s.DropDueInterims("post", due.Add(-interimAfter)); err != nil || n != 1 {
		t.Fatalf("DropDueInterims = %d, %v; want 1", n, err)
	}
	// Enabled again later: the dropped case gets none, the later one still does.
	if n := enqueueAt(t, s, due.Add(72*time.Hour)); n != 1 {
		t.Errorf("enqueued %d after re-enabling, want 1", n)
	}
	if in, _ := s.InterimOf(reg.Reference); in != nil {
		t.Errorf("dropped case got %+v", in)
	}
	if in, _ := s.InterimOf(later.Reference); in == nil || in.Status != AckPending {
		t.Errorf("later case: %+v", in)
	}
}

// BenchmarkEnqueueDueInterims measures one scheduler pass over a register of open cases of
// which none is due yet: it reads the first key of the schedule and stops, whatever the
// number of cases (compare -benchmem at different sizes).
func BenchmarkEnqueueDueInterims(b *testing.B) {
	for _, n := range []int{100, 5000} {
		b.Run(fmt.Sprint(n, "_cases"), func(b *testing.B) {
			s := newTestStore(b)
			ins := make([]Incoming, 0, n)
			for i := range n {
				ins = append(ins, incoming(uint32(i+1), "", t0.Add(time.Duration(i)*time.Minute)))
			}
			if _, err := s.RegisterBatch(ins); err != nil {
				b.Fatal(err)
			}
			now := t0.Add(interimAfter - time.Hour) // none due
			b.ResetTimer()
			for range b.N {
				if n, err := s.EnqueueDueInterims("post", now.Add(-interimAfter), now, 3); err != nil || n != 0 {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// A clerk suppresses the notice while the responder sends it: the 250 is still recorded.
func TestInterimSuppressedWhileSending(t *testing.T) {
	s := newTestStore(t)
	reg := sentCase(t, s, 1, t0)
	now := t0.Add(interimAfter)
	enqueueAt(t, s, now)
	if err := s.SuppressInterim(reg.Reference, Actor{Name: "anna", At: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordInterim(reg.Reference, AckResult{Status: AckSent, Reply: "250 ok", At: now}); err != nil {
		t.Fatalf("RecordInterim(sent) after a racing suppress: %v", err)
	}
	if in, _ := s.InterimOf(reg.Reference); in.Status != AckSent || in.Reason != "" || in.SentAt != now {
		t.Errorf("notice = %+v, want sent", in)
	}
	if got := dueRefs(t, s, now.Add(time.Hour)); len(got) != 0 {
		t.Errorf("due = %v", got)
	}
}

// R2 for notices: at most perRecipient notices to one address per 24 hours; the others
// follow in later passes.
func TestInterimPerRecipientLimit(t *testing.T) {
	s := newTestStore(t)
	for uid := uint32(1); uid <= 5; uid++ {
		sentCase(t, s, uid, t0.Add(time.Duration(uid)*time.Minute))
	}
	now := t0.Add(interimAfter + time.Hour)
	enq := func(at time.Time) int {
		t.Helper()
		n, err := s.EnqueueDueInterims("post", at.Add(-interimAfter), at, 2)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := enq(now); n != 2 {
		t.Fatalf("first pass enqueued %d, want 2", n)
	}
	if n := enq(now.Add(time.Hour)); n != 0 {
		t.Fatalf("pass within the window enqueued %d, want 0", n)
	}
	if n := enq(now.Add(24 * time.Hour)); n != 2 {
		t.Fatalf("pass a day later enqueued %d, want 2", n)
	}
	if n := enq(now.Add(48 * time.Hour)); n != 1 {
		t.Fatalf("pass two days later enqueued %d, want 1", n)
	}
}
