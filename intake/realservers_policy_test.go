package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/ticket"
)

// Issue 3 end to end: follow-ups, strangers with a reference, rate limits
// across restarts, the hourly cap and bounces of our acknowledgements, with
// real Dovecot and Postfix.

func rigSend(t *testing.T, rig *mailrig.Rig, from, raw string) {
	t.Helper()
	if err := rig.Send(context.Background(), from, []string{rigOffice}, []byte(raw)); err != nil {
		t.Fatalf("send: %v\n%s", err, rig.Logs())
	}
}

func caseOf(t *testing.T, p *pipe, msgID string) ticket.Case {
	t.Helper()
	for _, c := range p.cases(ticket.Filter{}) {
		for _, m := range c.Messages {
			if m.MessageID == msgID {
				return c
			}
		}
	}
	t.Fatalf("no case holds message %s", msgID)
	return ticket.Case{}
}

// rigVerified is the policy of a rig office whose MTA stamps "mx.test" results
// (issue 8): a test mail with spfPass(sender) stands for a verified sender.
const rigVerified = "per_sender_limit = 0\nper_domain_limit = 0\nhourly_cap = 100000000\n" +
	"authserv_id = \"mx.test\"\nrequire_authenticated = false"

func TestRealServersFollowUpsAndStrangers(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	p := newRigPipe(t, rig, rigVerified)
	p.start()
	ctx := context.Background()
	citizen, stranger, mallory := "c01@example.test", "c02@example.test", "c06@example.test"
	verified := spfPass(citizen)

	rigSend(t, rig, citizen, letterTo(rigOffice, citizen, "Antrag auf Akteneinsicht", "first@example.test", verified, "Bitte um Einsicht."))
	waitFor(t, 20*time.Second, "the first ack", sentAll(p, 1))
	if err := rig.WaitCount(ctx, citizen, "INBOX", 1); err != nil {
		t.Fatal(err)
	}
	ack := rigAcks(t, rig, citizen)[0]
	ackID := ack.Header.Get("Message-Id")
	ackSubject, _ := new(mime.WordDecoder).DecodeHeader(ack.Header.Get("Subject"))
	ref := caseOf(t, p, "first@example.test").Reference

	// 1. The citizen (verified) answers the acknowledgement (In-Reply-To our ack).
	rigSend(t, rig, citizen, letterTo(rigOffice, citizen, mime.QEncoding.Encode("utf-8", "AW: "+ackSubject), "reply@example.test",
		verified+"In-Reply-To: "+ackID+"\r\nReferences: <first@example.test> "+ackID+"\r\n", "Hier die Unterlagen."))
	// 2. The citizen (verified) writes again with only the reference in the subject.
	rigSend(t, rig, citizen, letterTo(rigOffice, citizen, "Nachtrag zu "+strings.ToLower(ref.String()), "again@example.test", verified, "Noch etwas."))
	// 3. A stranger names the same reference.
	rigSend(t, rig, stranger, letterTo(rigOffice, stranger, "WG: ["+ref.String()+"] Antrag", "stranger@example.test", "", "Was ist damit?"))
	// 4. Issue 8: mallory (envelope sender) poses as the citizen in From:, with the
	// reference in the subject, and replies to the real acknowledgement, and to a guessed
	// untagged ID of it.
	guessed := fmt.Sprintf("<%s.%d.ack@%s>", ref, caseOf(t, p, "first@example.test").Messages[0].Seq, strings.SplitN(strings.Trim(ackID, "<>"), "@", 2)[1])
	rigSend(t, rig, mallory, letterTo(rigOffice, "Bürger <"+citizen+">", "AW: ["+ref.String()+"] Antrag", "mallory1@example.test",
		"In-Reply-To: "+ackID+"\r\n", "Bitte überweisen Sie ..."))
	rigSend(t, rig, mallory, letterTo(rigOffice, mallory, "AW: Antrag", "mallory2@example.test",
		spfPass(mallory)+"In-Reply-To: "+guessed+"\r\n", "Bitte überweisen Sie ..."))
	waitFor(t, 20*time.Second, "six registrations", func() bool { return p.count() == 6 })
	for _, id := range []string{"mallory1@example.test", "mallory2@example.test"} {
		if mc := caseOf(t, p, id); mc.Reference == ref {
			t.Errorf("mallory's mail %s was filed into the citizen's case %s", id, ref)
		}
	}
	if mc := caseOf(t, p, "mallory1@example.test"); len(mc.Links) != 1 || mc.Links[0] != ref {
		t.Errorf("mallory's case %s links %v, want [%s]", mc.Reference, mc.Links, ref)
	}

	c, err := p.store.Lookup(ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Messages) != 3 {
		t.Fatalf("case %s holds %d messages, want 3 (first, reply, subject follow-up)", ref, len(c.Messages))
	}
	// A follow-up within 24 h of the case's acknowledgement gets none.
	for _, m := range c.Messages[1:] {
		if m.Ack.Status != ticket.AckSuppressed || m.Ack.Reason != "RATE_CASE" {
			t.Errorf("follow-up %s: ack %+v, want suppressed RATE_CASE (one per case per 24 h)", m.MessageID, m.Ack)
		}
	}
	sc := caseOf(t, p, "stranger@example.test")
	if sc.Reference == ref {
		t.Fatalf("the stranger's mail was put into %s", ref)
	}
	if len(sc.Links) != 1 || sc.Links[0] != ref {
		t.Errorf("stranger's case links %v, want [%s]", sc.Links, ref)
	}
	// Postfix may deliver the stranger's and mallory's mails in either order.
	mc := caseOf(t, p, "mallory1@example.test").Reference
	if len(c.Links) != 2 || !slices.Contains(c.Links, sc.Reference) || !slices.Contains(c.Links, mc) {
		t.Errorf("case %s links %v, want %s and %s", ref, c.Links, sc.Reference, mc)
	}
	waitFor(t, 20*time.Second, "the stranger's ack", sentAll(p, 2))
}

