package intake_test

import (
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/clerkgate"
	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/ticket"
)

// clerkGate is a gate whose waits end only with the clerk's request (bounds of an hour).
func clerkGate() *clerkgate.Gate {
	return clerkgate.New(clerkgate.Options{MaxWait: time.Hour, Budget: 2 * time.Hour, Window: 3 * time.Hour})
}

// TestWatcherStepsAsideForClerks: a mail that arrives while a clerk's request is
// answered waits before it is parsed and registered, and is registered and
// acknowledged once the request ends; the time waited is counted in
// intake_clerks_first_seconds_total (issue 12, clerks first).
func TestWatcherStepsAsideForClerks(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	gate := clerkGate()
	p.opts.Clerks = gate
	d := p.start()
	admin := httptest.NewServer(d.AdminHandler())
	defer admin.Close()

	gate.Begin() // a clerk's request, in flight until End
	p.deliver(citizen, letter(citizen, "Antrag", "clerk-1@example.test", "", "Text."))
	waitFor(t, 30*time.Second, "the watcher waiting for the clerk", func() bool { return gate.Waiters() == 1 })
	if n := p.count(); n != 0 {
		t.Fatalf("%d mails registered while the watcher waits for the clerk", n)
	}
	gate.End()
	waitFor(t, 30*time.Second, "the mail registered", func() bool { return p.count() == 1 })
	waitFor(t, 30*time.Second, "its ack", func() bool { return len(p.acks()) == 1 })
	if v := metric(t, admin.URL, `intake_clerks_first_seconds_total{mailbox="post"}`); v <= 0 {
		t.Errorf("intake_clerks_first_seconds_total = %v after a wait", v)
	}
}

// TestResponderStepsAsideForClerks: an acknowledgement due while a clerk's request is
// answered waits for the request before it is sent.
func TestResponderStepsAsideForClerks(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	// First run: the SMTP server cannot be reached, so the ack stays due.
	port := p.cfg.Mailboxes[0].SMTP.Port
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port // nothing listens there once closed
	ln.Close()
	p.cfg.Mailboxes[0].SMTP.Port = closed
	p.start()
	p.deliver(citizen, letter(citizen, "Antrag", "clerk-2@example.test", "", "Text."))
	waitFor(t, 30*time.Second, "the mail registered", func() bool { return p.count() == 1 })
	waitFor(t, 30*time.Second, "a failed attempt", func() bool {
		c := p.cases(ticket.Filter{})
		return len(c) == 1 && c[0].Messages[0].Ack.Attempts > 0
	})
	p.stop()

	// Second run: the server is back, a clerk is being answered.
	p.cfg.Mailboxes[0].SMTP.Port = port
	gate := clerkGate()
	p.opts.Clerks = gate
	gate.Begin()
	p.start()
	waitFor(t, 30*time.Second, "the responder waiting for the clerk", func() bool { return gate.Waiters() == 1 })
	if n := len(p.acks()); n != 0 {
		t.Fatalf("%d acks sent while the responder waits for the clerk", n)
	}
	gate.End()
	waitFor(t, 30*time.Second, "the ack", func() bool { return len(p.acks()) == 1 })
	// The sink has the ack once DATA ends; the responder records it as sent after the
	// server's reply, so the record is waited for, not read at once.
	waitFor(t, 30*time.Second, "the ack recorded as sent", func() bool { return pendingAcks(p) == 0 })
	if n := len(p.acks()); n != 1 {
		t.Errorf("%d acks sent, want 1", n)
	}
}
