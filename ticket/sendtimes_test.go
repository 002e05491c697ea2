package ticket

import (
	"fmt"
	"testing"
	"time"
)

// TestAckSendTimesSince: the hourly cap's seed holds exactly what AcksSentSince and
// UnverifiedAcksSentSince count, with the times recorded, ascending.
func TestAckSendTimesSince(t *testing.T) {
	s := newTestStore(t)
	var at []time.Time
	for i, verified := range []bool{false, true, false, true} {
		st := limitStep{0, fmt.Sprintf("p%d@example.org", i), verified, ""}
		reg := mustRegister(t, s, st.incoming(uint32(i+1), nil))
		sent := t0.Add(time.Duration(3-i) * time.Minute) // recorded out of order
		at = append(at, sent)
		if err := s.RecordAck(reg.Seq, AckResult{Status: AckSent, At: sent}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		since      time.Time
		all, unver []time.Time
	}{
		{t0, []time.Time{at[3], at[2], at[1], at[0]}, []time.Time{at[2], at[0]}},
		{t0.Add(time.Minute), []time.Time{at[2], at[1], at[0]}, []time.Time{at[2], at[0]}},
		{t0.Add(2*time.Minute + time.Nanosecond), []time.Time{at[0]}, []time.Time{at[0]}},
		{t0.Add(time.Hour), nil, nil},
	} {
		all, unver, err := s.AckSendTimesSince(tc.since)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(all) != fmt.Sprint(tc.all) || fmt.Sprint(unver) != fmt.Sprint(tc.unver) {
			t.Errorf("AckSendTimesSince(%v) = %v, %v; want %v, %v", tc.since, all, unver, tc.all, tc.unver)
		}
		if n, _ := s.AcksSentSince(tc.since); n != len(all) {
			t.Errorf("AcksSentSince(%v) = %d, seed holds %d", tc.since, n, len(all))
		}
		if n, _ := s.UnverifiedAcksSentSince(tc.since); n != len(unver) {
			t.Errorf("UnverifiedAcksSentSince(%v) = %d, seed holds %d", tc.since, n, len(unver))
		}
	}
}
