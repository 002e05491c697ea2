package intake_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/mailrig"
)

// outages are the Dovecot outages TestRealServersDovecotOutages plays; INTAKE_TEST_OUTAGES
// (e.g. "30s,30s,30s,300s", the scenario) replaces the short default.
func outages(t *testing.T) []time.Duration {
	spec := os.Getenv("INTAKE_TEST_OUTAGES")
	if spec == "" {
		return []time.Duration{3 * time.Second, 8 * time.Second}
	}
	var out []time.Duration
	for _, f := range strings.Split(spec, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			t.Fatalf("INTAKE_TEST_OUTAGES: %v", err)
		}
		out = append(out, d)
	}
	return out
}

// Dovecot stopped and started again while the daemon idles, with the production reconnect
// schedule (issue 9, finding 3): after each outage a mail appended once Dovecot is up must
// be registered. The time from "up" to the registration is logged (the schedule itself is
// tested with a fake clock in TestReconnectBackoffSchedule).
func TestRealServersDovecotOutages(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	p := newRigPipe(t, rig, "")
	p.opts.ReconnectMin, p.opts.ReconnectMax = 0, 0 // production defaults
	p.start()
	ctx := context.Background()
	appendMail := func(n int) {
		t.Helper()
		raw := "Return-Path: <c01@example.test>\r\n" + letterTo(rigOffice, "c01@example.test", fmt.Sprintf("Brief %d", n), fmt.Sprintf("outage-%d@example.test", n), "", "x")
		if _, err := rig.Append(ctx, rigOffice, "INBOX", []byte(raw), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	appendMail(0)
	waitFor(t, 30*time.Second, "the first registration", func() bool { return p.count() == 1 })
	for i, outage := range outages(t) {
		if err := rig.StopDovecot(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(outage) // the outage itself, not a wait for an event
		if err := rig.StartDovecot(); err != nil {
			t.Fatal(err)
		}
		up := time.Now()
		appendMail(i + 1)
		waitFor(t, 3*time.Minute, "the registration after the outage", func() bool { return p.count() == i+2 })
		t.Logf("outage %d of %v: mail registered %v after Dovecot was up", i+1, outage, time.Since(up).Round(time.Millisecond))
	}
}
