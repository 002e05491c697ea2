package ticket

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// rateStep is one mail of a rate test: received at t0+at from rcpt ("" = the default
// recipient, "-" = no ack asked for), a follow-up of the test's first case or not.
type rateStep struct {
	at       time.Duration
	rcpt     string
	followUp bool
	want     string // "" = ack pending, else the suppression reason
}

func (st rateStep) incoming(uid uint32, rule *RateRule) Incoming {
	in := incoming(uid, fmt.Sprintf("rate%d@example.org", uid), t0.Add(st.at))
	in.Rate = rule
	switch st.rcpt {
	case "":
	case "-":
		in.AckRecipient, in.SuppressReason = "", "LIST"
	default:
		in.AckRecipient = st.rcpt
	}
	if st.followUp {
		in.FollowUpOf = &Reference{"STK", 2026, 1}
	}
	return in
}

// checkRateStep checks the registration of step i and the ack it stored.
func checkRateStep(t *testing.T, s *Store, i int, st rateStep, reg Registration) {
	t.Helper()
	m, _, err := s.MessageBySeq(reg.Seq)
	if err != nil {
		t.Fatalf("step %d: %v", i, err)
	}
	a := m.Ack
	switch {
	case st.want == "" && a.Status != AckPending:
		t.Errorf("step %d (%+v): ack %s %s, want pending", i, st, a.Status, a.Reason)
	case st.want != "" && (a.Status != AckSuppressed || a.Reason != st.want):
		t.Errorf("step %d (%+v): ack %s %q, want suppressed %s", i, st, a.Status, a.Reason, st.want)
	}
	if (isRateReason(st.want) || st.want == follow) && a.Recipient == "" {
		t.Errorf("step %d: the suppressed ack lost its recipient: %+v", i, a)
	}
	if reg.AckReason != st.want {
		t.Errorf("step %d: AckReason = %q, want %q", i, reg.AckReason, st.want)
	}
	if reg.RateLimited != isRateReason(st.want) {
		t.Errorf("step %d: RateLimited = %v, want %v", i, reg.RateLimited, isRateReason(st.want))
	}
	if st.followUp && reg.NewCase {
		t.Errorf("step %d: follow-up opened a new case", i)
	}
}

const (
	hour   = time.Hour
	day    = 24 * time.Hour
	anna   = "anna@example.org"
	noAck  = "-"
	rateRe = ReasonRate
	caseRe = ReasonRateCase
	follow = ReasonFollowUp
)

