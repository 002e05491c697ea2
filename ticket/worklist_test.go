package ticket

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// workFixture registers cases in two mailboxes and works on them: every tab has
// something in it and something that must stay out of it.
func workFixture(t *testing.T, s *Store) {
	t.Helper()
	day := 24 * time.Hour
	cases := []struct {
		mailbox string
		kind    Kind
		age     int // days before t0+60d
	}{
		{"post", KindCitizen, 50},   // 1: overdue, later assigned to erika
		{"post", KindCitizen, 40},   // 2: overdue, in progress
		{"post", KindAutomated, 45}, // 3: automated, old (never overdue)
		{"post", KindCitizen, 2},    // 4: new, unassigned
		{"bauamt", KindCitizen, 35}, // 5: other mailbox, overdue
		{"post", KindMalformed, 1},  // 6: malformed counts as a citizen case
		{"post", KindCitizen, 60},   // 7: closed: not overdue
		{"post", KindCitizen, 3},    // 8: assigned to erika, in progress
	}
	for i, c := range cases {
		in := incoming(uint32(i+1), "", t0.Add(60*day-time.Duration(c.age)*day))
		in.Message.Mailbox, in.Kind = c.mailbox, c.kind
		mustRegister(t, s, in)
	}
	// A follow-up does not add a case.
	in := incoming(100, "", t0.Add(59*day))
	in.FollowUpOf = &Reference{"STK", 2026, 1}
	mustRegister(t, s, in)
	for _, u := range []string{"erika", "max"} {
		if err := s.AddUser(User{Name: u, Role: RoleClerk}, "", t0); err != nil {
			t.Fatal(err)
		}
	}
	a := Actor{Name: "admin", At: t0.Add(60 * day)}
	steps := []func() error{
		func() error { return s.Assign(ref(1), "max", a) },
		func() error { return s.Assign(ref(1), "erika", a) }, // re-assigned: max loses it
		func() error { return s.SetStatus(ref(2), StatusInProgress, a.At) },
		func() error { return s.SetStatus(ref(7), StatusInProgress, a.At) },
		func() error { return s.SetStatus(ref(7), StatusClosed, a.At) },
		func() error { return s.Assign(ref(8), "erika", a) },
		func() error { return s.SetStatus(ref(8), StatusInProgress, a.At) },
		func() error { return s.Assign(ref(7), "max", a) }, // closed: not "mine"
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

func numbers(items []WorkItem) []uint64 {
	var out []uint64
	for _, it := range items {
		out = append(out, it.Case.Reference.Number)
	}
	return out
}

func TestWorklistTabs(t *testing.T) {
	s := newTestStore(t)
	workFixture(t, s)
	now := t0.Add(60 * 24 * time.Hour)
	handling := 28 * 24 * time.Hour
	cut := map[string]time.Time{"post": now.Add(-handling), "bauamt": now.Add(-handling)}
	none, erika := "", "erika"
	citizen := []Kind{KindCitizen, KindMalformed}
	open := []CaseStatus{StatusNew, StatusInProgress}
	tabs := []struct {
		name  string
		f     WorkFilter
		count func(WorkCounts) int
		want  []uint64 // newest first
	}{
		{"new, unassigned", WorkFilter{Kinds: citizen, Statuses: []CaseStatus{StatusNew}, Assignee: &none},
			func(c WorkCounts) int { return c.NewUnassigned }, []uint64{6, 4, 5}},
		{"mine", WorkFilter{Statuses: open, Assignee: &erika},
			func(c WorkCounts) int { return c.Mine }, []uint64{8, 1}},
		{"in progress", WorkFilter{Kinds: citizen, Statuses: []CaseStatus{StatusInProgress}},
			func(c WorkCounts) int { return c.InProgress }, []uint64{8, 2}},
		{"overdue", WorkFilter{Kinds: citizen, Statuses: open, OverdueAt: cut},
			func(c WorkCounts) int { return c.Overdue }, []uint64{5, 2, 1}},
		{"automated", WorkFilter{Kinds: []Kind{KindAutomated}, Statuses: open},
			func(c WorkCounts) int { return c.Automated }, []uint64{3}},
		{"all", WorkFilter{},
			func(c WorkCounts) int { return c.All }, []uint64{6, 4, 8, 5, 2, 3, 1, 7}},
	}
	counts, err := s.CountWork(nil, "erika", cut)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tabs {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.Limit = 100
			items, more, err := s.Worklist(f)
			if err != nil || more {
				t.Fatalf("Worklist: more %v, %v", more, err)
			}
			if got := numbers(items); !slices.Equal(got, tt.want) {
				t.Errorf("cases %v, want %v", got, tt.want)
			}
			if n := tt.count(counts); n != len(tt.want) {
				t.Errorf("count %d, want %d", n, len(tt.want))
			}
			f.Oldest = true
			items, _, _ = s.Worklist(f)
			want := slices.Clone(tt.want)
			slices.Reverse(want)
			if got := numbers(items); !slices.Equal(got, want) {
				t.Errorf("oldest first %v, want %v", got, want)
			}
			// Paging: two at a time gives the same cases.
			var paged []uint64
			for off := 0; ; off += 2 {
				f := tt.f
				f.Offset, f.Limit = off, 2
				items, more, err := s.Worklist(f)
				if err != nil {
					t.Fatal(err)
				}
				paged = append(paged, numbers(items)...)
				if !more {
					break
				}
			}
			if !slices.Equal(paged, tt.want) {
				t.Errorf("paged %v, want %v", paged, tt.want)
			}
		})
	}
	// A clerk who sees only "bauamt".
	c, err := s.CountWork([]string{"bauamt"}, "erika", cut)
	if err != nil {
		t.Fatal(err)
	}
	if want := (WorkCounts{NewUnassigned: 1, Overdue: 1, All: 1}); c != want {
		t.Errorf("bauamt counts %+v, want %+v", c, want)
	}
	if items, _, _ := s.Worklist(WorkFilter{Mailboxes: []string{}}); len(items) != 0 {
		t.Errorf("no mailboxes: %v", numbers(items))
	}
	// The overdue cut-off is the UTC day: a case created on the cut-off day is not overdue.
	c, _ = s.CountWork(nil, "", map[string]time.Time{"post": t0.Add(20*24*time.Hour + time.Hour)})
	if c.Overdue != 1 { // case 2 was created on day 20 after t0, case 1 on day 10
		t.Errorf("overdue at the day boundary %d, want 1", c.Overdue)
	}
}

