package ticket

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func viewEntry(i int) AuditEntry {
	a := Actor{Name: "erika", Remote: "127.0.0.1", At: t0.Add(time.Duration(i) * time.Second)}
	return a.NewAuditEntry(AuditView, Reference{Prefix: "STK", Year: 2026, Number: uint64(i + 1)}, "")
}

func auditJournals(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, auditJournalDir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// crash ends s as a kill -9 would: no flush, no Close of the audit queue.
func crash(t *testing.T, s *Store) {
	t.Helper()
	s.audit.mu.Lock()
	if s.audit.timer != nil {
		s.audit.timer.Stop()
	}
	s.audit.shut = true
	s.audit.mu.Unlock()
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
}

// A deferred entry is in the audit log for a reader at once, and it survives a crash
// before its commit: Open commits the journal, each entry once.
func TestAuditDeferred(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	s.audit.flushAfter = time.Hour // only the crash ends the journal, not the timer
	if err := s.AppendAuditDeferred(viewEntry(0)); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.AuditLog(AuditFilter{})
	if err != nil || len(got) != 1 || got[0].Action != AuditView || got[0].Seq == 0 {
		t.Fatalf("AuditLog right after the append = %+v, %v", got, err)
	}
	for i := 1; i <= 3; i++ {
		if err := s.AppendAuditDeferred(viewEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(auditJournals(t, dir)); n != 1 {
		t.Fatalf("%d journals, want 1", n)
	}
	crash(t, s)

	s = openTestStore(t, dir)
	defer s.Close()
	got, _, err = s.AuditLog(AuditFilter{Limit: 100})
	if err != nil || len(got) != 4 {
		t.Fatalf("after the crash: %d entries (%v), want 4", len(got), err)
	}
	for i, e := range got { // newest first
		if want := viewEntry(3 - i); e.Case != want.Case || !e.At.Equal(want.At) {
			t.Errorf("entry %d = %+v, want %+v", i, e, want)
		}
	}
	if left := auditJournals(t, dir); len(left) != 0 {
		t.Errorf("journals left: %v", left)
	}
	// Case filter: the case index is written for committed journal entries too.
	if got, _, _ := s.AuditLog(AuditFilter{Case: viewEntry(2).Case}); len(got) != 1 {
		t.Errorf("entries of case %s: %d, want 1", viewEntry(2).Case, len(got))
	}
}

// A crash between the commit of a journal and its removal does not commit it twice; a
// line cut short by a crash is dropped.
func TestAuditJournalReplayedOnce(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	s.audit.flushAfter = time.Hour
	for i := range 2 {
		if err := s.AppendAuditDeferred(viewEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	names := auditJournals(t, dir)
	if len(names) != 1 {
		t.Fatalf("journals %v, want one", names)
	}
	saved, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FlushAudit(); err != nil {
		t.Fatal(err)
	}
	crash(t, s)
	torn := append(saved, `{"seq":0,"at":"2026-03-02T09:30:09Z","actor":"erika","act`...)
	if err := os.WriteFile(names[0], torn, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	got, _, err := s.AuditLog(AuditFilter{})
	if err != nil || len(got) != 2 {
		t.Errorf("after replaying a committed journal: %d entries (%v), want 2", len(got), err)
	}
	s.Close()
	// Once more, now that nothing is left: still two, and the names are gone.
	s = openTestStore(t, dir)
	defer s.Close()
	if got, _, _ := s.AuditLog(AuditFilter{}); len(got) != 2 {
		t.Errorf("after a clean reopen: %d entries, want 2", len(got))
	}
}

// An entry without actor, action or time is refused at once, not at the commit.
func TestAuditDeferredRefuses(t *testing.T) {
	s := newTestStore(t)
	for _, e := range []AuditEntry{{Action: AuditView, At: t0}, {Actor: "erika", At: t0}, {Actor: "erika", Action: AuditView}} {
		if err := s.AppendAuditDeferred(e); err == nil {
			t.Errorf("AppendAuditDeferred(%+v) accepted", e)
		}
	}
	if n := len(auditJournals(t, s.dir)); n != 0 {
		t.Errorf("%d journals written for refused entries", n)
	}
}

// Many entries before the scheduled commit: the append that reaches auditFlushMax
// commits them, so the journal stays bounded (whenever the scheduled commit comes too).
func TestAuditDeferredBounded(t *testing.T) {
	s := newTestStore(t)
	for i := range 2 * auditFlushMax {
		if err := s.AppendAuditDeferred(viewEntry(i)); err != nil {
			t.Fatal(err)
		}
		s.audit.mu.Lock()
		pending := 0
		if s.audit.current != nil {
			pending = len(s.audit.current.entries)
		}
		s.audit.mu.Unlock()
		if pending >= auditFlushMax {
			t.Fatalf("%d entries still pending after %d appends", pending, i+1)
		}
	}
}

// TestAuditSpareJournal: a commit leaves an empty journal, and the next entry goes into
// it, so that the clerk whose view comes first after a commit does not wait for a file
// to be created. Close removes it; a crash leaves it empty, and Open takes it away.
func TestAuditSpareJournal(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	s.audit.flushAfter = time.Hour
	if err := s.AppendAuditDeferred(viewEntry(0)); err != nil {
		t.Fatal(err)
	}
	first := auditJournals(t, dir)
	if err := s.FlushAudit(); err != nil {
		t.Fatal(err)
	}
	spare := auditJournals(t, dir)
	if len(first) != 1 || len(spare) != 1 || spare[0] <= first[0] {
		t.Fatalf("journals before the commit %v, after it %v: want one spare named after the committed one", first, spare)
	}
	if fi, err := os.Stat(spare[0]); err != nil || fi.Size() != 0 {
		t.Fatalf("spare journal: %v, %v", fi, err)
	}
	if err := s.AppendAuditDeferred(viewEntry(1)); err != nil {
		t.Fatal(err)
	}
	if got := auditJournals(t, dir); len(got) != 1 || got[0] != spare[0] {
		t.Fatalf("journals after the next entry %v, want it in the spare %s", got, spare[0])
	}
	if fi, err := os.Stat(spare[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("the entry is not in the spare journal: %v, %v", fi, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if left := auditJournals(t, dir); len(left) != 0 {
		t.Errorf("journals left by Close: %v", left)
	}

	// A crash with a spare journal waiting.
	s = openTestStore(t, dir)
	if err := s.AppendAuditDeferred(viewEntry(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.FlushAudit(); err != nil {
		t.Fatal(err)
	}
	if n := len(auditJournals(t, dir)); n != 1 {
		t.Fatalf("%d journals after a commit, want the spare", n)
	}
	crash(t, s)
	s = openTestStore(t, dir)
	defer s.Close()
	if got, _, err := s.AuditLog(AuditFilter{}); err != nil || len(got) != 3 {
		t.Errorf("after a crash with a spare journal: %d entries (%v), want 3", len(got), err)
	}
	if left := auditJournals(t, dir); len(left) != 0 {
		t.Errorf("journals left after reopening: %v", left) // nothing was pending: no spare
	}
}