func TestRateLimit(t *testing.T) {
	tests := []struct {
		name  string
		rule  *RateRule
		steps []rateStep
	}{
		{"no rule", nil, []rateStep{{0, "", false, ""}, {1, "", false, ""}, {2, "", true, ""}}},
		{"unlimited", &RateRule{FollowUpAck: true}, []rateStep{
			{0, "", false, ""}, {hour, "", false, ""}, {2 * hour, "", false, ""}, {3 * hour, "", false, ""}}},
		{"per sender within window", &RateRule{PerSenderLimit: 2}, []rateStep{
			{0, "", false, ""}, {hour, "", false, ""}, {2 * hour, "", false, rateRe}, {23 * hour, "", false, rateRe}}},
		{"per sender outside window", &RateRule{PerSenderLimit: 2}, []rateStep{
			{0, "", false, ""}, {hour, "", false, ""}, {2 * hour, "", false, rateRe},
			{day, "", false, ""},                      // the ack at t0 is out of (t0, t0+24h]
			{day + 30*time.Minute, "", false, rateRe}, // t0+1h and t0+24h count
			{day + hour, "", false, ""},               // t0+1h is out now
		}},
		{"window lower bound exclusive", &RateRule{PerSenderLimit: 1}, []rateStep{
			{0, "", false, ""}, {day - time.Nanosecond, "", false, rateRe}, {day, "", false, ""}}},
		{"window upper bound inclusive", &RateRule{PerSenderLimit: 1}, []rateStep{
			{hour, "", false, ""}, {hour, "", false, rateRe}}},
		{"custom window", &RateRule{PerSenderLimit: 1, PerSenderWindow: hour}, []rateStep{
			{0, "", false, ""}, {30 * time.Minute, "", false, rateRe}, {hour, "", false, ""}}},
		{"a later mail does not count", &RateRule{PerSenderLimit: 1}, []rateStep{
			{2 * hour, "", false, ""}, {0, "", false, ""}, {3 * hour, "", false, rateRe}}},
		{"recipient compared in lower case", &RateRule{PerSenderLimit: 1}, []rateStep{
			{0, "Erika.Mustermann@EXAMPLE.org", false, ""}, {hour, "", false, rateRe}}},
		{"recipient compared in lower case, counted", &RateRule{PerSenderLimit: 1}, []rateStep{
			{0, "", false, ""}, {hour, "ERIKA.mustermann@example.ORG", false, rateRe}}},
		{"other recipient", &RateRule{PerSenderLimit: 1}, []rateStep{
			{0, "", false, ""}, {hour, anna, false, ""}, {2 * hour, anna, false, rateRe}, {3 * hour, "", false, rateRe}}},
		{"suppressed mails do not count", &RateRule{PerSenderLimit: 1}, []rateStep{
			{0, noAck, false, "LIST"}, {hour, "", false, ""}, {2 * hour, "", false, rateRe}, {3 * hour, "", false, rateRe}}},
		{"limit counts follow-ups", &RateRule{PerSenderLimit: 2, FollowUpAck: true, FollowUpWindow: time.Minute}, []rateStep{
			{0, "", false, ""}, {hour, "", true, ""}, {2 * hour, "", false, rateRe}}},
		{"follow-up without ack", &RateRule{}, []rateStep{
			{0, "", false, ""}, {day * 3, "", true, follow}, {day * 4, "", false, ""}, {day * 5, noAck, true, "LIST"}}},
		{"follow-up within window", &RateRule{FollowUpAck: true}, []rateStep{
			{0, "", false, ""}, {hour, "", true, caseRe}, {23 * hour, "", true, caseRe}}},
		{"follow-up after window", &RateRule{FollowUpAck: true}, []rateStep{
			{0, "", false, ""}, {day, "", true, ""}, {day + hour, "", true, caseRe}, {2*day + 30*time.Minute, "", true, ""}}},
		{"follow-up custom window", &RateRule{FollowUpAck: true, FollowUpWindow: hour}, []rateStep{
			{0, "", false, ""}, {59 * time.Minute, "", true, caseRe}, {hour, "", true, ""}}},
		{"follow-up window counts other recipients", &RateRule{FollowUpAck: true}, []rateStep{
			{0, "", false, ""}, {hour, anna, true, caseRe}}},
		{"follow-up of a case without ack", &RateRule{FollowUpAck: true}, []rateStep{
			{0, noAck, false, "LIST"}, {hour, "", true, ""}, {2 * hour, "", true, caseRe}}},
		{"follow-up window ignores other cases", &RateRule{FollowUpAck: true}, []rateStep{
			{0, noAck, false, "LIST"}, {hour, anna, false, ""}, {2 * hour, "", true, ""}, {3 * hour, "", true, caseRe}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			for i, st := range tt.steps {
				reg := mustRegister(t, s, st.incoming(uint32(i+1), tt.rule))
				checkRateStep(t, s, i, st, reg)
			}
		})
	}
}

