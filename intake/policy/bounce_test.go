package policy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/intake-office/intake/intake/mailparse"
)

const (
	ackDomain = "intake.stk.example.de"
	ackID     = "STK-2026-000042-6.17.ack@intake.stk.example.de"
)

// parseRaw parses a whole mail given as lines.
func parseRaw(t *testing.T, lines ...string) *mailparse.Message {
	t.Helper()
	m, err := mailparse.Parse(strings.NewReader(strings.Join(lines, "\r\n")+"\r\n"), mailparse.Limits{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m
}

// dsnMail is a Postfix-style DSN whose delivery-status part has the given recipient groups
// and whose text/rfc822-headers part returns the given Message-ID.
func dsnMail(t *testing.T, returnedID string, groups ...string) *mailparse.Message {
	t.Helper()
	lines := []string{
		"Return-Path: <>",
		"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)",
		"Subject: Undelivered Mail Returned to Sender",
		"Content-Type: multipart/report; report-type=delivery-status; boundary=R",
		"",
		"--R",
		"Content-Type: text/plain",
		"",
		"I'm sorry to have to inform you that your message could not be delivered.",
		"--R",
		"Content-Type: message/delivery-status",
		"",
		"Reporting-MTA: dns; mx.example.net",
	}
	for _, g := range groups {
		lines = append(lines, "")
		lines = append(lines, strings.Split(g, "\n")...)
	}
	lines = append(lines, "--R", "Content-Type: text/rfc822-headers", "", "Message-ID: <"+returnedID+">", "--R--")
	return parseRaw(t, lines...)
}

// textBounce is a bounce without DSN part with the given subject and text lines.
func textBounce(t *testing.T, from, subject string, text ...string) *mailparse.Message {
	t.Helper()
	return parseRaw(t, append([]string{"Return-Path: <>", "From: " + from, "Subject: " + subject, ""}, text...)...)
}

func TestOurAck(t *testing.T) {
	own := []string{"intake.stadt-musterhausen.example", " INTAKE.STK.example.de "}
	for _, tc := range []struct {
		name string
		m    *mailparse.Message
		own  []string
		want string
	}{
		{"returned headers of a DSN", dsnMail(t, ackID, "Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1"), own, ackID},
		{"domain compared case-insensitively", dsnMail(t, "STK-2026-000042-6.17.ack@Intake.STK.Example.DE"), own, "STK-2026-000042-6.17.ack@Intake.STK.Example.DE"},
		{"returned ID of someone else", dsnMail(t, "abc@example.org"), own, ""},
		{"In-Reply-To", parse(t, personal("In-Reply-To: <"+ackID+">")...), own, ackID},
		{"References, newest first", parse(t, personal("References: <a@example.org> <STK-2026-000001-2.1.ack@intake.stk.example.de> <b@example.org> <"+ackID+">")...), own, ackID},
		{"returned IDs before In-Reply-To", parseRaw(t, "Return-Path: <>", "In-Reply-To: <STK-2026-000099-1.99.ack@intake.stk.example.de>",
			"Content-Type: multipart/report; report-type=delivery-status; boundary=R", "", "--R", "Content-Type: message/rfc822", "",
			"Message-ID: <"+ackID+">", "--R--"), own, ackID},
		{"a subdomain of ours is not ours", parse(t, personal("In-Reply-To: <x.ack@sub.intake.stk.example.de>")...), own, ""},
		{"our office domain is not our ack domain", parse(t, personal("In-Reply-To: <x@stk.example.de>")...), own, ""},
		{"the mail's own Message-ID does not count", parse(t, append(without(personal(), "Message-ID"), "Message-ID: <"+ackID+">")...), own, ""},
		{"no own domains", parse(t, personal("In-Reply-To: <"+ackID+">")...), nil, ""},
		{"nil message", nil, own, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := OurAck(tc.m, tc.own)
			if id != tc.want || ok != (tc.want != "") {
				t.Errorf("OurAck = %q, %v; want %q", id, ok, tc.want)
			}
		})
	}
}

func TestThreadIDs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"none", personal(), nil},
		{"In-Reply-To then References newest first, de-duplicated", personal(
			"In-Reply-To: <parent@Example.ORG>",
			"References: <root@example.org> <middle@example.org> <parent@example.org>"),
			[]string{"parent@Example.ORG", "middle@example.org", "root@example.org"}},
		{"local part is case-sensitive", personal("In-Reply-To: <A@example.org>", "References: <a@example.org>"),
			[]string{"A@example.org", "a@example.org"}},
		{"References only", personal("References: <1@x> <2@x> <3@x>"), []string{"3@x", "2@x", "1@x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ThreadIDs(parse(t, tc.lines...)); !slices.Equal(got, tc.want) {
				t.Errorf("ThreadIDs = %q, want %q", got, tc.want)
			}
		})
	}
	if ThreadIDs(nil) != nil {
		t.Error("ThreadIDs(nil) not nil")
	}
}

