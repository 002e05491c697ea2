package intake_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/intake/policy"
	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/ticket"
)

// Issue 8, finding 1: the phishing relay. The attacker sends with the victim's address as
// the envelope sender and puts the phishing text into Subject, From display name and
// attachment names; an unverified sender must get an acknowledgement without any of it.
const (
	phishVictim  = "other@example.test" // a user of the test mail system, so the ack is delivered
	phishSubject = "Ihre Steuererstattung 1.250 EUR ist freigegeben - jetzt bestätigen: https://stk-erstattung.evil.example/login"
)

// phishingMail is the reproduction of finding 1: 50 attachments with 120-character names
// that carry the phishing URL, From "Finanzamt <mallory@evil.test>". extraHeader is put
// first (an Authentication-Results field for the verified variants).
func phishingMail(t *testing.T, to, msgID, extraHeader string) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := mw.WriteField("text", "Sehr geehrte Damen und Herren, bitte bestätigen Sie die Erstattung."); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		name := fmt.Sprintf("Erstattung-%02d-jetzt-bestaetigen-stk-erstattung.evil.example-login", i)
		name += strings.Repeat("x", 120-len(name)-4) + ".pdf"
		w, err := mw.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("%PDF-1.4\n"))
	}
	mw.Close()
	// Turn the form-data parts into mail attachments.
	parts := strings.ReplaceAll(body.String(), "Content-Disposition: form-data; name=\"file\";", "Content-Disposition: attachment;")
	parts = strings.ReplaceAll(parts, "Content-Disposition: form-data; name=\"text\"", "Content-Type: text/plain; charset=utf-8")
	return extraHeader +
		"From: Finanzamt <mallory@evil.test>\r\nTo: Poststelle <" + to + ">\r\n" +
		"Subject: " + mime.QEncoding.Encode("utf-8", phishSubject) + "\r\n" +
		"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <" + msgID + ">\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=" + mw.Boundary() + "\r\n\r\n" + parts
}

// sentText is the decoded Subject, the From and To headers and the decoded body of an
// acknowledgement: everything a reader of it sees.
func sentText(t *testing.T, raw []byte) (subject, visible string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	from, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("From"))
	to, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("To"))
	body := decodeBody(t, m)
	return subject, subject + "\n" + from + "\n" + to + "\n" + body
}

// phishingMarks are pieces of the sender's text that must not reach an unverified sender.
var phishingMarks = []string{"Steuererstattung", "1.250", "stk-erstattung", "evil", "Finanzamt", "mallory", "Erstattung-", "xxxx", ".pdf"}

func TestPhishingRelayUnverifiedSenderGetsNoEcho(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	p.start()
	p.deliver(phishVictim, phishingMail(t, office, "phish-1@example.test", ""))
	waitFor(t, 10*time.Second, "the acknowledgement", sentAll(p, 1))

	acks := p.acks()
	if len(acks) != 1 || len(acks[0].To) != 1 || acks[0].To[0] != phishVictim {
		t.Fatalf("acks = %d (%v), want one to the envelope sender %s", len(acks), acks, phishVictim)
	}
	c := p.cases(ticket.Filter{})[0]
	ref := c.Reference.String()
	subject, visible := sentText(t, acks[0].Data)
	for _, mark := range phishingMarks {
		if strings.Contains(visible, mark) {
			t.Errorf("the acknowledgement to an unverified sender repeats %q:\n%s", mark, visible)
		}
	}
	if want := "Auto: Eingangsbestätigung – Vorgangsnummer [" + ref + "]"; subject != want {
		t.Errorf("subject = %q, want %q", subject, want)
	}
	received := "Ihre Nachricht vom " + c.Messages[0].Received.In(p.cfg.Location).Format("02.01.2006 um 15:04 Uhr")
	for _, want := range []string{ref, received, "ist bei uns eingegangen", "Testamt"} {
		if !strings.Contains(visible, want) {
			t.Errorf("the minimal acknowledgement lacks %q:\n%s", want, visible)
		}
	}
	a := c.Messages[0].Ack
	if a.Echo != ticket.EchoMinimal || a.EchoReason != "sender not verified" {
		t.Errorf("ack record echo = %q (%q), want %q (%q)", a.Echo, a.EchoReason, ticket.EchoMinimal, "sender not verified")
	}
}