// TestRateLimitOfSentAndFailedAcks: an ack counts whatever became of it, except suppressed.
func TestRateLimitOfSentAndFailedAcks(t *testing.T) {
	tests := []struct {
		name   string
		record func(s *Store, seq uint64) error
	}{
		{"sent", func(s *Store, seq uint64) error { return s.RecordAck(seq, AckResult{Status: AckSent, At: t0}) }},
		{"failed", func(s *Store, seq uint64) error { return s.RecordAck(seq, AckResult{Status: AckFailed, At: t0}) }},
		{"bounced", func(s *Store, seq uint64) error { return s.MarkBounced(seq, "5.1.1", "no such user", t0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			rule := &RateRule{PerSenderLimit: 1, FollowUpAck: true}
			first := mustRegister(t, s, rateStep{}.incoming(1, rule))
			if err := tt.record(s, first.Seq); err != nil {
				t.Fatal(err)
			}
			st := rateStep{at: hour, want: rateRe}
			checkRateStep(t, s, 1, st, mustRegister(t, s, st.incoming(2, rule)))
			st = rateStep{at: 2 * hour, followUp: true, rcpt: anna, want: caseRe}
			checkRateStep(t, s, 2, st, mustRegister(t, s, st.incoming(3, rule)))
		})
	}
}

// TestRateLimitAcrossReopen: the counts come from the database, not from memory.
func TestRateLimitAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	rule := &RateRule{PerSenderLimit: 2, FollowUpAck: true}
	steps := []rateStep{
		{0, "", false, ""}, {hour, "", false, ""}, // then a restart
		{2 * hour, "", false, rateRe}, {3 * hour, "", true, caseRe}, {day + 30*time.Minute, "", false, ""},
	}
	s := openTestStore(t, dir)
	for i, st := range steps[:2] {
		checkRateStep(t, s, i, st, mustRegister(t, s, st.incoming(uint32(i+1), rule)))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	for i, st := range steps[2:] {
		i += 2
		checkRateStep(t, s, i, st, mustRegister(t, s, st.incoming(uint32(i+1), rule)))
	}
}

// TestRateLimitInBatch: a later mail of a RegisterBatch counts the acks of the earlier ones.
func TestRateLimitInBatch(t *testing.T) {
	s := newTestStore(t)
	rule := &RateRule{PerSenderLimit: 2, FollowUpAck: true}
	steps := []rateStep{
		{0, "", false, ""},
		{0, anna, true, caseRe}, // follow-up of case 1, opened earlier in this batch
		{time.Minute, "", false, ""},
		{2 * time.Minute, "", false, rateRe}, // third ack to erika within 24h
		{3 * time.Minute, anna, false, ""},
	}
	var ins []Incoming
	for i, st := range steps {
		ins = append(ins, st.incoming(uint32(i+1), rule))
	}
	regs, err := s.RegisterBatch(ins)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range steps {
		checkRateStep(t, s, i, st, regs[i])
	}
	// The same mails again: duplicates (RateLimited reports only what this call did),
	// nothing counted twice.
	again, err := s.RegisterBatch(ins)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if !again[i].Duplicate || again[i].RateLimited || again[i].Seq != regs[i].Seq {
			t.Errorf("again[%d] = %+v, first %+v", i, again[i], regs[i])
		}
	}
	if due, _ := s.DueAcks("post", t0.Add(time.Hour), 0); len(due) != 3 {
		t.Errorf("%d due acks, want 3", len(due))
	}
	// A later single mail of erika is still over the limit.
	st := rateStep{at: hour, want: rateRe}
	checkRateStep(t, s, 5, st, mustRegister(t, s, st.incoming(6, rule)))
}

// TestRateRollback: a rolled-back registration leaves the counts as they were.
func TestRateRollback(t *testing.T) {
	s := newTestStore(t)
	rule := &RateRule{PerSenderLimit: 1}
	boom := errors.New("boom")
	err := s.db.Update(func(tx *bolt.Tx) error {
		in := rateStep{}.incoming(1, rule)
		if err := checkIncoming(&in); err != nil {
			return err
		}
		if reg, err := register(tx, in); err != nil || reg.RateLimited {
			return fmt.Errorf("register in tx: %+v, %v", reg, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v", err)
	}
	st := rateStep{at: hour}
	checkRateStep(t, s, 1, st, mustRegister(t, s, st.incoming(2, rule)))
	st = rateStep{at: 2 * hour, want: rateRe}
	checkRateStep(t, s, 2, st, mustRegister(t, s, st.incoming(3, rule)))
}

// TestRateLimitConcurrent: concurrent registrations never let more than the limit through.
func TestRateLimitConcurrent(t *testing.T) {
	s := newTestStore(t)
	rule := &RateRule{PerSenderLimit: 5}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		limited int
	)
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				uid := uint32(w*10 + i + 1)
				// All received at t0: every earlier ack is inside the window of each.
				reg, err := s.Register(rateStep{}.incoming(uid, rule))
				if err != nil {
					t.Error(err)
					return
				}
				if reg.RateLimited {
					mu.Lock()
					limited++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	due, err := s.DueAcks("post", t0.Add(time.Hour), 0)
	if err != nil || len(due) != 5 || limited != 35 {
		t.Errorf("%d due acks (%v), %d rate limited; want 5 and 35", len(due), err, limited)
	}
}
