package ticket

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func ref(n uint64) Reference { return Reference{"STK", 2026, n} }

func TestLinkTo(t *testing.T) {
	tests := []struct {
		name     string
		in       func() Incoming
		wantRef  Reference
		wantNew  bool
		wantLink []Reference // of the registered case
		wantBack []Reference // of case 1
	}{
		{"link both directions", func() Incoming {
			in := incoming(2, "stranger@x", t0.Add(time.Hour))
			in.Message.From, in.LinkTo = "stranger@example.net", new(ref(1))
			return in
		}, ref(2), true, []Reference{ref(1)}, []Reference{ref(2)}},
		{"typed in lower case", func() Incoming {
			in := incoming(2, "stranger@x", t0.Add(time.Hour))
			in.LinkTo = &Reference{"stk", 2026, 1} // no such key: not linked
			return in
		}, ref(2), true, nil, nil},
		{"unknown case: new case without link", func() Incoming {
			in := incoming(2, "stranger@x", t0)
			in.LinkTo = new(ref(77))
			return in
		}, ref(2), true, nil, nil},
		{"follow-up wins", func() Incoming {
			in := incoming(2, "reply@x", t0)
			in.FollowUpOf, in.LinkTo = new(ref(1)), new(ref(1))
			return in
		}, ref(1), false, nil, nil},
		{"follow-up of unknown case, link", func() Incoming {
			in := incoming(2, "reply@x", t0)
			in.FollowUpOf, in.LinkTo = new(ref(99)), new(ref(1))
			return in
		}, ref(2), true, []Reference{ref(1)}, []Reference{ref(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			mustRegister(t, s, incoming(1, "orig@x", t0))
			reg := mustRegister(t, s, tt.in())
			if reg.Reference != tt.wantRef || reg.NewCase != tt.wantNew {
				t.Fatalf("Register = %+v, want %s new %v", reg, tt.wantRef, tt.wantNew)
			}
			if tt.wantNew {
				if got := mustLookup(t, s, reg.Reference).Links; !slices.Equal(got, tt.wantLink) {
					t.Errorf("links of the new case %v, want %v", got, tt.wantLink)
				}
			}
			if got := mustLookup(t, s, ref(1)).Links; !slices.Equal(got, tt.wantBack) {
				t.Errorf("links of case 1 %v, want %v", got, tt.wantBack)
			}
			// A duplicate changes no links.
			if again := mustRegister(t, s, tt.in()); !again.Duplicate {
				t.Fatalf("not a duplicate: %+v", again)
			}
			if got := mustLookup(t, s, ref(1)).Links; !slices.Equal(got, tt.wantBack) {
				t.Errorf("links of case 1 after a duplicate %v, want %v", got, tt.wantBack)
			}
		})
	}
}

func TestLinksCapped(t *testing.T) {
	s := newTestStore(t)
	mustRegister(t, s, incoming(1, "orig@x", t0))
	var want []Reference
	for i := range maxLinks + 5 {
		in := incoming(uint32(i+2), fmt.Sprintf("s%d@x", i), t0)
		in.LinkTo = new(ref(1))
		reg := mustRegister(t, s, in)
		if i < maxLinks {
			want = append(want, reg.Reference)
		}
		if got := mustLookup(t, s, reg.Reference).Links; !slices.Equal(got, []Reference{ref(1)}) {
			t.Errorf("links of %s = %v", reg.Reference, got)
		}
	}
	c := mustLookup(t, s, ref(1))
	if !slices.Equal(c.Links, want) {
		t.Errorf("links of case 1 = %v, want the first %d: %v", c.Links, maxLinks, want)
	}
	b, _ := json.Marshal(c)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil || doc["links"].([]any)[0] != "STK-2026-000002-8" {
		t.Errorf("links JSON: %s", b)
	}
	// The case record with 20 links and a long number stays small.
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := bucket(tx, bucketCases).Get(refKey(ref(1))); len(v) > maxRecordBytes/2 {
			return fmt.Errorf("case record of %d bytes", len(v))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestCaseHasSender(t *testing.T) {
	s := newTestStore(t)
	mustRegister(t, s, incoming(1, "a@x", t0)) // From Erika.Mustermann@Example.ORG
	in := incoming(2, "b@x", t0.Add(time.Hour))
	in.Message.From, in.FollowUpOf = "Max@Example.COM", new(ref(1))
	mustRegister(t, s, in)
	other := incoming(3, "c@x", t0)
	other.Message.From = "anna@example.org"
	mustRegister(t, s, other)

	tests := []struct {
		name   string
		ref    Reference
		sender string
		want   bool
		err    error
	}{
		{"first sender", ref(1), "erika.mustermann@example.org", true, nil},
		{"first sender any case", ref(1), " ERIKA.Mustermann@example.org ", true, nil},
		{"follow-up sender", ref(1), "max@example.com", true, nil},
		{"stranger", ref(1), "anna@example.org", false, nil},
		{"similar address", ref(1), "erika.mustermann@example.org.evil", false, nil},
		{"empty", ref(1), "", false, nil},
		{"other case", ref(2), "max@example.com", false, nil},
		{"other case, its sender", ref(2), "Anna@example.org", true, nil},
		{"unknown case", ref(9), "anna@example.org", false, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CaseHasSender(tt.ref, tt.sender)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("CaseHasSender(%s, %q) = %v, %v; want %v, %v", tt.ref, tt.sender, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestMessageBySeq(t *testing.T) {
	s := newTestStore(t)
	mustRegister(t, s, incoming(1, "a@x", t0))
	in := incoming(2, "b@x", t0)
	in.FollowUpOf = new(ref(1))
	mustRegister(t, s, in)
	m, r, err := s.MessageBySeq(2)
	if err != nil || r != ref(1) || m.MessageID != "b@x" || m.Seq != 2 || m.Ack.Status != AckPending {
		t.Errorf("MessageBySeq(2) = %+v, %s, %v", m, r, err)
	}
	if _, _, err := s.MessageBySeq(3); !errors.Is(err, ErrNotFound) {
		t.Errorf("MessageBySeq(3): %v, want ErrNotFound", err)
	}
}
