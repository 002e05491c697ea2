package ticket

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"
)

// writeCalls returns how many write system calls the process has made (/proc/self/io,
// syscw).
func writeCalls(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("syscw: ")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no syscw in /proc/self/io")
	return 0
}

// TestRecordAndMarkSending: a pipelined responder records one ack's result and marks the
// next in flight with one write to the journal, and a crash before the commit keeps both:
// the first is sent, the second the one that may go out again.
func TestRecordAndMarkSending(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	const n = 41
	for uid := uint32(1); uid <= n; uid++ {
		mustRegister(t, s, incoming(uid, "", t0))
	}
	msgs := make([]*Message, n+1)
	for seq := uint64(1); seq <= n; seq++ {
		msgs[seq] = dueMessage(t, s, seq)
	}
	b := s.NewAckBatch()
	if _, err := b.MarkSending(msgs[1], t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	before := writeCalls(t)
	for seq := uint64(1); seq < n; seq++ {
		res := AckResult{Status: AckSent, Reply: "250 ok", At: t0.Add(time.Duration(seq) * time.Second)}
		if again, err := b.RecordAndMarkSending(msgs[seq], res, msgs[seq+1], t0.Add(time.Duration(seq)*time.Second)); err != nil || again {
			t.Fatalf("RecordAndMarkSending(%d, %d) = %v, %v", seq, seq+1, again, err)
		}
	}
	// One write each; a stray write of the runtime's is allowed, not a second per call.
	if w := writeCalls(t) - before; w >= (n-1)*3/2 {
		t.Errorf("%d results and marks took %d write calls, want one each", n-1, w)
	}

	// The crash: no Commit.
	s.Close()
	s = openTestStore(t, dir)
	defer s.Close()
	for seq := uint64(1); seq < n; seq++ {
		if a := mustLookup(t, s, mustLookupRef(t, s, seq)).Messages[0].Ack; a.Status != AckSent || !a.InFlight.IsZero() {
			t.Fatalf("ack %d after the restart: %+v", seq, a)
		}
	}
	last := mustLookup(t, s, mustLookupRef(t, s, n)).Messages[0].Ack
	if last.Status != AckPending || !last.InFlight.Equal(t0.Add((n-1)*time.Second)) {
		t.Errorf("ack %d after the restart: %+v, want pending and in flight", n, last)
	}

	// Refused like Record and MarkSending: nothing of either is written.
	b = s.NewAckBatch()
	if _, err := b.RecordAndMarkSending(msgs[1], AckResult{Status: AckSent, At: t0}, msgs[n], t0); err != nil {
		t.Fatalf("a stale copy of a message is the journal's to skip, not refused: %v", err)
	}
	bad := *msgs[n]
	bad.Ack.Status = AckSent
	if _, err := b.RecordAndMarkSending(msgs[2], AckResult{Status: AckSent, At: t0}, &bad, t0); err == nil {
		t.Error("marking an ack that is not pending was not refused")
	}
	if _, err := b.RecordAndMarkSending(msgs[2], AckResult{Status: "bogus", At: t0}, msgs[n], t0); err == nil {
		t.Error("a result of status \"bogus\" was not refused")
	}
	if got := len(b.recs); got != 2 {
		t.Errorf("the batch holds %d records, want the 2 of the first call", got)
	}
}
