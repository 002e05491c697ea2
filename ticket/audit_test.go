package ticket

import (
	"fmt"
	"testing"
	"time"
)

func TestAuditLog(t *testing.T) {
	s := newTestStore(t)
	mustRegister(t, s, incoming(1, "a@x", t0))
	mustRegister(t, s, incoming(2, "b@x", t0))
	// Ten entries a minute apart, alternating actors and cases; the last two at the same
	// instant.
	for i := range 10 {
		at := t0.Add(time.Duration(min(i, 8)) * time.Minute)
		e := AuditEntry{At: at, Actor: []string{"erika", "max"}[i%2], Action: AuditView, Case: ref(uint64(1 + i%2)), Remote: "192.0.2.1"}
		if i == 4 {
			e.Action, e.Case = AuditLogin, Reference{}
		}
		got, err := s.AppendAudit(e)
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != uint64(i+1) {
			t.Errorf("entry %d: Seq %d", i, got.Seq)
		}
	}
	seqs := func(es []AuditEntry) string {
		out := ""
		for _, e := range es {
			out += fmt.Sprintf("%d,", e.Seq)
		}
		return out
	}
	tests := []struct {
		name string
		f    AuditFilter
		want string
		more bool
	}{
		{"all newest first", AuditFilter{}, "10,9,8,7,6,5,4,3,2,1,", false},
		{"limit", AuditFilter{Limit: 3}, "10,9,8,", true},
		{"offset", AuditFilter{Offset: 8, Limit: 3}, "2,1,", false},
		{"case 1", AuditFilter{Case: ref(1)}, "9,7,3,1,", false},
		{"case 2 paged", AuditFilter{Case: ref(2), Limit: 2, Offset: 1}, "8,6,", true},
		{"unknown case", AuditFilter{Case: ref(99)}, "", false},
		{"actor", AuditFilter{Actor: "max"}, "10,8,6,4,2,", false},
		{"action", AuditFilter{Action: AuditLogin}, "5,", false},
		{"since", AuditFilter{Since: t0.Add(7 * time.Minute)}, "10,9,8,", false},
		{"until", AuditFilter{Until: t0.Add(2 * time.Minute)}, "2,1,", false},
		{"case and time", AuditFilter{Case: ref(1), Since: t0.Add(2 * time.Minute), Until: t0.Add(8 * time.Minute)}, "7,3,", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, more, err := s.AuditLog(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if seqs(got) != tt.want || more != tt.more {
				t.Errorf("got %s more=%v, want %s more=%v", seqs(got), more, tt.want, tt.more)
			}
		})
	}
	got, _, _ := s.AuditLog(AuditFilter{Limit: 1})
	if e := got[0]; e.Actor != "max" || e.Remote != "192.0.2.1" || e.Case != ref(2) || !e.At.Equal(t0.Add(8*time.Minute)) {
		t.Errorf("entry = %+v", e)
	}
}

func TestAppendAuditRejects(t *testing.T) {
	s := newTestStore(t)
	tests := []struct {
		name string
		e    AuditEntry
	}{
		{"no action", AuditEntry{At: t0, Actor: "x"}},
		{"no actor", AuditEntry{At: t0, Action: AuditView}},
		{"no time", AuditEntry{Actor: "x", Action: AuditView}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.AppendAudit(tt.e); err == nil {
				t.Error("accepted")
			}
		})
	}
	long := AuditEntry{At: t0, Actor: "x", Action: AuditSearch, Detail: string(make([]byte, 5000))}
	e, err := s.AppendAudit(long)
	if err != nil || len(e.Detail) > maxAuditDetail {
		t.Errorf("long detail: %d bytes, %v", len(e.Detail), err)
	}
}
