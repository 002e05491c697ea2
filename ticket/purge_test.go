package ticket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// purgeFixture is a register with five cases of mailboxes "post" (retention one year)
// and "other" (no retention):
//
//	1 post   closed at closedAt, two messages (raw A1, A2), a note   -> purged
//	2 post   closed at closedAt, raw B                               -> purged, B shared
//	3 post   in progress, raw B (same file as case 2)                -> kept
//	4 post   closed recently                                         -> kept
//	5 other  closed at closedAt, no retention                        -> kept
type purgeFixture struct {
	s         *Store
	refs      []Reference // index 0 = case 1
	sums      map[string]string
	retention map[string]time.Duration
	now       time.Time
}

const yearRetention = 365 * 24 * time.Hour

var closedAt = t0.Add(48 * time.Hour)

func newPurgeFixture(t *testing.T) *purgeFixture {
	t.Helper()
	f := &purgeFixture{s: newTestStore(t), sums: map[string]string{},
		retention: map[string]time.Duration{"post": yearRetention, "other": 0},
		now:       closedAt.Add(yearRetention)}
	raw := func(name string) string {
		if sum, ok := f.sums[name]; ok {
			return sum
		}
		sum, _, err := f.s.StoreRaw(strings.NewReader("Subject: "+name+"\r\n\r\nsecret body "+name+"\r\n"), 0)
		if err != nil {
			t.Fatalf("StoreRaw: %v", err)
		}
		f.sums[name] = sum
		return sum
	}
	reg := func(uid uint32, mailbox, from, rawName string, followUp *Reference) Registration {
		in := incoming(uid, fmt.Sprintf("m%d@%s", uid, "mid.example"), t0.Add(time.Duration(uid)*time.Minute))
		in.Message.Mailbox, in.Message.From, in.AckRecipient = mailbox, from, from
		in.Message.FromName = "Name " + from
		in.Message.Subject = "Betreff von " + from
		in.Message.Attachments = []string{"anlage-" + from + ".pdf"}
		in.Message.RawSHA256 = raw(rawName)
		in.FollowUpOf = followUp
		return mustRegister(t, f.s, in)
	}
	close := func(ref Reference, at time.Time) {
		if err := f.s.SetStatus(ref, StatusInProgress, at.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := f.s.SetStatus(ref, StatusClosed, at); err != nil {
			t.Fatal(err)
		}
	}
	r1 := reg(1, "post", "eins@secret.example", "A1", nil).Reference
	reg(2, "post", "eins@secret.example", "A2", &r1)
	if _, err := f.s.AddNote(r1, "Notiz über secret.example", Actor{Name: "clerk", At: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r2 := reg(3, "post", "zwei@secret.example", "B", nil).Reference
	r3 := reg(4, "post", "drei@kept.example", "B", nil).Reference
	r4 := reg(5, "post", "vier@kept.example", "C", nil).Reference
	r5 := reg(6, "other", "fuenf@kept.example", "D", nil).Reference
	f.refs = []Reference{r1, r2, r3, r4, r5}
	close(r1, closedAt)
	close(r2, closedAt)
	if err := f.s.SetStatus(r3, StatusInProgress, closedAt); err != nil {
		t.Fatal(err)
	}
	close(r4, f.now.Add(-time.Hour))
	close(r5, closedAt)
	return f
}

// dump returns every key and value of the database, for "nothing changed" and "no trace
// left" checks.
func dump(t *testing.T, s *Store) []byte {
	t.Helper()
	var out bytes.Buffer
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				fmt.Fprintf(&out, "%s %q %q\n", name, k, v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func rawNames(t *testing.T, s *Store) []string {
	t.Helper()
	stored, _ := rawFiles(t, s)
	var names []string
	for _, p := range stored {
		names = append(names, filepath.Base(p))
	}
	slices.Sort(names)
	return names
}

func TestPurgeDryRunChangesNothing(t *testing.T) {
	f := newPurgeFixture(t)
	before, rawBefore := dump(t, f.s), rawNames(t, f.s)
	rep, err := f.s.Purge(f.now, f.retention, true)
	if err != nil {
		t.Fatalf("Purge dry run: %v", err)
	}
	want := PurgeReport{DryRun: true, Cases: f.refs[:2], Seqs: []uint64{1, 2, 3}, RawDeleted: 2, RawShared: 1}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("report = %+v, want %+v", rep, want)
	}
	if after := dump(t, f.s); !bytes.Equal(before, after) {
		t.Error("dry run changed the database")
	}
	if got := rawNames(t, f.s); !slices.Equal(got, rawBefore) {
		t.Errorf("dry run changed raw files: %v -> %v", rawBefore, got)
	}
}

func TestPurge(t *testing.T) {
	f := newPurgeFixture(t)
	kept := map[Reference]*Case{}
	for _, r := range f.refs[2:] {
		kept[r] = mustLookup(t, f.s, r)
	}
	// One nanosecond early nothing is due.
	if rep, err := f.s.Purge(f.now.Add(-time.Nanosecond), f.retention, false); err != nil || len(rep.Cases) != 0 {
		t.Fatalf("Purge before expiry = %+v, %v; want nothing", rep, err)
	}

	rep, err := f.s.Purge(f.now, f.retention, false)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	want := PurgeReport{Cases: f.refs[:2], Seqs: []uint64{1, 2, 3}, RawDeleted: 2, RawShared: 1}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("report = %+v, want %+v", rep, want)
	}

	t.Run("register stays gapless", func(t *testing.T) {
		list, err := f.s.List(Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var numbers []uint64
		for _, c := range list {
			numbers = append(numbers, c.Reference.Number)
		}
		slices.Sort(numbers)
		if !slices.Equal(numbers, []uint64{1, 2, 3, 4, 5}) {
			t.Errorf("List numbers = %v, want 1-5", numbers)
		}
		for _, c := range list {
			purged := c.Reference == f.refs[0] || c.Reference == f.refs[1]
			if purged != !c.Purged.IsZero() {
				t.Errorf("%s: Purged = %v", c.Reference, c.Purged)
			}
		}
	})

	t.Run("purged cases keep no personal data", func(t *testing.T) {
		for _, r := range f.refs[:2] {
			c := mustLookup(t, f.s, r)
			if !c.Purged.Equal(f.now) || c.Status != StatusClosed || !c.StatusAt.Equal(closedAt) || c.Created.IsZero() || c.Mailbox != "post" {
				t.Errorf("%s: minimal entry wrong: %+v", r, c)
			}
			if c.Sender != "" || c.Subject != "" {
				t.Errorf("%s: sender %q subject %q kept", r, c.Sender, c.Subject)
			}
			for _, m := range c.Messages {
				if hasPersonalData(&m) || m.RawSHA256 != "" {
					t.Errorf("%s message %d keeps data: %+v", r, m.Seq, m)
				}
				if m.Received.IsZero() || m.Size == 0 {
					t.Errorf("%s message %d lost its dates or size", r, m.Seq)
				}
			}
			cw, err := f.s.CaseworkOf(r)
			if err != nil || len(cw.Notes) != 0 {
				t.Errorf("%s: notes = %+v, %v; want none", r, cw, err)
			}
		}
		// Not a byte of the purged senders is left anywhere in the database: cases,
		// messages, indexes, notes, audit and deletion log.
		if d := dump(t, f.s); bytes.Contains(d, []byte("secret.example")) {
			t.Errorf("database still holds purged personal data:\n%s", d)
		}
		if ref, err := f.s.CaseOfMessage("post", "m1@mid.example"); err == nil && ref != nil {
			t.Errorf("msgid index still finds %s", ref)
		}
		if list, err := f.s.List(Filter{Sender: "eins@secret.example"}); err != nil || len(list) != 0 {
			t.Errorf("sender index still lists %v (%v)", list, err)
		}
	})

	t.Run("other cases untouched", func(t *testing.T) {
		for r, before := range kept {
			if after := mustLookup(t, f.s, r); !reflect.DeepEqual(before, after) {
				t.Errorf("%s changed:\n%+v\n%+v", r, before, after)
			}
		}
	})

	t.Run("raw files deleted except shared", func(t *testing.T) {
		want := []string{f.sums["B"], f.sums["C"], f.sums["D"]}
		slices.Sort(want)
		if got := rawNames(t, f.s); !slices.Equal(got, want) {
			t.Errorf("raw files = %v, want %v", got, want)
		}
		if _, err := f.s.OpenRaw(f.sums["A1"]); !errors.Is(err, ErrNotFound) {
			t.Errorf("OpenRaw A1 = %v, want ErrNotFound", err)
		}
		if _, err := f.s.Backup(io.Discard); err != nil {
			t.Errorf("Backup after purge: %v", err)
		}
	})

	t.Run("deletion log without content", func(t *testing.T) {
		log, err := f.s.PurgeLog(time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 2 || log[0].Reference != f.refs[0] || log[0].Messages != 2 || log[1].Messages != 1 ||
			!log[0].Closed.Equal(closedAt) || !log[0].At.Equal(f.now) || log[0].Mailbox != "post" {
			t.Fatalf("deletion log = %+v", log)
		}
		b, _ := json.Marshal(log)
		for _, s := range []string{"@", "Betreff", "anlage", "Notiz", "mid.example"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("deletion log holds %q: %s", s, b)
			}
		}
		if got, _ := f.s.PurgeLog(f.now.Add(time.Second), time.Time{}); len(got) != 0 {
			t.Errorf("PurgeLog since after = %v", got)
		}
		audit, _, err := f.s.AuditLog(AuditFilter{Action: AuditPurge})
		if err != nil || len(audit) != 2 || audit[0].Actor != PurgeActor {
			t.Errorf("purge audit entries = %+v, %v", audit, err)
		}
	})

	t.Run("second run is a no-op", func(t *testing.T) {
		before := dump(t, f.s)
		rep, err := f.s.Purge(f.now.Add(24*time.Hour), f.retention, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Cases) != 0 || len(rep.Seqs) != 0 || rep.RawDeleted != 0 {
			t.Errorf("second run = %+v, want nothing", rep)
		}
		if !bytes.Equal(before, dump(t, f.s)) {
			t.Error("second run changed the database")
		}
	})
}

func TestPurgeFinishesInterruptedRun(t *testing.T) {
	f := newPurgeFixture(t)
	// Step 1 only, as if the process died before the raw files were deleted.
	err := f.s.db.Update(func(tx *bolt.Tx) error {
		_, _, err := purgeCase(tx, f.refs[0], f.now, f.retention)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.s.rawDir, f.sums["A1"][:2], f.sums["A1"])); err != nil {
		t.Fatalf("raw A1 should still exist: %v", err)
	}
	rep, err := f.s.Purge(f.now, f.retention, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Cases, f.refs[1:2]) || rep.RawDeleted != 2 {
		t.Errorf("report = %+v, want case 2 and raw A1, A2 deleted", rep)
	}
	if _, err := f.s.OpenRaw(f.sums["A1"]); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenRaw A1 = %v, want ErrNotFound", err)
	}
}

func TestPurgeSkipsReopenedCase(t *testing.T) {
	f := newPurgeFixture(t)
	if err := f.s.SetStatus(f.refs[0], StatusInProgress, f.now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	rep, err := f.s.Purge(f.now, f.retention, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Cases, f.refs[1:2]) {
		t.Errorf("purged %v, want only %s", rep.Cases, f.refs[1])
	}
	if c := mustLookup(t, f.s, f.refs[0]); !c.Purged.IsZero() || c.Sender == "" {
		t.Errorf("reopened case purged: %+v", c)
	}
}
