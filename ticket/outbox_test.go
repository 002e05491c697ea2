package ticket

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestOutboxLifecycle(t *testing.T) {
	s := newTestStore(t)
	// Three pending acks received one minute apart, newest registered first, one suppressed,
	// one in another mailbox.
	for i, uid := range []uint32{3, 2, 1} {
		mustRegister(t, s, incoming(uid, "", t0.Add(time.Duration(2-i)*time.Minute)))
	}
	quiet := incoming(4, "", t0)
	quiet.AckRecipient, quiet.SuppressReason = "", "LIST"
	mustRegister(t, s, quiet)
	other := incoming(1, "", t0)
	other.Message.Mailbox = "bauamt"
	mustRegister(t, s, other)

	seqsOf := func(entries []OutboxEntry) []uint64 {
		var seqs []uint64
		for _, e := range entries {
			seqs = append(seqs, e.Message.Seq)
		}
		return seqs
	}
	due := func(now time.Time, limit int) []uint64 {
		t.Helper()
		entries, err := s.DueAcks("post", now, limit)
		if err != nil {
			t.Fatalf("DueAcks: %v", err)
		}
		return seqsOf(entries)
	}
	next := func() time.Time {
		t.Helper()
		at, ok, err := s.NextAckDue("post")
		if err != nil {
			t.Fatalf("NextAckDue: %v", err)
		}
		if !ok {
			return time.Time{}
		}
		return at
	}

	// Seq 3 (uid 1) was received first.
	if got := due(t0.Add(time.Hour), 0); !slices.Equal(got, []uint64{3, 2, 1}) {
		t.Errorf("due = %v, want [3 2 1]", got)
	}
	if got := due(t0.Add(time.Hour), 2); !slices.Equal(got, []uint64{3, 2}) {
		t.Errorf("due with limit 2 = %v", got)
	}
	if got := due(t0.Add(time.Minute), 0); !slices.Equal(got, []uint64{3, 2}) {
		t.Errorf("due at t0+1m (inclusive) = %v, want [3 2]", got)
	}
	// A pipeline topping up its entries: the acks it took neither come again nor count
	// towards the limit.
	except := func(limit int, taken ...uint64) []uint64 {
		t.Helper()
		entries, err := s.DueAcksExcept("post", t0.Add(time.Hour), limit, func(seq uint64) bool { return slices.Contains(taken, seq) })
		if err != nil {
			t.Fatalf("DueAcksExcept: %v", err)
		}
		return seqsOf(entries)
	}
	if got := except(1, 3); !slices.Equal(got, []uint64{2}) {
		t.Errorf("due except 3, limit 1 = %v, want [2]", got)
	}
	if got := except(0, 3, 1); !slices.Equal(got, []uint64{2}) {
		t.Errorf("due except 3 and 1 = %v, want [2]", got)
	}
	if got := except(0, 3, 2, 1); len(got) != 0 {
		t.Errorf("due except all = %v, want none", got)
	}
	if got := due(t0.Add(-time.Second), 0); len(got) != 0 {
		t.Errorf("due before t0 = %v", got)
	}
	if got := next(); !got.Equal(t0) {
		t.Errorf("NextAckDue = %v, want %v", got, t0)
	}
	entries, _ := s.DueAcks("post", t0, 1)
	if e := entries[0]; e.Reference.String() != e.Message.Ack.MessageID[:17] || e.Case.Reference != e.Reference ||
		e.Case.Messages != nil || e.Message.Ack.Recipient != "erika.mustermann@example.org" {
		t.Errorf("entry = %+v", e)
	}

	// Seq 3: temporary failure, retry in 10 minutes.
	retry := t0.Add(10 * time.Minute)
	if err := s.RecordAck(3, AckResult{Status: AckPending, Reply: "451 try later", At: t0, NextTry: retry}); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(5*time.Minute), 0); !slices.Equal(got, []uint64{2, 1}) {
		t.Errorf("due after reschedule = %v, want [2 1]", got)
	}
	if got := due(retry, 0); !slices.Equal(got, []uint64{2, 1, 3}) {
		t.Errorf("due at retry = %v, want [2 1 3]", got)
	}
	if got := next(); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("NextAckDue = %v", got)
	}

	// Seq 3 then sent, seq 2 failed permanently.
	sentAt := retry.Add(time.Second)
	if err := s.RecordAck(3, AckResult{Status: AckSent, Reply: "250 2.0.0 Ok: queued", At: sentAt}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAck(2, AckResult{Status: AckFailed, Reply: "550 5.1.1 no such user", At: sentAt}); err != nil {
		t.Fatal(err)
	}
	if got := due(retry, 0); !slices.Equal(got, []uint64{1}) {
		t.Errorf("due after sent/failed = %v, want [1]", got)
	}
	c := mustLookup(t, s, Reference{"STK", 2026, 1}) // seq 1, uid 3
	if got := c.Messages[0].Ack; got.Status != AckPending || got.Attempts != 0 {
		t.Errorf("untouched ack = %+v", got)
	}
	m3 := mustLookup(t, s, Reference{"STK", 2026, 3}).Messages[0]
	if a := m3.Ack; a.Status != AckSent || !a.SentAt.Equal(sentAt) || a.Reply != "250 2.0.0 Ok: queued" ||
		a.Attempts != 2 || !a.NextTry.IsZero() {
		t.Errorf("sent ack = %+v", a)
	}
	m2 := mustLookup(t, s, Reference{"STK", 2026, 2}).Messages[0]
	if a := m2.Ack; a.Status != AckFailed || a.Reply != "550 5.1.1 no such user" || a.Attempts != 1 || !a.SentAt.IsZero() {
		t.Errorf("failed ack = %+v", a)
	}

	// Recording again is refused; a bounce of the sent ack is recorded.
	if err := s.RecordAck(3, AckResult{Status: AckSent, At: sentAt}); !errors.Is(err, ErrNotPending) {
		t.Errorf("second RecordAck: %v, want ErrNotPending", err)
	}
	if err := s.RecordAck(4, AckResult{Status: AckSent, At: sentAt}); !errors.Is(err, ErrNotPending) {
		t.Errorf("RecordAck of a suppressed ack: %v", err)
	}
	if err := s.RecordAck(99, AckResult{Status: AckSent, At: sentAt}); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordAck of a missing message: %v", err)
	}
	if err := s.RecordAck(1, AckResult{Status: AckPending}); err == nil {
		t.Errorf("RecordAck pending without NextTry succeeded")
	}
	if err := s.RecordAck(2, AckResult{Status: AckBounced, Reply: "bounce"}); err == nil {
		t.Errorf("bounce of a failed ack succeeded")
	}
	if err := s.RecordAck(3, AckResult{Status: AckBounced, Reply: "5.2.2 mailbox full"}); err != nil {
		t.Fatal(err)
	}
	if a := mustLookup(t, s, Reference{"STK", 2026, 3}).Messages[0].Ack; a.Status != AckBounced || !a.SentAt.Equal(sentAt) {
		t.Errorf("bounced ack = %+v", a)
	}

	if err := s.RecordAck(1, AckResult{Status: AckSent, At: sentAt}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.NextAckDue("post"); ok {
		t.Errorf("NextAckDue found an entry in an empty outbox")
	}
	if got, _ := s.DueAcks("bauamt", t0, 0); len(got) != 1 {
		t.Errorf("other mailbox: %d due", len(got))
	}
}

