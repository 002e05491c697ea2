package intake_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/ticket"
)

const rigOffice2 = "office2@example.test"

// ackedIn reports whether n messages of mailbox have their ack sent.
func ackedIn(p *pipe, mailbox string, n int) func() bool {
	return func() bool {
		sent := 0
		for _, c := range p.cases(ticket.Filter{Mailbox: mailbox}) {
			for _, m := range c.Messages {
				if m.Ack.Status == ticket.AckSent {
					sent++
				}
			}
		}
		return sent >= n
	}
}

// TestIsolationOneServerDown runs two mailboxes on two rigs (each its own
// Dovecot and Postfix) and kills one Dovecot: the other mailbox goes on
// undisturbed (no reconnect, no wait for the failed one), the failed one is visible in Status() and /readyz, and it
// recovers when its server is back.
func TestIsolationOneServerDown(t *testing.T) {
	users := rigUsers()
	users[rigOffice2] = "office2-pass"
	rig1 := mailrig.StartT(t, mailrig.Options{Users: users})
	rig2 := mailrig.StartT(t, mailrig.Options{Users: users})
	policy := "per_sender_limit = 0\nhourly_cap = 100000000"
	text1 := rig1.IntakeConfig(t.TempDir(), rigOffice, policy)
	text2 := rig2.IntakeConfig(t.TempDir(), rigOffice2, policy)
	mb2 := text2[strings.Index(text2, "[[mailbox]]"):]
	mb2 = strings.Replace(mb2, `name = "post"`, `name = "second"`, 1)
	mb2 = strings.Replace(mb2, `prefix = "STK"`, `prefix = "SEC"`, 1)
	if !strings.Contains(mb2, `name = "second"`) || !strings.Contains(mb2, `prefix = "SEC"`) {
		t.Fatalf("unexpected rig config:\n%s", text2)
	}
	p := newPipeFromConfig(t, text1+"\n"+mb2)
	p.opts.Watchdog = 2 * time.Second
	d := p.start()
	admin := httptest.NewServer(d.AdminHandler())
	defer admin.Close()
	ctx := context.Background()

	n1, n2 := 0, 0
	send1 := func(k int) {
		t.Helper()
		for range k {
			n1++
			raw := letterTo(rigOffice, "c01@example.test", fmt.Sprintf("Brief %d", n1), fmt.Sprintf("iso1-%d@example.test", n1), "", "x")
			if err := rig1.Send(ctx, "c01@example.test", []string{rigOffice}, []byte(raw)); err != nil {
				t.Fatalf("send to rig 1: %v", err)
			}
		}
	}
	send2 := func(k int) {
		t.Helper()
		for range k {
			n2++
			raw := letterTo(rigOffice2, "c02@example.test", fmt.Sprintf("Brief %d", n2), fmt.Sprintf("iso2-%d@example.test", n2), "", "x")
			if err := rig2.Send(ctx, "c02@example.test", []string{rigOffice2}, []byte(raw)); err != nil {
				t.Fatalf("send to rig 2: %v", err)
			}
		}
	}

	// Both healthy.
	send1(5)
	send2(5)
	waitFor(t, 30*time.Second, "both mailboxes registered and acknowledged", func() bool {
		return ackedIn(p, "post", 5)() && ackedIn(p, "second", 5)()
	})
	readyz := func() (int, string) {
		resp, err := http.Get(admin.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, 10*time.Second, "ready", func() bool { c, _ := readyz(); return c == http.StatusOK })

	if err := rig2.StopDovecot(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "second shown as failed", func() bool {
		s, _ := statusOf(d, "second")
		return !s.Connected && s.LastError != ""
	})
	s2, _ := statusOf(d, "second")
	t.Logf("failed mailbox: %+v", s2)
	code, body := readyz()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"second"`) || strings.Contains(body, `"post"`) {
		t.Errorf("/readyz = %d %s, want 503 naming only second", code, body)
	}

	// Isolation by counts, not by a wall-clock ratio: the healthy mailbox
	// registers and acknowledges all five while the other one is still
	// failing, on the session it had before (no reconnect, no error).
	post0, _ := statusOf(d, "post")
	send1(5)
	waitFor(t, 30*time.Second, "post goes on while rig 2's Dovecot is down", ackedIn(p, "post", 10))
	post1, _ := statusOf(d, "post")
	if !post1.Connected || post1.Reconnects != post0.Reconnects || post1.LastError != post0.LastError {
		t.Errorf("post was disturbed by the other server's failure: before %+v, after %+v", post0, post1)
	}
	if post1.Registered != post0.Registered+5 || post1.AcksSent != post0.AcksSent+5 {
		t.Errorf("post registered %d and acknowledged %d during the outage, want 5 and 5",
			post1.Registered-post0.Registered, post1.AcksSent-post0.AcksSent)
	}
	if s, _ := statusOf(d, "second"); s.Connected {
		t.Errorf("second connected before its Dovecot is back: %+v", s)
	}

	if err := rig2.StartDovecot(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "second reconnects", func() bool { s, _ := statusOf(d, "second"); return s.Connected })
	send2(3)
	waitFor(t, 30*time.Second, "second registers and acknowledges again", ackedIn(p, "second", 8))
	waitFor(t, 10*time.Second, "ready again", func() bool { c, _ := readyz(); return c == http.StatusOK })
	checkGapless(t, p.cases(ticket.Filter{Mailbox: "post"}), 10)
	checkGapless(t, p.cases(ticket.Filter{Mailbox: "second"}), 8)
}
