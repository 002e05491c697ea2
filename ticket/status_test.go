package ticket

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestSetStatus(t *testing.T) {
	all := []CaseStatus{StatusNew, StatusInProgress, StatusClosed, "", "archived"}
	allowed := map[[2]CaseStatus]bool{
		{StatusNew, StatusInProgress}:    true,
		{StatusInProgress, StatusClosed}: true,
		{StatusClosed, StatusInProgress}: true, // reopen
	}
	// path brings a new case to a status.
	path := map[CaseStatus][]CaseStatus{
		StatusNew:        nil,
		StatusInProgress: {StatusInProgress},
		StatusClosed:     {StatusInProgress, StatusClosed},
	}
	for _, from := range all[:3] {
		for _, to := range all {
			t.Run(fmt.Sprintf("%s to %q", from, to), func(t *testing.T) {
				s := newTestStore(t)
				mustRegister(t, s, incoming(1, "a@x", t0))
				mustRegister(t, s, incoming(2, "b@x", t0.Add(time.Hour)))
				for i, st := range path[from] {
					if err := s.SetStatus(ref(1), st, t0.Add(time.Duration(i+1)*time.Minute)); err != nil {
						t.Fatal(err)
					}
				}
				at := t0.Add(day)
				err := s.SetStatus(ref(1), to, at)
				want := from
				if allowed[[2]CaseStatus{from, to}] {
					if err != nil {
						t.Fatalf("SetStatus: %v", err)
					}
					want = to
				} else if !errors.Is(err, ErrBadTransition) {
					t.Fatalf("SetStatus: %v, want ErrBadTransition", err)
				}
				c := mustLookup(t, s, ref(1))
				if c.Status != want {
					t.Errorf("status %s, want %s", c.Status, want)
				}
				if err == nil && !c.StatusAt.Equal(at) {
					t.Errorf("StatusAt %v, want %v", c.StatusAt, at)
				}
				checkStatusIndex(t, s)
			})
		}
	}
	s := newTestStore(t)
	if err := s.SetStatus(ref(1), StatusInProgress, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetStatus of a missing case: %v", err)
	}
}

// checkStatusIndex checks that List by status finds exactly the cases with that status.
func checkStatusIndex(t *testing.T, s *Store) {
	t.Helper()
	every, err := s.List(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []CaseStatus{StatusNew, StatusInProgress, StatusClosed} {
		var want, got []Reference
		for _, c := range every {
			if c.Status == st {
				want = append(want, c.Reference)
			}
		}
		list, err := s.List(Filter{Status: st})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			got = append(got, c.Reference)
		}
		if !slices.Equal(got, want) {
			t.Errorf("List(status %s) = %v, want %v", st, got, want)
		}
	}
	n := 0
	err = s.db.View(func(tx *bolt.Tx) error {
		c := bucket(tx, bucketIndex).Cursor()
		for k, _ := c.Seek([]byte{tagStatus}); len(k) > 0 && k[0] == tagStatus; k, _ = c.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(every) {
		t.Errorf("status index has %d entries for %d cases", n, len(every))
	}
}

func TestStatusWorkflowAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	for i := range 5 {
		mustRegister(t, s, incoming(uint32(i+1), fmt.Sprintf("m%d@x", i), t0.Add(time.Duration(i)*time.Hour)))
	}
	steps := []struct {
		n  uint64
		st CaseStatus
	}{{2, StatusInProgress}, {4, StatusInProgress}, {2, StatusClosed}, {4, StatusClosed}, {4, StatusInProgress}}
	for i, st := range steps {
		if i == 3 {
			s.Close()
			s = openTestStore(t, dir)
		}
		if err := s.SetStatus(ref(st.n), st.st, t0.Add(day)); err != nil {
			t.Fatal(err)
		}
	}
	defer s.Close()
	checkStatusIndex(t, s)
	got, _ := s.List(Filter{Status: StatusInProgress})
	if len(got) != 1 || got[0].Reference != ref(4) {
		t.Errorf("in progress: %v", got)
	}
	// A follow-up does not change the status nor its index entry.
	in := incoming(9, "f@x", t0.Add(2*day))
	in.FollowUpOf = new(ref(2))
	mustRegister(t, s, in)
	if c := mustLookup(t, s, ref(2)); c.Status != StatusClosed {
		t.Errorf("status after follow-up: %s", c.Status)
	}
	checkStatusIndex(t, s)
}
