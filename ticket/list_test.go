package ticket

import (
	"slices"
	"testing"
	"time"
)

func TestList(t *testing.T) {
	s := newTestStore(t)
	day := 24 * time.Hour
	// Case n (number n) is created on day n-1 after t0.
	cases := []struct {
		mailbox, from string
		kind          Kind
	}{
		{"post", "anna@example.org", KindCitizen},            // 1
		{"post", "Bernd@Example.org", KindCitizen},           // 2
		{"bauamt", "anna@example.org", KindCitizen},          // 3
		{"post", "mailer-daemon@example.net", KindAutomated}, // 4
		{"post", "anna@example.org", KindMalformed},          // 5
		{"bauamt", "bernd@example.org", KindCitizen},         // 6
	}
	for i, c := range cases {
		in := incoming(uint32(i+1), "", t0.Add(time.Duration(i)*day))
		in.Message.Mailbox, in.Message.From, in.Kind = c.mailbox, c.from, c.kind
		mustRegister(t, s, in)
	}
	// A follow-up to case 1 much later does not move it in the list.
	in := incoming(100, "", t0.Add(30*day))
	in.FollowUpOf = &Reference{"STK", 2026, 1}
	mustRegister(t, s, in)
	// Close case 2; put case 3 in progress.
	for _, st := range []struct {
		number uint64
		status CaseStatus
	}{{2, StatusInProgress}, {2, StatusClosed}, {3, StatusInProgress}} {
		if err := s.SetStatus(Reference{"STK", 2026, st.number}, st.status, t0.Add(40*day)); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name string
		f    Filter
		want []uint64
	}{
		{"all", Filter{}, []uint64{6, 5, 4, 3, 2, 1}},
		{"limit", Filter{Limit: 2}, []uint64{6, 5}},
		{"mailbox", Filter{Mailbox: "bauamt"}, []uint64{6, 3}},
		{"sender", Filter{Sender: "anna@example.org"}, []uint64{5, 3, 1}},
		{"sender lower-cased on register", Filter{Sender: "bernd@example.org"}, []uint64{6, 2}},
		{"sender and mailbox", Filter{Sender: "anna@example.org", Mailbox: "post"}, []uint64{5, 1}},
		{"sender and limit", Filter{Sender: "anna@example.org", Limit: 1}, []uint64{5}},
		{"sender since", Filter{Sender: "anna@example.org", Since: t0.Add(2 * day)}, []uint64{5, 3}},
		{"sender until", Filter{Sender: "anna@example.org", Until: t0.Add(4 * day)}, []uint64{3, 1}},
		{"unknown sender", Filter{Sender: "nobody@example.org"}, nil},
		{"since inclusive", Filter{Since: t0.Add(3 * day)}, []uint64{6, 5, 4}},
		{"until exclusive", Filter{Until: t0.Add(2 * day)}, []uint64{2, 1}},
		{"range", Filter{Since: t0.Add(day), Until: t0.Add(3 * day)}, []uint64{3, 2}},
		{"range in another zone", Filter{Since: t0.Add(day).In(time.FixedZone("X", 5*3600))}, []uint64{6, 5, 4, 3, 2}},
		{"status closed", Filter{Status: StatusClosed}, []uint64{2}},
		{"status new", Filter{Status: StatusNew, Limit: 3}, []uint64{6, 5, 4}},
		{"status new, all", Filter{Status: StatusNew}, []uint64{6, 5, 4, 1}},
		{"status in progress", Filter{Status: StatusInProgress}, []uint64{3}},
		{"status and range", Filter{Status: StatusNew, Since: t0.Add(day), Until: t0.Add(5 * day)}, []uint64{5, 4}},
		{"status and mailbox", Filter{Status: StatusNew, Mailbox: "bauamt"}, []uint64{6}},
		{"status and sender", Filter{Status: StatusInProgress, Sender: "anna@example.org"}, []uint64{3}},
		{"unknown status", Filter{Status: "lost"}, nil},
		{"status with a 0 byte", Filter{Status: "new\x00\x80"}, nil},
		{"sender with a 0 byte", Filter{Sender: "anna@example.org\x00\x80"}, nil},
		{"kind", Filter{Kind: KindAutomated}, []uint64{4}},
		{"kind malformed for anna", Filter{Kind: KindMalformed, Sender: "anna@example.org"}, []uint64{5}},
		{"nothing", Filter{Since: t0.Add(100 * day)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.List(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var numbers []uint64
			for _, c := range got {
				numbers = append(numbers, c.Reference.Number)
			}
			if !slices.Equal(numbers, tt.want) {
				t.Errorf("List(%+v) = %v, want %v", tt.f, numbers, tt.want)
			}
		})
	}
	got, _ := s.List(Filter{Until: t0.Add(day)})
	if len(got) != 1 || len(got[0].Messages) != 2 {
		t.Errorf("List does not carry the messages: %+v", got)
	}
}
