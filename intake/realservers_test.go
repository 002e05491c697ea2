package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/ticket"
)

// These tests run the daemon in-process against real Dovecot (IMAPS) and
// Postfix (submission with STARTTLS and AUTH, delivering into Dovecot over
// LMTP), started by package mailrig on 127.0.0.1.

const rigOffice = "office@example.test"

func rigUsers() map[string]string {
	u := map[string]string{rigOffice: "office-pass", "robot@example.test": "x", "list@example.test": "x", "bounce@example.test": "x"}
	for i := range 10 {
		u[fmt.Sprintf("c%02d@example.test", i)] = "citizen-pass"
	}
	return u
}

// newRigPipe configures the daemon for the rig's office mailbox. policy is
// the body of [mailbox.policy]; "" means no per-sender limit and no hourly
// cap, because the tests send many letters from few citizens.
func newRigPipe(t *testing.T, rig *mailrig.Rig, policy string) *pipe {
	t.Helper()
	if policy == "" {
		policy = "per_sender_limit = 0\nper_domain_limit = 0\nhourly_cap = 100000000"
	}
	return newPipeFromConfig(t, rig.IntakeConfig(t.TempDir(), rigOffice, policy))
}

// rigAcks returns the acknowledgements in a user's INBOX.
func rigAcks(t *testing.T, rig *mailrig.Rig, user string) []*mail.Message {
	t.Helper()
	msgs, err := rig.Fetch(context.Background(), user, "INBOX")
	if err != nil {
		t.Fatalf("fetch %s: %v\n%s", user, err, rig.Logs())
	}
	var out []*mail.Message
	for _, m := range msgs {
		pm, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		if err != nil {
			t.Fatal(err)
		}
		if pm.Header.Get("X-Intake-Loop") != "" {
			out = append(out, pm)
		}
	}
	return out
}

func TestRealServersEndToEnd200(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	// The letters with an attachment carry an SPF pass of the office MTA (as its milter
	// would stamp it), so their senders are verified and get the full acknowledgement
	// with the attachment names; the others get the minimal one (issue 8).
	p := newRigPipe(t, rig, "per_sender_limit = 0\nper_domain_limit = 0\nhourly_cap = 100000000\nauthserv_id = \"mx.example.test\"\nrequire_authenticated = false")
	p.start()
	ctx := context.Background()

	wantAcks := map[string]int{}
	citizenMails := 0
	send := func(from, raw string) {
		t.Helper()
		if err := rig.Send(ctx, from, []string{rigOffice}, []byte(raw)); err != nil {
			t.Fatalf("send: %v\n%s", err, rig.Logs())
		}
	}
	for i := range 197 {
		from := fmt.Sprintf("c%02d@example.test", i%10)
		var raw string
		switch i % 3 {
		case 0: // German umlauts in an encoded subject
			raw = letterTo(rigOffice, from, mime.QEncoding.Encode("utf-8", fmt.Sprintf("Antrag Nr. %d – Größe der Grünfläche", i)), fmt.Sprintf("e2e-%d@example.test", i), "", "Grüße")
		case 1: // windows-1252 body, 8-bit
			raw = "From: " + from + "\r\nTo: " + rigOffice + "\r\nSubject: Anfrage " + fmt.Sprint(i) + "\r\nMessage-ID: <e2e-" + fmt.Sprint(i) + "@example.test>\r\n" +
				"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSch\xf6ne Gr\xfc\xdfe \x80\r\n"
		default: // with an attachment, from a verified sender
			raw = "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=" + from + "\r\n" +
				"From: " + from + "\r\nTo: " + rigOffice + "\r\nSubject: Unterlagen " + fmt.Sprint(i) + "\r\nMessage-ID: <e2e-" + fmt.Sprint(i) + "@example.test>\r\n" +
				"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei.\r\n" +
				"--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''Bescheid%20M%C3%A4rz.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--B--\r\n"
		}
		send(from, raw)
		wantAcks[from]++
		citizenMails++
	}
	send("", "From: MAILER-DAEMON@example.test\r\nTo: "+rigOffice+"\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce@example.test>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"+
		"--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.example.test\r\n\r\nFinal-Recipient: rfc822; nobody@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n--R--\r\n")
	send("robot@example.test", letterTo(rigOffice, "robot@example.test", "Automatische Antwort: Anfrage", "auto@example.test", "Auto-Submitted: auto-replied\r\n", "Ich bin nicht im Büro."))
	send("list@example.test", letterTo(rigOffice, "list@example.test", "Newsletter", "list@example.test", "List-Id: <news.example.test>\r\nList-Unsubscribe: <mailto:x@example.test>\r\n", "news"))

	waitFor(t, 60*time.Second, "200 registrations and their acks", func() bool {
		return p.count() == 200 && sentAll(p, citizenMails)()
	})
	// Read the acknowledgements back from the citizens' real IMAP inboxes.
	for user, n := range wantAcks {
		if err := rig.WaitCount(ctx, user, "INBOX", n); err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		acks := rigAcks(t, rig, user)
		if len(acks) != n {
			t.Errorf("%s received %d acks, want %d", user, len(acks), n)
		}
		for _, a := range acks {
			subj, _ := new(mime.WordDecoder).DecodeHeader(a.Header.Get("Subject"))
			refs := ticket.FindReferences(subj, []string{"STK"})
			if len(refs) != 1 {
				t.Errorf("ack subject %q carries %d references", subj, len(refs))
				continue
			}
			c, err := p.store.Lookup(refs[0])
			if err != nil {
				t.Errorf("ack names %s, which is not registered: %v", refs[0], err)
				continue
			}
			if a.Header.Get("In-Reply-To") != "<"+c.Messages[0].MessageID+">" {
				t.Errorf("%s: In-Reply-To %q, want <%s>", refs[0], a.Header.Get("In-Reply-To"), c.Messages[0].MessageID)
			}
			if a.Header.Get("Auto-Submitted") != "auto-replied" {
				t.Errorf("%s: Auto-Submitted %q", refs[0], a.Header.Get("Auto-Submitted"))
			}
			body, _ := io.ReadAll(quotedprintable.NewReader(a.Body))
			if !strings.Contains(string(body), refs[0].String()) {
				t.Errorf("%s: body lacks the reference", refs[0])
			}
			if strings.HasPrefix(c.Subject, "Unterlagen") && !strings.Contains(string(body), "Bescheid März.pdf") {
				t.Errorf("%s: body does not list the attachment name", refs[0])
			}
			if !strings.HasPrefix(c.Subject, "Unterlagen") && (strings.Contains(string(body), c.Subject) || strings.Contains(subj, c.Subject)) {
				t.Errorf("%s: the acknowledgement to an unverified sender repeats the subject %q", refs[0], c.Subject)
			}
		}
	}
	for _, robot := range []string{"robot@example.test", "list@example.test", "bounce@example.test"} {
		if n := len(rigAcks(t, rig, robot)); n != 0 {
			t.Errorf("%s got %d acks, want none", robot, n)
		}
	}
	auto := p.cases(ticket.Filter{Kind: ticket.KindAutomated})
	if len(auto) != 3 {
		t.Errorf("%d automated cases, want 3", len(auto))
	}
	checkGapless(t, p.cases(ticket.Filter{}), 200)
}