// decodeBody returns the text of a single-part acknowledgement, transfer encoding undone.
func decodeBody(t *testing.T, m *mail.Message) string {
	t.Helper()
	var r io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(m.Body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, m.Body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The other side of finding 1: a sender verified by the office's own MTA gets today's full
// acknowledgement; [mailbox.ack] echo overrides it both ways, and the case records which
// kind was sent and why.
func TestAckEchoKinds(t *testing.T) {
	const mta = "mx.office.test"
	verifiedAR := "Authentication-Results: " + mta + "; spf=pass smtp.mailfrom=" + phishVictim + "\r\n"
	for _, tc := range []struct {
		name     string
		echo     string // "" = default
		header   string
		kind     string
		reason   string
		echoesIt bool
	}{
		{"default, verified by the office MTA", "", verifiedAR, ticket.EchoFull, "sender verified by spf", true},
		{"default, a foreign pass is no verification", "", "Authentication-Results: mx.evil.test; spf=pass smtp.mailfrom=" + phishVictim + "\r\n",
			ticket.EchoMinimal, "sender not verified", false},
		{"never, verified", "never", verifiedAR, ticket.EchoMinimal, "echo = never", false},
		{"always, unverified (the documented risk)", "always", "", ticket.EchoFull, "echo = always", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipe(t, memmail.Options{}, "", "")
			mb := &p.cfg.Mailboxes[0]
			mb.Policy.AuthservID, mb.Policy.Verification = mta, config.VerifyAuthservID
			if tc.echo != "" {
				mb.Ack.Echo = tc.echo
			}
			p.start()
			p.deliver(phishVictim, phishingMail(t, office, "echo-1@example.test", tc.header))
			waitFor(t, 10*time.Second, "the acknowledgement", sentAll(p, 1))

			a := p.cases(ticket.Filter{})[0].Messages[0].Ack
			if a.Echo != tc.kind || a.EchoReason != tc.reason {
				t.Errorf("ack record echo = %q (%q), want %q (%q)", a.Echo, a.EchoReason, tc.kind, tc.reason)
			}
			subject, visible := sentText(t, p.acks()[0].Data)
			if got := strings.Contains(visible, "Steuererstattung"); got != tc.echoesIt {
				t.Errorf("acknowledgement repeats the subject: %v, want %v\n%s", got, tc.echoesIt, visible)
			}
			if got := strings.Contains(visible, "Erstattung-00-"); got != tc.echoesIt {
				t.Errorf("acknowledgement lists the attachments: %v, want %v", got, tc.echoesIt)
			}
			if tc.echoesIt != strings.Contains(subject, "Steuererstattung") {
				t.Errorf("subject %q", subject)
			}
		})
	}
}

// config cannot import policy, so the verification names are declared twice; they must
// agree, or a configured mode would silently verify nobody.
func TestVerificationNamesAgree(t *testing.T) {
	for _, pair := range [][2]string{
		{config.VerifyNone, policy.VerifyNone},
		{config.VerifyAuthservID, policy.VerifyAuthservID},
		{config.VerifyExchangeOnline, policy.VerifyExchangeOnline},
		{config.VerifyGoogleWorkspace, policy.VerifyGoogleWorkspace},
	} {
		if pair[0] != pair[1] {
			t.Errorf("config %q != policy %q", pair[0], pair[1])
		}
	}
	for _, mode := range []string{config.VerifyAuthservID, config.VerifyExchangeOnline, config.VerifyGoogleWorkspace} {
		mb := config.Mailbox{Name: "post", Address: "post@office.test", Policy: config.Policy{Verification: mode}}
		if mode == config.VerifyAuthservID {
			mb.Policy.AuthservID = "mx.office.test"
		}
		cfg := &config.Config{Mailboxes: []config.Mailbox{mb}}
		cfg.ApplyDefaults()
		if s := intake.PolicySettings(cfg, cfg.Mailboxes[0], "x"); s.Verification != mode || !s.RequireAuthenticated {
			t.Errorf("%s: policy settings %+v", mode, s)
		}
	}
}
