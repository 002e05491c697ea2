package intake

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/ticket"
)

func newIndexerRig(t *testing.T) (*ticket.Store, *indexer) {
	t.Helper()
	store, err := ticket.Open(t.TempDir(), ticket.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ix, err := search.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return store, newIndexer(store, ix, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func registerPlain(t *testing.T, store *ticket.Store, uid uint32, raw string) ticket.Registration {
	t.Helper()
	msg := ticket.Message{Mailbox: "post", UIDValidity: 1, UID: uid, MessageID: strings.Repeat("m", int(uid)) + "@example.org",
		From: "buerger@example.org", Subject: "Antrag", Received: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	if raw != "" {
		sum, _, err := store.StoreRaw(strings.NewReader(raw), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		msg.RawSHA256 = sum
	}
	reg, err := store.Register(ticket.Incoming{Prefix: "STK", Message: msg, SuppressReason: "TEST"})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestIndexerTakesTheWatchersText: the indexer indexes the body text the
// watcher's parse handed over, without reading and parsing the raw mail a
// second time; a mail whose text was not handed over (a restart) is read
// from the register's raw mail as before.
func TestIndexerTakesTheWatchersText(t *testing.T) {
	store, x := newIndexerRig(t)
	raw := "From: buerger@example.org\r\nSubject: Antrag\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDer Baulärm ist unerträglich.\r\n"
	handed := registerPlain(t, store, 1, raw)
	restarted := registerPlain(t, store, 2, raw)
	// The handed text differs from the raw mail's: finding it proves where it came from.
	x.registered(map[uint64]string{handed.Seq: "Es geht um die Grünfläche."})
	if err := x.catchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text string
		want []uint64
	}{
		{"Grünfläche", []uint64{handed.Seq}},
		{"Baulärm", []uint64{restarted.Seq}},
	} {
		r, err := x.ix.Search(search.Query{Text: tc.text})
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, h := range r.Hits {
			got = append(got, h.Seq)
		}
		if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
			t.Errorf("%s: hits %v, want %v", tc.text, got, tc.want)
		}
	}
	if len(x.texts) != 0 || x.textBytes != 0 {
		t.Errorf("after indexing %d texts (%d bytes) still held", len(x.texts), x.textBytes)
	}
}

// TestIndexerBoundsTheHeldTexts: the texts held for the index never exceed
// indexMaxTextBytes (beyond it the indexer reads the raw mail), and reaching
// the bound ends the indexer's wait for a pause in registration at once.
func TestIndexerBoundsTheHeldTexts(t *testing.T) {
	_, x := newIndexerRig(t)
	x.quiet, x.maxWait = time.Hour, time.Hour
	big := strings.Repeat("x", 1<<20)
	texts := map[uint64]string{}
	for seq := range uint64(40) {
		texts[seq+1] = big
	}
	x.registered(texts)
	if x.textBytes > indexMaxTextBytes {
		t.Errorf("%d bytes held, bound %d", x.textBytes, indexMaxTextBytes)
	}
	if !x.full() {
		t.Fatalf("%d bytes held: not full", x.textBytes)
	}
	x.settle(context.Background()) // returns at once: it would otherwise wait an hour
}

// TestIndexerLeavesTheCPUToAcks: after a pause in registration the indexer still
// waits while acknowledgements are being sent (issue 12), and starts once none wait.
func TestIndexerLeavesTheCPUToAcks(t *testing.T) {
	_, x := newIndexerRig(t)
	x.quiet, x.maxWait = time.Microsecond, time.Hour
	asked := 0
	x.acksWaiting = func() bool { asked++; return asked <= 3 }
	x.settle(context.Background()) // returns only once acksWaiting says no: it would otherwise wait an hour
	if asked != 4 {
		t.Errorf("asked whether acks wait %d times, want 4", asked)
	}
}