func TestBounceStatus(t *testing.T) {
	for _, tc := range []struct {
		name           string
		m              *mailparse.Message
		status, detail string
	}{
		{"DSN: first failed recipient", dsnMail(t, ackID,
			"Final-Recipient: rfc822; ok@example.org\nAction: delivered\nStatus: 2.0.0",
			"Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <a@example.org>: User unknown",
			"Final-Recipient: rfc822; b@example.org\nAction: failed\nStatus: 5.2.2"),
			"5.1.1", "550 5.1.1 <a@example.org>: User unknown"},
		{"DSN: failed after retries keeps its 4.x.x status", dsnMail(t, ackID,
			"Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 4.4.7\nDiagnostic-Code: X-Postfix; delivery temporarily suspended"),
			"4.4.7", "delivery temporarily suspended"},
		{"DSN: no Status, code from the diagnostic", dsnMail(t, ackID,
			"Final-Recipient: rfc822; a@example.org\nAction: failed\nDiagnostic-Code: smtp; 552 5.2.2 mailbox full"),
			"5.2.2", "552 5.2.2 mailbox full"},
		{"DSN: failed without any code", dsnMail(t, ackID, "Final-Recipient: rfc822; a@example.org\nAction: failed"), "5.0.0", ""},
		{"DSN: failed with a contradictory 2.x.x status", dsnMail(t, ackID, "Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 2.0.0"), "5.0.0", ""},
		{"DSN: no Action, 5.x.x status", dsnMail(t, ackID, "Final-Recipient: rfc822; a@example.org\nStatus: 5.7.1"), "5.7.1", ""},
		{"DSN: only delayed", dsnMail(t, ackID, "Final-Recipient: rfc822; a@example.org\nAction: delayed\nStatus: 4.4.1\nDiagnostic-Code: smtp; 451 4.4.1 try later"), "", ""},
		{"DSN: only delivered", dsnMail(t, ackID, "Final-Recipient: rfc822; a@example.org\nAction: delivered\nStatus: 2.0.0"), "", ""},
		{"qmail text", textBounce(t, "MAILER-DAEMON@mx.example.net", "failure notice",
			"Hi. This is the qmail-send program at mx.example.net.", "", "<a@example.org>:", "Sorry, no mailbox here by that name. (#5.1.1)",
			"", "--- Below this line is a copy of the message.", "", "Message-ID: <"+ackID+">", "", "Version 5.2.1 and 4.4.4"),
			"5.1.1", "Sorry, no mailbox here by that name. (#5.1.1)"},
		{"Postfix text, class 5 preferred over an earlier class 4", textBounce(t, "Mail Delivery System <MAILER-DAEMON@mx.example.net>", "Undelivered Mail Returned to Sender",
			"<a@example.org>: host mx.example.org[192.0.2.5] said: 452 4.2.2 over quota", "<b@example.org>: host mx.example.org[192.0.2.5] said: 550 5.1.1",
			"    <b@example.org>: Recipient address rejected"),
			"5.1.1", "<b@example.org>: host mx.example.org[192.0.2.5] said: 550 5.1.1"},
		{"only a class 4 code", textBounce(t, "MAILER-DAEMON@mx.example.net", "Returned mail: see transcript for details",
			"<a@example.org>... Deferred: 421 4.4.2 connection timed out", "Message could not be delivered for 5 days"),
			"4.4.2", "<a@example.org>... Deferred: 421 4.4.2 connection timed out"},
		{"bare SMTP reply code", textBounce(t, "MAILER-DAEMON@mx.example.net", "Returned mail: User unknown",
			"   ----- Transcript of session follows -----", "... while talking to mx.example.org.:", ">>> RCPT To:<a@example.org>",
			"<<< 550 <a@example.org>... User unknown"),
			"5.0.0", "<<< 550 <a@example.org>... User unknown"},
		{"numbers in prose are no reply codes", textBounce(t, "MAILER-DAEMON@mx.example.net", "Returned mail",
			"The fee of 550 EUR is due.", "Ref 4511 x", "See 550x"),
			"", ""},
		{"bare SMTP reply code at the line start", textBounce(t, "MAILER-DAEMON@mx.example.net", "Returned mail: User unknown",
			"----- Transcript of session follows -----", "550 <a@example.org>... User unknown"),
			"5.0.0", "550 <a@example.org>... User unknown"},
		{"bare code after a colon", textBounce(t, "MAILER-DAEMON@mx.example.net", "Mail delivery failed",
			"SMTP error from remote mail server after RCPT TO:<a@example.org>:", "    host mx.example.org [192.0.2.5]: 550 Unknown user"),
			"5.0.0", "host mx.example.org [192.0.2.5]: 550 Unknown user"},
		{"codes in the returned message do not count", textBounce(t, "MAILER-DAEMON@mx.example.net", "failure notice",
			"Your message could not be delivered.", "Received: from x by y", "Subject: Version 5.1.1"), "", ""},
		{"dotted numbers are no codes", textBounce(t, "MAILER-DAEMON@mx.example.net", "failure notice",
			"Connection to 192.5.1.1 failed, version 4.5.1.2, date 15.1.2026, 5.1.1.1"), "", ""},
		{"Exchange NDR header only", parseRaw(t, "Return-Path: <>", "From: Microsoft Outlook <MicrosoftExchange329e71ec@example.org>",
			"X-MS-Exchange-Message-Is-Ndr:", "Subject: Ihre Nachricht", "", "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'"),
			"5.1.10", "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'"},
		{"delay warning is no failure", textBounce(t, "MAILER-DAEMON@mx.example.net", "Warning: could not send message for past 4 hours",
			"   **********************************************", "   **      THIS IS A WARNING MESSAGE ONLY      **", "Status: 4.4.7"), "", ""},
		// Not bounces.
		{"personal mail quoting a status", parse(t, personal("X-Note: Status 5.1.1")...), "", ""},
		{"forwarded bounce text in a personal mail", parseRaw(t, append(personal(), "", "> Status: 5.1.1", "> Diagnostic-Code: smtp; 550 5.1.1 User unknown")...), "", ""},
		{"auto-reply to our acknowledgement", parseRaw(t, "Return-Path: <>", "From: Anna <anna@example.org>", "Auto-Submitted: auto-replied",
			"In-Reply-To: <"+ackID+">", "Subject: Abwesend", "", "Ich bin bis 5.1.2026 nicht da. Fehlercode 550 5.1.1 gibt es nicht."), "", ""},
		{"read receipt", parseRaw(t, "Return-Path: <>", "From: postmaster@example.org",
			"Content-Type: multipart/report; report-type=disposition-notification; boundary=R", "", "--R", "", "Status 5.1.1", "--R--"), "", ""},
		{"nil", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, detail := BounceStatus(tc.m)
			if status != tc.status || detail != tc.detail {
				t.Errorf("BounceStatus = %q, %q; want %q, %q", status, detail, tc.status, tc.detail)
			}
		})
	}
	long := dsnMail(t, ackID, "Final-Recipient: rfc822; a@example.org\nAction: failed\nDiagnostic-Code: smtp; 550 "+strings.Repeat("ä", 400))
	if _, detail := BounceStatus(long); len(detail) > maxBounceDetail || !strings.HasPrefix(detail, "550 ää") {
		t.Errorf("detail of %d bytes: %.20q", len(detail), detail)
	}
}