func TestRealServersDovecotRestartAndSMTPDown(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	p := newRigPipe(t, rig, "")
	p.opts.Watchdog = 2 * time.Second
	d := p.start()
	ctx := context.Background()
	deliver := func(n int) {
		t.Helper()
		raw := letterTo(rigOffice, "c01@example.test", fmt.Sprintf("Brief %d", n), fmt.Sprintf("restart-%d@example.test", n), "", "x")
		if err := rig.Send(ctx, "c01@example.test", []string{rigOffice}, []byte(raw)); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	deliver(1)
	waitFor(t, 20*time.Second, "first ack", sentAll(p, 1))

	// Dovecot goes away while the daemon idles, and comes back.
	if err := rig.StopDovecot(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the daemon notices Dovecot is gone", func() bool {
		return len(d.Status()) == 1 && !d.Status()[0].Connected
	})
	if err := rig.StartDovecot(); err != nil {
		t.Fatal(err)
	}
	deliver(2)
	waitFor(t, 30*time.Second, "registration after the Dovecot restart", func() bool { return p.count() == 2 })
	waitFor(t, 20*time.Second, "second ack", sentAll(p, 2))

	// Postfix goes away: acks wait in the outbox, then all go out.
	if err := rig.StopPostfix(); err != nil {
		t.Fatal(err)
	}
	for i := 3; i <= 6; i++ {
		raw := "Return-Path: <c02@example.test>\r\n" + letterTo(rigOffice, "c02@example.test", fmt.Sprintf("Brief %d", i), fmt.Sprintf("restart-%d@example.test", i), "", "x")
		if _, err := rig.Append(ctx, rigOffice, "INBOX", []byte(raw), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "registrations while Postfix is down", func() bool { return p.count() == 6 })
	// Each of the four acks has met the closed port once before it counts.
	waitFor(t, 20*time.Second, "a failed attempt for each of the four acks", func() bool {
		tried := 0
		for _, c := range p.cases(ticket.Filter{}) {
			if a := c.Messages[0].Ack; a.Status == ticket.AckPending && a.Attempts >= 1 {
				tried++
			}
		}
		return tried == 4
	})
	pending := 0
	for _, c := range p.cases(ticket.Filter{}) {
		if c.Messages[0].Ack.Status == ticket.AckPending {
			pending++
		}
	}
	if pending != 4 {
		t.Errorf("%d acks pending while Postfix is down, want 4", pending)
	}
	if err := rig.StartPostfix(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "all acks after Postfix is back", sentAll(p, 6))
	if err := rig.WaitCount(ctx, "c02@example.test", "INBOX", 4); err != nil {
		t.Fatal(err)
	}
}

func TestRealServersRestartMidBacklog(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	p := newRigPipe(t, rig, "")
	ctx := context.Background()
	const n = 300
	for i := range n {
		from := fmt.Sprintf("c%02d@example.test", i%10)
		raw := "Return-Path: <" + from + ">\r\n" + letterTo(rigOffice, from, fmt.Sprintf("Brief %d", i), fmt.Sprintf("bl-%d@example.test", i), "", "x")
		if _, err := rig.Append(ctx, rigOffice, "INBOX", []byte(raw), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	p.start()
	waitFor(t, 30*time.Second, "some registered", func() bool { return p.count() >= 50 })
	p.stop()
	p.start()
	waitFor(t, 60*time.Second, "all registered and acknowledged", func() bool { return p.count() == n && sentAll(p, n)() })
	checkGapless(t, p.cases(ticket.Filter{}), n)
	total := 0
	for i := range 10 {
		user := fmt.Sprintf("c%02d@example.test", i)
		if err := rig.WaitCount(ctx, user, "INBOX", n/10); err != nil {
			t.Fatal(err)
		}
		total += len(rigAcks(t, rig, user))
	}
	if total != n {
		t.Errorf("%d acks in the citizens' inboxes, want %d", total, n)
	}
}

func letterTo(to, from, subject, msgID, extra, body string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <" + msgID + ">\r\n" + extra +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n"
}