func TestRealServersRateLimitSurvivesRestart(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	p := newRigPipe(t, rig, "per_sender_limit = 2\nhourly_cap = 1000")
	p.start()
	sender := "c03@example.test"
	for i := range 2 {
		rigSend(t, rig, sender, letterTo(rigOffice, sender, fmt.Sprintf("Anliegen %d", i), fmt.Sprintf("rate-%d@example.test", i), "", "x"))
	}
	waitFor(t, 20*time.Second, "two acks", sentAll(p, 2))
	p.stop()
	p.start()
	rigSend(t, rig, sender, letterTo(rigOffice, sender, "Anliegen 3", "rate-2@example.test", "", "x"))
	waitFor(t, 20*time.Second, "the third registration", func() bool { return p.count() == 3 })
	a := caseOf(t, p, "rate-2@example.test").Messages[0].Ack
	if a.Status != ticket.AckSuppressed || a.Reason != "RATE" {
		t.Errorf("third mail within 24 h: ack %+v, want suppressed RATE", a)
	}
	// Another sender is not affected.
	rigSend(t, rig, "c04@example.test", letterTo(rigOffice, "c04@example.test", "Anliegen", "rate-other@example.test", "", "x"))
	waitFor(t, 20*time.Second, "the other sender's ack", sentAll(p, 3))
}