// TestMigrateV2 checks that Open builds the worklist bucket of an older register exactly as
// the transactions would have written it.
func TestMigrateV2(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	workFixture(t, s)
	want := bucketKeys(t, s, bucketWorklist)
	if len(want[bucketWorklist]) == 0 {
		t.Fatal("empty worklist bucket")
	}
	s.Close()
	db, err := bolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte(bucketWorklist)); err != nil {
			return err
		}
		return bucket(tx, bucketMeta).Put([]byte(keySchema), []byte("2"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	if s.MigrationBackup == "" {
		t.Error("no backup before the migration")
	}
	got := bucketKeys(t, s, bucketWorklist)
	if !slices.Equal(got[bucketWorklist], want[bucketWorklist]) {
		t.Errorf("migrated worklist keys\n%q\nwant\n%q", got[bucketWorklist], want[bucketWorklist])
	}
}

// benchStore registers n cases spread over two years, three mailboxes, every fifth one
// automated, in batches (one transaction each); it returns the store, the mailboxes and
// the end of the two years.
func benchStore(b *testing.B, n int) (*Store, []string, time.Time) {
	s := openTestStore(b, b.TempDir())
	b.Cleanup(func() { s.Close() })
	start := time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC)
	const batch = 2000
	boxes := []string{"post", "bauamt", "presse"}
	for i := 0; i < n; i += batch {
		var ins []Incoming
		for j := i; j < i+batch && j < n; j++ {
			in := incoming(uint32(j+1), fmt.Sprintf("m%d@x", j), start.Add(time.Duration(j)*(2*365*24*time.Hour/time.Duration(n))))
			in.Message.Mailbox = boxes[j%3]
			if j%5 == 0 {
				in.Kind = KindAutomated
			}
			ins = append(ins, in)
		}
		if _, err := s.RegisterBatch(ins); err != nil {
			b.Fatal(err)
		}
	}
	return s, boxes, start.Add(2 * 365 * 24 * time.Hour)
}

// BenchmarkCountWork measures the tab counts on registers of growing size: the cost must
// not grow with the number of cases (only with mailboxes, users and days).
func BenchmarkCountWork(b *testing.B) {
	for _, n := range []int{10_000, 200_000} {
		b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
			s, boxes, now := benchStore(b, n)
			cut := map[string]time.Time{}
			for _, m := range boxes {
				cut[m] = now.Add(-28 * 24 * time.Hour)
			}
			b.ResetTimer()
			b.ReportAllocs()
			for b.Loop() {
				c, err := s.CountWork(nil, "erika", cut)
				if err != nil || c.All != n {
					b.Fatalf("%+v, %v", c, err)
				}
			}
		})
	}
}

// BenchmarkWorklistPage measures the first page (20 cases) of the "new, unassigned" tab:
// it reads the status index from the newest end, so it does not grow with the register.
func BenchmarkWorklistPage(b *testing.B) {
	for _, n := range []int{10_000, 200_000} {
		b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
			s, _, _ := benchStore(b, n)
			nobody := ""
			f := WorkFilter{Kinds: []Kind{KindCitizen, KindMalformed}, Statuses: []CaseStatus{StatusNew}, Assignee: &nobody, Limit: 20}
			b.ResetTimer()
			b.ReportAllocs()
			for b.Loop() {
				items, _, err := s.Worklist(f)
				if err != nil || len(items) != 20 {
					b.Fatalf("%d, %v", len(items), err)
				}
			}
		})
	}
}