func TestAckNextTryFromCaller(t *testing.T) {
	s := newTestStore(t)
	in := incoming(1, "", t0)
	in.Message.Ack.NextTry = t0.Add(time.Hour) // e.g. a quiet period
	mustRegister(t, s, in)
	if got, _ := s.DueAcks("post", t0.Add(time.Minute), 0); len(got) != 0 {
		t.Errorf("due before the requested NextTry: %d", len(got))
	}
	if at, ok, _ := s.NextAckDue("post"); !ok || !at.Equal(t0.Add(time.Hour)) {
		t.Errorf("NextAckDue = %v %v", at, ok)
	}
}

func TestOutboxStats(t *testing.T) {
	s := newTestStore(t)
	stats := func() (int, time.Time) {
		t.Helper()
		n, oldest, err := s.OutboxStats("post")
		if err != nil {
			t.Fatal(err)
		}
		return n, oldest
	}
	if n, oldest := stats(); n != 0 || !oldest.IsZero() {
		t.Fatalf("empty outbox: %d, %v", n, oldest)
	}
	// Registered in this order: seq 1 received t0+2m, seq 2 t0+1m, seq 3 t0.
	for i, uid := range []uint32{3, 2, 1} {
		mustRegister(t, s, incoming(uid, "", t0.Add(time.Duration(2-i)*time.Minute)))
	}
	other := incoming(1, "", t0)
	other.Message.Mailbox = "bauamt"
	mustRegister(t, s, other)
	if n, oldest := stats(); n != 3 || !oldest.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("stats = %d, %v; want 3 and the receipt of seq 1", n, oldest)
	}
	if err := s.RecordAck(1, AckResult{Status: AckSent, At: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAck(2, AckResult{Status: AckPending, At: t0.Add(time.Hour), NextTry: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n, oldest := stats(); n != 2 || !oldest.Equal(t0.Add(time.Minute)) {
		t.Errorf("after sending seq 1: %d, %v; want 2 and the receipt of seq 2 (rescheduled, still waiting)", n, oldest)
	}
}
