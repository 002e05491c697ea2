package ticket

import (
	"errors"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Issue 8: limits that hold.

// limitStep is one mail to the ack recipient rcpt, received at t0+at, from a verified
// sender or not, and the suppression reason it must get ("" = ack pending).
type limitStep struct {
	at       time.Duration
	rcpt     string
	verified bool
	want     string
}

func (st limitStep) incoming(uid uint32, rule *RateRule) Incoming {
	in := incoming(uid, fmt.Sprintf("limit%d@example.org", uid), t0.Add(st.at))
	in.Rate = rule
	in.AckRecipient = st.rcpt
	in.Message.From = st.rcpt
	if st.verified {
		in.Message.VerifiedSender, in.Message.VerifiedBy = st.rcpt, "spf"
	}
	return in
}

func TestRateLimitsHold(t *testing.T) {
	const (
		rateDom = ReasonRateDomain
		rateUnv = ReasonRateUnverified
	)
	victims := func(n int, want func(i int) string) []limitStep {
		var out []limitStep
		for i := range n {
			out = append(out, limitStep{time.Duration(i) * time.Minute, fmt.Sprintf("Victim+%d@Example.ORG", i+1), false, want(i)})
		}
		return out
	}
	tests := []struct {
		name  string
		rule  *RateRule
		steps []limitStep
	}{
		// The attack of issue 8: victim+1@, victim+2@ ... each had their own quota.
		{"per sender counts the address without +tag", &RateRule{PerSenderLimit: 3},
			append(victims(8, func(i int) string {
				if i < 3 {
					return ""
				}
				return rateRe
			}), limitStep{time.Hour, "victim@example.org", false, rateRe})},
		{"per sender: the plain address first", &RateRule{PerSenderLimit: 1}, []limitStep{
			{0, "victim@example.org", false, ""}, {time.Minute, "VICTIM+news@example.org", false, rateRe}}},
		{"per sender: other local parts are other people", &RateRule{PerSenderLimit: 1}, []limitStep{
			{0, "victim@example.org", false, ""}, {time.Minute, "victim-1@example.org", false, ""},
			{2 * time.Minute, "+victim@example.org", false, ""}}},
		{"per domain counts unverified acks", &RateRule{PerDomainLimit: 2}, []limitStep{
			{0, "a@corp.example", false, ""}, {time.Minute, "b@CORP.example", false, ""},
			{2 * time.Minute, "c@corp.example", false, rateDom},
			{3 * time.Minute, "d@other.example", false, ""},
			// A verified sender is limited per address only.
			{4 * time.Minute, "e@corp.example", true, ""},
			// The window is PerSenderWindow (24 h).
			{day - time.Second, "f@corp.example", false, rateDom}, {day + time.Minute, "g@corp.example", false, ""}}},
		{"per domain: verified acks do not use it up", &RateRule{PerDomainLimit: 1}, []limitStep{
			{0, "a@corp.example", true, ""}, {time.Minute, "b@corp.example", true, ""},
			{2 * time.Minute, "c@corp.example", false, ""}, {3 * time.Minute, "d@corp.example", false, rateDom}}},
		{"per sender before per domain", &RateRule{PerSenderLimit: 1, PerDomainLimit: 1}, []limitStep{
			{0, "a@corp.example", false, ""}, {time.Minute, "a@corp.example", false, rateRe}}},
		// The attack of issue 8: flooding unverified mail stops acks to verified citizens.
		{"unverified budget", &RateRule{LimitUnverified: true, UnverifiedHourlyCap: 3}, []limitStep{
			{0, "m1@evil.example", false, ""}, {time.Minute, "m2@spoofed.example", false, ""},
			{2 * time.Minute, "m3@other.example", false, ""},
			{3 * time.Minute, "m4@more.example", false, rateUnv}, {4 * time.Minute, "m5@more.example", false, rateUnv},
			{5 * time.Minute, "buerger@example.org", true, ""}, {6 * time.Minute, "buergerin@example.net", true, ""},
			// An hour after the first: its slot is free again.
			{hour, "m6@evil.example", false, ""}, {hour + time.Second, "m7@evil.example", false, rateUnv}}},
		{"unverified budget 0: no acks to unverified senders", &RateRule{LimitUnverified: true}, []limitStep{
			{0, "m1@evil.example", false, rateUnv}, {time.Minute, "buerger@example.org", true, ""}}},
		{"verified means the ack recipient was verified", &RateRule{LimitUnverified: true}, []limitStep{
			{0, "m1@evil.example", false, rateUnv}}},
		{"no budget without LimitUnverified", &RateRule{UnverifiedHourlyCap: 1}, []limitStep{
			{0, "m1@evil.example", false, ""}, {time.Minute, "m2@evil.example", false, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			for i, st := range tt.steps {
				reg := mustRegister(t, s, st.incoming(uint32(i+1), tt.rule))
				m, _, err := s.MessageBySeq(reg.Seq)
				if err != nil {
					t.Fatal(err)
				}
				switch a := m.Ack; {
				case st.want == "" && a.Status != AckPending:
					t.Errorf("step %d (%+v): ack %s %s, want pending", i, st, a.Status, a.Reason)
				case st.want != "" && (a.Status != AckSuppressed || a.Reason != st.want):
					t.Errorf("step %d (%+v): ack %s %q, want suppressed %s", i, st, a.Status, a.Reason, st.want)
				}
				if reg.RateLimited != (st.want != "") {
					t.Errorf("step %d: RateLimited = %v", i, reg.RateLimited)
				}
			}
		})
	}
}

// TestVictimSubaddressesShareOneQuota is the reproduction of issue 8 item 2 with the rule
// of a default configuration: victim+1 ... victim+20 get at most per_sender_limit acks.
func TestVictimSubaddressesShareOneQuota(t *testing.T) {
	s := newTestStore(t)
	rule := &RateRule{PerSenderLimit: 3, FollowUpAck: true}
	pending := 0
	for i := range 20 {
		in := incoming(uint32(i+1), fmt.Sprintf("v%d@evil.example", i), t0.Add(time.Duration(i)*time.Second))
		in.AckRecipient = fmt.Sprintf("victim+%d@example.org", i+1)
		in.Rate = rule
		if reg := mustRegister(t, s, in); reg.AckReason == "" {
			pending++
		}
	}
	if pending != 3 {
		t.Errorf("%d acks to victim+N@example.org, want per_sender_limit = 3", pending)
	}
}

// TestRateIndexRebuild: a register whose rate index was keyed by the exact address (before
// issue 8) is rebuilt on Open, so acks to victim+N before the upgrade count after it.
func TestRateIndexRebuild(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	for i := range 2 {
		in := incoming(uint32(i+1), fmt.Sprintf("old%d@example.org", i), t0.Add(time.Duration(i)*time.Minute))
		in.AckRecipient = fmt.Sprintf("victim+%d@example.org", i)
		mustRegister(t, s, in)
	}
	// Make it look like an old register: the ackrate keys of the old layout, no marker.
	err := s.db.Update(func(tx *bolt.Tx) error {
		idx := bucket(tx, bucketIndex)
		var del [][]byte
		c := idx.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if k[0] == tagAckRate || k[0] == tagDomainRate || k[0] == tagUnverifiedRate {
				del = append(del, append([]byte(nil), k...))
			}
		}
		for _, k := range del {
			if err := idx.Delete(k); err != nil {
				return err
			}
		}
		for i := range 2 {
			if err := idx.Put(rateKey(fmt.Sprintf("victim+%d@example.org", i), t0.Add(time.Duration(i)*time.Minute), uint64(i+1)), nil); err != nil {
				return err
			}
		}
		return bucket(tx, bucketMeta).Delete([]byte(keyRateIndex))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTestStore(t, dir)
	defer s.Close()
	in := incoming(3, "new@example.org", t0.Add(time.Hour))
	in.AckRecipient = "victim+9@example.org"
	in.Rate = &RateRule{PerSenderLimit: 2, PerDomainLimit: 3}
	if reg := mustRegister(t, s, in); reg.AckReason != ReasonRate {
		t.Errorf("after the rebuild: ack reason %q, want %s (two acks to victim+N before)", reg.AckReason, ReasonRate)
	}
	in = incoming(4, "new2@example.org", t0.Add(time.Hour))
	in.AckRecipient = "other@example.org"
	in.Rate = &RateRule{PerDomainLimit: 2}
	if reg := mustRegister(t, s, in); reg.AckReason != ReasonRateDomain {
		t.Errorf("after the rebuild: ack reason %q, want %s (old acks count as unverified)", reg.AckReason, ReasonRateDomain)
	}
}

// TestUnverifiedAcksSentSince: the send-time share of the hourly cap.
func TestUnverifiedAcksSentSince(t *testing.T) {
	s := newTestStore(t)
	for i, verified := range []bool{false, true, false} {
		st := limitStep{0, fmt.Sprintf("p%d@example.org", i), verified, ""}
		reg := mustRegister(t, s, st.incoming(uint32(i+1), nil))
		if err := s.RecordAck(reg.Seq, AckResult{Status: AckSent, At: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		since time.Time
		want  int
	}{{t0, 2}, {t0.Add(time.Minute), 1}, {t0.Add(3 * time.Minute), 0}} {
		if n, err := s.UnverifiedAcksSentSince(tc.since); err != nil || n != tc.want {
			t.Errorf("UnverifiedAcksSentSince(%v) = %d, %v; want %d", tc.since, n, err, tc.want)
		}
	}
	if n, _ := s.AcksSentSince(t0); n != 3 {
		t.Errorf("AcksSentSince = %d, want 3", n)
	}
}

// TestPurgeRemovesRateEntries: a purged message leaves no rate entry and no verified sender.
func TestPurgeRemovesRateEntries(t *testing.T) {
	s := newTestStore(t)
	st := limitStep{0, "p@corp.example", false, ""}
	reg := mustRegister(t, s, st.incoming(1, nil))
	if err := s.db.Update(func(tx *bolt.Tx) error {
		m, err := getMessage(tx, reg.Seq)
		if err != nil {
			return err
		}
		return unindexMessage(tx, reg.Reference, &m.Message)
	}); err != nil {
		t.Fatal(err)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := bucket(tx, bucketIndex).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			switch k[0] {
			case tagAckRate, tagDomainRate, tagUnverifiedRate:
				return errors.New("rate entry left: " + string(k))
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