func TestRealServersHourlyCap(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	// Verified senders: the daemon-wide cap itself (unverified ones have their own
	// budget, hourly_cap/5 = 0 here).
	p := newRigPipe(t, rig, "hourly_cap = 3\nper_sender_limit = 0\nauthserv_id = \"mx.test\"\nrequire_authenticated = false")
	p.start()
	for i := range 5 {
		from := fmt.Sprintf("c%02d@example.test", i)
		rigSend(t, rig, from, letterTo(rigOffice, from, "Anliegen", fmt.Sprintf("cap-%d@example.test", i), spfPass(from), "x"))
	}
	waitFor(t, 20*time.Second, "five registrations and three acks", func() bool { return p.count() == 5 && sentAll(p, 3)() })
	time.Sleep(500 * time.Millisecond)
	if sentAll(p, 4)() {
		t.Fatal("more than hourly_cap = 3 acks went out")
	}
	api, err := intake.DialLocal(intake.SocketPath(p.cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	st, err := api.CapState()
	if err != nil {
		t.Fatal(err)
	}
	if !st.Tripped || st.SentLastHour != 3 {
		t.Errorf("cap state %+v, want tripped with 3 sent", st)
	}
	pending := 0
	for _, c := range p.cases(ticket.Filter{}) {
		if c.Messages[0].Ack.Status == ticket.AckPending {
			pending++
		}
	}
	if pending != 2 {
		t.Errorf("%d acks held in the outbox, want 2", pending)
	}
	// An admin lifts the cap: the held acknowledgements go out.
	if err := api.ResumeAcks(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the held acks", sentAll(p, 5))
	if st, _ := api.CapState(); st.Tripped {
		t.Errorf("cap still tripped after resume: %+v", st)
	}
}

func TestRealServersBounceOfAckIsAttached(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	p := newRigPipe(t, rig, "")
	p.start()
	ctx := context.Background()
	citizen := "c05@example.test"
	rigSend(t, rig, citizen, letterTo(rigOffice, citizen, "Antrag", "tobounce@example.test", "", "x"))
	waitFor(t, 20*time.Second, "the ack", sentAll(p, 1))
	if err := rig.WaitCount(ctx, citizen, "INBOX", 1); err != nil {
		t.Fatal(err)
	}
	msgs, err := rig.Fetch(ctx, citizen, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	ackRaw := msgs[0].Raw
	ack, _ := mail.ReadMessage(bytes.NewReader(ackRaw))
	hdrEnd := bytes.Index(ackRaw, []byte("\r\n\r\n"))
	ref := caseOf(t, p, "tobounce@example.test").Reference

	// Issue 8: a forged bounce that names the untagged ID an attacker can guess
	// from the reference neither marks the ack nor joins the case.
	ackID := strings.Trim(ack.Header.Get("Message-Id"), "<>")
	guessed := fmt.Sprintf("%s.%d.ack@%s", ref, caseOf(t, p, "tobounce@example.test").Messages[0].Seq, strings.SplitN(ackID, "@", 2)[1])
	forged := "From: Mail Delivery System <MAILER-DAEMON@mx.evil.test>\r\nTo: " + rigOffice +
		"\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-0@mx.evil.test>\r\nAuto-Submitted: auto-replied\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.evil.test\r\n\r\n" +
		"Final-Recipient: rfc822; " + citizen + "\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" +
		"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <" + guessed + ">\r\nSubject: Ihre Nachricht\r\n\r\n--B--\r\n"
	rigSend(t, rig, "", forged)
	waitFor(t, 20*time.Second, "the forged bounce registered", func() bool { return p.count() == 2 })
	if fc := caseOf(t, p, "dsn-0@mx.evil.test"); fc.Reference == ref {
		t.Errorf("the forged bounce was attached to %s", ref)
	}
	if a := caseOf(t, p, "tobounce@example.test").Messages[0].Ack; a.Status != ticket.AckSent {
		t.Errorf("ack after the forged bounce: %+v, want still sent", a)
	}

	// The citizen's provider bounces it later (a DSN from a remote MTA,
	// RFC 3464), sent with the null sender to our envelope sender.
	dsn := "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\nTo: " + rigOffice +
		"\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.example.test>\r\nAuto-Submitted: auto-replied\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\n" +
		"Final-Recipient: rfc822; " + citizen + "\r\nAction: failed\r\nStatus: 5.2.2\r\nDiagnostic-Code: smtp; 552 5.2.2 mailbox full\r\n\r\n" +
		"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n" + string(ackRaw[:hdrEnd]) + "\r\n\r\n--B--\r\n"
	rigSend(t, rig, "", dsn)
	waitFor(t, 20*time.Second, "the bounce registered and the ack marked", func() bool {
		c, err := p.store.Lookup(ref)
		return err == nil && len(c.Messages) == 2 && c.Messages[0].Ack.Status == ticket.AckBounced
	})

	c, err := p.store.Lookup(ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Messages) != 2 {
		t.Fatalf("case %s holds %d messages, want the bounce attached (ack %s)", ref, len(c.Messages), ack.Header.Get("Message-Id"))
	}
	first := c.Messages[0].Ack
	if first.Status != ticket.AckBounced || first.Bounce != "5.2.2" {
		t.Errorf("ack after the bounce: %+v, want bounced 5.2.2", first)
	}
	if b := c.Messages[1].Ack; b.Status != ticket.AckSuppressed {
		t.Errorf("the bounce itself: ack %+v, want suppressed", b)
	}
	if c.Kind != ticket.KindCitizen {
		t.Errorf("case kind %s, want citizen", c.Kind)
	}
}