// TestAckBounceFixtures reads the German samples of mail that comes back to an
// acknowledgement: two bounces and one vacation reply.
func TestAckBounceFixtures(t *testing.T) {
	own := []string{ackDomain, "stadt-musterhausen.example"}
	for _, tc := range []struct {
		file           string
		ack            string
		status, detail string
		subjects       []string
		reason         Reason
		automated      bool
	}{
		{"ack-bounce-postfix-dsn.eml", ackID, "5.1.1",
			"550 5.1.1 <a.beispiel@beispiel-mail.example>: Recipient address rejected: User unknown in virtual mailbox table",
			[]string{"Eingangsbestätigung STK-2026-000042-6"}, ReasonNullSender, true},
		{"ack-bounce-exchange-unzustellbar-text.eml", "STK-2026-000051-3.23.ack@intake.stk.example.de", "5.1.1",
			"Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'",
			[]string{"Eingangsbestätigung STK-2026-000051-3"}, ReasonNullSender, true},
		{"ndr-unzustellbar.eml", "STK-2026-000043-5.1.ack@stadt-musterhausen.example", "5.1.1",
			"550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
			[]string{"Eingangsbestätigung STK-2026-000043-5"}, ReasonNullSender, true},
		// A vacation reply refers to the acknowledgement but is no delivery failure.
		{"ack-abwesenheit-antwort.eml", "STK-2026-000044-1.19.ack@intake.stk.example.de", "", "", nil, ReasonNullSender, true},
		// A person forwarding a bounce of their own mail: neither ours nor a failure.
		// Decided by B4 here: the settings require authentication and the sample has no
		// Authentication-Results.
		{"persoenlich-weitergeleitete-unzustellbar.eml", "", "", "", nil, ReasonUnauthenticated, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := mailparse.Parse(f, mailparse.Limits{})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(m.Problems) > 0 {
				t.Errorf("parse problems: %q", m.Problems)
			}
			id, ok := OurAck(m, own)
			if id != tc.ack || ok != (tc.ack != "") {
				t.Errorf("OurAck = %q, %v; want %q", id, ok, tc.ack)
			}
			if status, detail := BounceStatus(m); status != tc.status || detail != tc.detail {
				t.Errorf("BounceStatus = %q, %q; want %q, %q", status, detail, tc.status, tc.detail)
			}
			if !slices.Equal(m.ReturnedSubjects, tc.subjects) {
				t.Errorf("ReturnedSubjects = %q, want %q", m.ReturnedSubjects, tc.subjects)
			}
			s := testSettings()
			s.OwnDomains = own
			s.AuthservID, s.RequireAuthenticated = "mx.stk.example.de", true
			d := Decide(m, s)
			if d.Reason != tc.reason || d.Automated != tc.automated {
				t.Errorf("Decide = %+v, want reason %q automated %v", d, tc.reason, tc.automated)
			}
		})
	}
}
