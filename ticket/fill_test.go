package ticket

import (
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestAppendBucketsArePacked: the buckets that grow at their end (messages, cases, the
// audit log) fill their pages; with bbolt's default split at half they held half their
// size in empty space for good (appendFill).
func TestAppendBucketsArePacked(t *testing.T) {
	s := newTestStore(t)
	const n = 3000
	for i := range n {
		in := incoming(uint32(i+1), fmt.Sprintf("fill%d@example.org", i), t0.Add(time.Duration(i)*time.Second))
		res, err := s.Register(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AppendAuditDeferred(AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "erika", Action: AuditView, Case: res.Reference}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FlushAudit(); err != nil {
		t.Fatal(err)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range []string{bucketMessages, bucketCases, bucketAudit} {
			st := bucket(tx, name).Stats()
			if st.KeyN < n {
				t.Errorf("%s: %d keys, want %d", name, st.KeyN, n)
			}
			// At least two thirds: the default split leaves them at half; records of 500 bytes
			// (messages) fill a page to 70-90 % in whole records.
			if fill := float64(st.LeafInuse) / float64(st.LeafAlloc); fill < 0.67 {
				t.Errorf("%s: leaf pages %.0f %% full (%d of %d bytes), want at least two thirds", name, 100*fill, st.LeafInuse, st.LeafAlloc)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
