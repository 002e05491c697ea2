package intake_test

import (
	"testing"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
)

// TestHourlyCapIsDaemonWide: the hourly cap counts the acknowledgements of
// every mailbox together, so one value applies to all of them - the smallest
// hourly_cap - whichever mailbox's responder asks (before, each responder
// compared the daemon-wide count with its own mailbox's value, so a mailbox
// with a large cap went on sending after a small one's cap was reached).
func TestHourlyCapIsDaemonWide(t *testing.T) {
	capOf := func(n int) config.Mailbox {
		return config.Mailbox{Policy: config.Policy{HourlyCap: &n}}
	}
	for _, tc := range []struct {
		name      string
		mailboxes []config.Mailbox
		want      int
	}{
		{"one mailbox", []config.Mailbox{capOf(500)}, 500},
		{"small first", []config.Mailbox{capOf(3), capOf(1000)}, 3},
		{"small last", []config.Mailbox{capOf(1000), capOf(40), capOf(3)}, 3},
		{"unset is not zero", []config.Mailbox{{}, capOf(70)}, 70},
		{"no mailbox", nil, config.DefaultHourlyCap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := intake.HourlyCap(&config.Config{Mailboxes: tc.mailboxes}); got != tc.want {
				t.Errorf("HourlyCap = %d, want %d", got, tc.want)
			}
		})
	}
}
