package policy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/intake-office/intake/intake/mailparse"
)

const office = "poststelle@stadt-musterhausen.example"

func testSettings() Settings {
	return Settings{
		OfficeAddresses:   []string{office, "buergerbuero@stadt-musterhausen.example"},
		EnvelopeFrom:      office,
		OwnDomains:        []string{"stadt-musterhausen.example"},
		LoopHeader:        "X-Intake-Loop",
		LoopID:            "inst-1",
		SubjectHeuristics: true,
	}
}

// parse builds a mail from header lines and a short body.
func parse(t *testing.T, header ...string) *mailparse.Message {
	t.Helper()
	raw := strings.Join(header, "\r\n") + "\r\n\r\nGuten Tag.\r\n"
	m, err := mailparse.Parse(strings.NewReader(raw), mailparse.Limits{})
	if err != nil {
		t.Fatalf("parse test mail: %v", err)
	}
	return m
}

// personal is a plain citizen's mail; extra lines are added to its header.
func personal(extra ...string) []string {
	return append([]string{
		"Return-Path: <anna.beispiel@example.org>",
		"From: Anna Beispiel <anna.beispiel@example.org>",
		"To: Poststelle <" + office + ">",
		"Subject: Frage zum Bauantrag",
		"Message-ID: <123@example.org>",
	}, extra...)
}

// without returns lines minus the fields with one of the given names (case-insensitive).
func without(lines []string, names ...string) []string {
	var out []string
next:
	for _, l := range lines {
		for _, n := range names {
			if strings.HasPrefix(strings.ToLower(l), strings.ToLower(n)+":") {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

type ruleCase struct {
	name      string
	lines     []string
	settings  func(*Settings)
	reason    Reason // "" = ack
	rule      string
	automated bool
	recipient string // checked when set
}

func runCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			if tc.settings != nil {
				tc.settings(&s)
			}
			d := Decide(parse(t, tc.lines...), s)
			if d.Reason != tc.reason || d.Ack != (tc.reason == "") {
				t.Fatalf("Decide = %+v, want reason %q", d, tc.reason)
			}
			if tc.rule != "" && d.Rule != tc.rule {
				t.Errorf("Rule = %q, want %q", d.Rule, tc.rule)
			}
			if d.Automated != tc.automated {
				t.Errorf("Automated = %v, want %v (%+v)", d.Automated, tc.automated, d)
			}
			if tc.recipient != "" && d.Recipient != tc.recipient {
				t.Errorf("Recipient = %q, want %q", d.Recipient, tc.recipient)
			}
			if d.Ack && (d.Rule != "" || d.Detail != "") {
				t.Errorf("ack with Rule %q Detail %q", d.Rule, d.Detail)
			}
			if !d.Ack && d.Detail == "" {
				t.Errorf("no-ack without Detail: %+v", d)
			}
		})
	}
}

func TestPersonalMailIsAcknowledged(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "plain", lines: personal(), recipient: "anna.beispiel@example.org"},
		{name: "recipient domain lower-cased, local part kept",
			lines: append(without(personal(), "Return-Path"), "Return-Path: <Anna.Beispiel@EXAMPLE.org>"), recipient: "Anna.Beispiel@example.org"},
		{name: "Reply-To is never the recipient",
			lines: personal("Reply-To: other@example.net"), recipient: "anna.beispiel@example.org"},
		{name: "Return-Path wins over From",
			lines: append(without(personal(), "Return-Path"), "Return-Path: <envelope@example.net>"), recipient: "envelope@example.net"},
		{name: "no Return-Path field: From",
			lines: without(personal(), "Return-Path"), recipient: "anna.beispiel@example.org"},
		{name: "same Return-Path twice (case differs)",
			lines: personal("Return-Path: <ANNA.BEISPIEL@example.org>"), recipient: "anna.beispiel@example.org"},
		{name: "Auto-Submitted: no", lines: personal("Auto-Submitted: No (personal)")},
		{name: "empty Auto-Submitted", lines: personal("Auto-Submitted:")},
		{name: "X-Auto-Response-Suppress: DR", lines: personal("X-Auto-Response-Suppress: DR")},
		{name: "X-Auto-Response-Suppress: DR, RN, NRN, NDR", lines: personal("X-Auto-Response-Suppress: DR, RN, NRN, NDR")},
		{name: "X-Auto-Response-Suppress: None", lines: personal("X-Auto-Response-Suppress: None")},
		{name: "Precedence: first-class", lines: personal("Precedence: first-class")},
		{name: "X-Loop with an address (procmail)", lines: personal("X-Loop: anna@example.org")},
		{name: "X-FC-MachineGenerated: false", lines: personal("X-FC-MachineGenerated: false")},
		{name: "X-Spam-Status: No", lines: personal("X-Spam-Status: No, score=-1.0 required=5.0", "X-Spam-Flag: NO")},
		{name: "reply to our acknowledgement (In-Reply-To in our domain)",
			lines: personal("In-Reply-To: <STK-2026-000042-7.1.ack@stadt-musterhausen.example>", "Subject: AW: Eingangsbestätigung STK-2026-000042-7")},
		{name: "subject that only mentions an absence", lines: append(without(personal(), "Subject"), "Subject: Re: Automatische Antwort wegen Urlaub?")},
		{name: "forwarded report as message/rfc822 attachment", lines: append(without(personal(), "Subject"),
			"Subject: Weiterleitung", "Content-Type: multipart/mixed; boundary=m", "", "--m", "Content-Type: message/rfc822", "",
			"Return-Path: <>", "Auto-Submitted: auto-replied", "Content-Type: multipart/report; report-type=delivery-status; boundary=r", "",
			"--r", "Content-Type: message/delivery-status", "", "Action: failed", "--r--", "--m--")},
		{name: "local parts that only look like system ones", lines: append(without(personal(), "Return-Path", "From"),
			"Return-Path: <requests@example.org>", "From: owner@example.org", "Sender: bouncer@example.org")},
	})
}

func TestS1NullSender(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "Return-Path <>", lines: append(without(personal(), "Return-Path"), "Return-Path: <>"),
			reason: ReasonNullSender, rule: "S1", automated: true},
		{name: "no Return-Path, no From", lines: without(without(personal(), "Return-Path"), "From"),
			reason: ReasonNullSender, rule: "S1"},
		{name: "two distinct Return-Paths", lines: personal("Return-Path: <other@example.net>"),
			reason: ReasonNullSender, rule: "S1"},
		{name: "null and non-null Return-Path", lines: personal("Return-Path: <>"),
			reason: ReasonNullSender, rule: "S1"},
		{name: "Return-Path not an addr-spec", lines: append(without(personal(), "Return-Path"), "Return-Path: <anna beispiel>"),
			reason: ReasonNullSender, rule: "S1"},
		{name: "Return-Path MAILER-DAEMON without domain (S4 marks it automated)", lines: append(without(personal(), "Return-Path"), "Return-Path: <MAILER-DAEMON>"),
			reason: ReasonNullSender, rule: "S1", automated: true},
		{name: "Return-Path with address literal", lines: append(without(personal(), "Return-Path"), "Return-Path: <a@[192.0.2.1]>"),
			reason: ReasonNullSender, rule: "S1"},
		{name: "no Return-Path, two From", lines: append(without(without(personal(), "Return-Path"), "From"), "From: a@example.org, b@example.org"),
			reason: ReasonNullSender, rule: "S1"},
		{name: "no Return-Path, From without domain", lines: append(without(without(personal(), "Return-Path"), "From"), "From: Anna"),
			reason: ReasonNullSender, rule: "S1"},
	})
}

func TestS2AutoSubmitted(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "auto-replied (vacation)", lines: personal("Auto-Submitted: auto-replied (vacation)"), reason: ReasonAutoSubmitted, rule: "S2", automated: true},
		{name: "Auto-Generated with parameter", lines: personal("Auto-Submitted: Auto-Generated; owner-email=x@example.org"), reason: ReasonAutoSubmitted, rule: "S2", automated: true},
		{name: "auto-notified", lines: personal("auto-submitted: auto-notified"), reason: ReasonAutoSubmitted, rule: "S2", automated: true},
		{name: "second field counts", lines: personal("Auto-Submitted: no", "Auto-Submitted: auto-generated"), reason: ReasonAutoSubmitted, rule: "S2", automated: true},
	})
}

func TestS3Report(t *testing.T) {
	report := func(top, part string) []string {
		return append(without(personal(), "Subject"), "Subject: Ergebnis", "Content-Type: "+top+"; boundary=r", "",
			"--r", "Content-Type: text/plain", "", "Bericht", "--r", "Content-Type: "+part, "", "Action: failed", "--r--")
	}
	runCases(t, []ruleCase{
		{name: "multipart/report DSN", lines: report("multipart/report; report-type=delivery-status", "message/delivery-status"), reason: ReasonReport, rule: "S3", automated: true},
		{name: "multipart/report without report-type", lines: report("multipart/report", "text/plain"), reason: ReasonReport, rule: "S3", automated: true},
		{name: "MDN part in multipart/mixed", lines: report("multipart/mixed", "message/disposition-notification"), reason: ReasonReport, rule: "S3", automated: true},
		{name: "ARF part", lines: report("multipart/mixed", "message/feedback-report"), reason: ReasonReport, rule: "S3", automated: true},
		{name: "RFC 6533 global DSN part", lines: report("multipart/mixed", "message/global-delivery-status"), reason: ReasonReport, rule: "S3", automated: true},
	})
}

func TestS4SystemSender(t *testing.T) {
	rp := func(addr string) []string {
		return append(without(personal(), "Return-Path"), "Return-Path: <"+addr+">")
	}
	from := func(v string) []string {
		return append(without(personal(), "From"), "From: "+v)
	}
	cases := []ruleCase{}
	for _, addr := range []string{"MAILER-DAEMON@mx.example.org", "mailer_daemon@x.example", "postmaster@x.example", "Post_Master@x.example",
		"listserv@lists.example", "majordomo@lists.example", "owner-bauen@lists.example", "bauen-request@lists.example",
		"bauen-bounces+anna=example.org@lists.example", "noreply@portal.example", "no-reply@portal.example", "No_Reply@portal.example",
		"do-not-reply@portal.example", "noreply+tracking123@portal.example"} {
		cases = append(cases, ruleCase{name: "Return-Path " + addr, lines: rp(addr), reason: ReasonSystemSender, rule: "S4", automated: true})
	}
	cases = append(cases,
		ruleCase{name: "From MAILER-DAEMON", lines: from("Mail Delivery System <MAILER-DAEMON@mx.example.org>"), reason: ReasonSystemSender, rule: "S4", automated: true},
		ruleCase{name: "From without domain", lines: from("MAILER-DAEMON (Mail Delivery System)"), reason: ReasonSystemSender, rule: "S4", automated: true},
		ruleCase{name: "Sender owner-", lines: personal("Sender: owner-bauen@lists.example"), reason: ReasonSystemSender, rule: "S4", automated: true},
	)
	runCases(t, cases)
}

func TestS5ToS8Headers(t *testing.T) {
	var cases []ruleCase
	for _, h := range []string{"List-Id: <bauen.lists.example>", "List-Help: <mailto:help@lists.example>", "List-Subscribe: <mailto:s@lists.example>",
		"List-Unsubscribe: <https://example.org/u>", "List-Post: NO", "List-Owner: <mailto:o@lists.example>", "List-Archive: <https://a.example>",
		"X-Mailing-List: bauen", "Mailing-List: list bauen@lists.example", "X-BeenThere: bauen@lists.example", "X-Mailman-Version: 2.1.39"} {
		cases = append(cases, ruleCase{name: "S5 " + h, lines: personal(h), reason: ReasonList, rule: "S5", automated: true})
	}
	for _, v := range []string{"bulk", " BULK ", "list", "junk", "auto_reply"} {
		cases = append(cases, ruleCase{name: "S6 Precedence " + v, lines: personal("Precedence: " + v), reason: ReasonPrecedence, rule: "S6", automated: true})
	}
	for _, v := range []string{"All", "OOF", "AutoReply", "DR, OOF", "dr,autoreply"} {
		// A request of the sender, not a sign of automation (sisimai issue #491).
		cases = append(cases, ruleCase{name: "S7 X-Auto-Response-Suppress " + v, lines: personal("X-Auto-Response-Suppress: " + v), reason: ReasonXARS, rule: "S7"})
	}
	for _, h := range []string{"X-MS-Exchange-Inbox-Rules-Loop: anna@example.org", "X-Autoreply: yes", "X-Autorespond: Urlaub", "X-Auto-Reply: 1",
		"X-FC-MachineGenerated: true", "X-Loop: yes", "X-Loop: TRUE", "X-Autogenerated: Reply"} {
		cases = append(cases, ruleCase{name: "S8 " + h, lines: personal(h), reason: ReasonVendorAuto, rule: "S8", automated: true})
	}
	// X-Auto-Response-Suppress with a null Return-Path: S1 decides first, S8 still marks it.
	cases = append(cases, ruleCase{name: "S8 XARS with Return-Path <>",
		lines: append(without(personal(), "Return-Path"), "Return-Path: <>", "X-Auto-Response-Suppress: DR"), reason: ReasonNullSender, rule: "S1", automated: true})
	runCases(t, cases)

	m := parse(t, append(without(personal(), "Return-Path"), "Return-Path: <>", "X-Auto-Response-Suppress: DR")...)
	if d, ok := checkVendor(m, &Settings{}); !ok || !strings.Contains(d, "Return-Path <>") {
		t.Errorf("checkVendor = %q, %v", d, ok)
	}
}

func TestS9SubjectHeuristics(t *testing.T) {
	subj := func(s string) []string { return append(without(personal(), "Subject"), "Subject: "+s) }
	var cases []ruleCase
	for _, s := range []string{"Auto: Ihre Anfrage", "Automatic reply: Bauantrag", "AUTOMATISCHE ANTWORT: Bauantrag", "Abwesenheitsnotiz",
		"Out of Office: back on Monday", "Réponse automatique : absence", "Frånvaro", "=?utf-8?q?Abwesenheitsnotiz=3A_Urlaub?=",
		"Unzustellbar: Bauantrag", "Undeliverable: Bauantrag", "Returned mail: see transcript for details", "Delivery Status Notification (Failure)",
		"failure notice", "Fwd: Returned mail: see transcript for details", "WG: Unzustellbar: Antrag", "Gelesen: Bauantrag",
		"complaint about message from 192.0.2.1"} {
		cases = append(cases, ruleCase{name: s, lines: subj(s), reason: ReasonSubjectHeuristic, rule: "S9", automated: true})
	}
	cases = append(cases,
		ruleCase{name: "heuristics off", lines: subj("Automatische Antwort: Bauantrag"), settings: func(s *Settings) { s.SubjectHeuristics = false }},
		ruleCase{name: "heuristics off, forwarded bounce subject", lines: subj("WG: Unzustellbar: Antrag"), settings: func(s *Settings) { s.SubjectHeuristics = false }},
		ruleCase{name: "ordinary subject", lines: subj("Antrag auf Wohngeld")},
		ruleCase{name: "Auto later in the subject", lines: subj("Frage zum Auto: Parkausweis")},
	)
	runCases(t, cases)
}

func TestS10OwnLoop(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "our loop header", lines: personal("X-Intake-Loop: inst-1"), reason: ReasonOwnLoop, rule: "S10"},
		{name: "loop header of another instance", lines: personal("x-intake-loop: inst-2"), reason: ReasonOwnLoop, rule: "S10"},
		{name: "Message-ID in our domain", lines: append(without(personal(), "Message-ID"), "Message-ID: <STK-2026-000042-7.1.ack@Stadt-Musterhausen.example>"), reason: ReasonOwnLoop, rule: "S10"},
		{name: "Return-Path is the office", lines: append(without(personal(), "Return-Path"), "Return-Path: <"+office+">"), reason: ReasonOwnLoop, rule: "S10"},
		{name: "From is an alias", lines: append(without(personal(), "From"), "From: Bürgerbüro <BUERGERBUERO@stadt-musterhausen.example>"), reason: ReasonOwnLoop, rule: "S10"},
		{name: "Return-Path is the separate envelope sender",
			lines:    append(without(personal(), "Return-Path"), "Return-Path: <intake-acks@intake.example>"),
			settings: func(s *Settings) { s.EnvelopeFrom = "intake-acks@intake.example" }, reason: ReasonOwnLoop, rule: "S10"},
		{name: "sent to the separate envelope sender (bounce of an ack)",
			lines:    append(without(personal(), "To"), "To: intake-acks@intake.example"),
			settings: func(s *Settings) { s.EnvelopeFrom = "intake-acks@intake.example" }, reason: ReasonOwnLoop, rule: "S10"},
		{name: "delivered to the separate envelope sender",
			lines:    personal("Delivered-To: intake-acks@intake.example"),
			settings: func(s *Settings) { s.EnvelopeFrom = "<Intake-Acks@intake.example>" }, reason: ReasonOwnLoop, rule: "S10"},
		{name: "From is another mailbox of ours",
			lines:    append(without(personal(), "Return-Path", "From"), "Return-Path: <bauamt@stadt-musterhausen.example>", "From: bauamt@stadt-musterhausen.example"),
			settings: func(s *Settings) { s.OwnAddresses = []string{"Bauamt@Stadt-Musterhausen.example"} }, reason: ReasonOwnLoop, rule: "S10"},
		{name: "envelope sender is the mailbox: mail to it is normal", lines: personal("Delivered-To: " + office)},
		{name: "no loop header configured", lines: personal("X-Intake-Loop: inst-1"), settings: func(s *Settings) { s.LoopHeader = "" }},
	})
}

func TestS11Spam(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "X-Spam-Flag: YES", lines: personal("X-Spam-Flag: YES"), reason: ReasonSpam, rule: "S11", automated: true},
		{name: "X-Spam-Status: Yes", lines: personal("X-Spam-Status: Yes, score=9.1 required=5.0"), reason: ReasonSpam, rule: "S11", automated: true},
		{name: "rspamd X-Spam", lines: personal("X-Spam: Yes"), reason: ReasonSpam, rule: "S11", automated: true},
	})
}

func TestA1Addressed(t *testing.T) {
	require := func(s *Settings) { s.RequireAddressed = true }
	to := func(v ...string) []string { return append(without(personal(), "To"), v...) }
	runCases(t, []ruleCase{
		{name: "To the office", lines: personal(), settings: require},
		{name: "Cc an alias, upper case", lines: to("To: someone@example.net", "Cc: BUERGERBUERO@Stadt-Musterhausen.example"), settings: require},
		{name: "Resent-To the office", lines: to("To: other@behoerde.example", "Resent-To: "+office), settings: require},
		{name: "Bcc the office", lines: to("To: undisclosed-recipients:;", "Bcc: "+office), settings: require},
		{name: "not addressed", lines: to("To: other@behoerde.example"), settings: require, reason: ReasonNotAddressed, rule: "A1"},
		{name: "no To at all", lines: to(), settings: require, reason: ReasonNotAddressed, rule: "A1"},
		{name: "not addressed, A1 off", lines: to("To: other@behoerde.example")},
		{name: "addressed only to another mailbox of ours", lines: to("To: bauamt@stadt-musterhausen.example"),
			settings: func(s *Settings) { require(s); s.OwnAddresses = []string{"bauamt@stadt-musterhausen.example"} },
			reason:   ReasonNotAddressed, rule: "A1"},
	})
}

func TestEvaluationOrderAndAutomated(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "S2 before S5, both automated", lines: personal("List-Id: <x.example>", "Auto-Submitted: auto-generated"), reason: ReasonAutoSubmitted, rule: "S2", automated: true},
		{name: "S7 decides, S8 marks automated", lines: personal("X-Auto-Response-Suppress: All", "X-MS-Exchange-Inbox-Rules-Loop: a@example.org"), reason: ReasonXARS, rule: "S7", automated: true},
		{name: "S10 before S11, spam still automated", lines: personal("X-Intake-Loop: inst-1", "X-Spam-Flag: YES"), reason: ReasonOwnLoop, rule: "S10", automated: true},
		{name: "S11 before A1", lines: append(without(personal(), "To"), "To: x@example.net", "X-Spam-Flag: YES"), settings: func(s *Settings) { s.RequireAddressed = true }, reason: ReasonSpam, rule: "S11", automated: true},
	})
}

func TestMalformed(t *testing.T) {
	for _, m := range []*mailparse.Message{nil, {}} {
		d := Decide(m, testSettings())
		if d.Ack || d.Reason != ReasonMalformed || d.Rule != "M1" {
			t.Errorf("Decide(%v) = %+v", m, d)
		}
	}
}

func TestValidAddrSpec(t *testing.T) {
	for addr, want := range map[string]bool{
		"anna@example.org": true, "a.b+c@sub.example.org": true, "müller@bücher.example": true, "x@localhost": true,
		"": false, "@example.org": false, "anna@": false, "anna": false, ".anna@example.org": false, "an..na@example.org": false,
		"an na@example.org": false, "a\"b@example.org": false, "a@b@example.org": false, "a@[192.0.2.1]": false,
		"a@-example.org": false, "a@example..org": false, "a@exa_mple.org": false, "a<b@example.org": false,
		strings.Repeat("a", 65) + "@example.org": false, "a@" + strings.Repeat("b", 64) + ".org": false,
	} {
		if got := ValidAddrSpec(addr); got != want {
			t.Errorf("ValidAddrSpec(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestExplain(t *testing.T) {
	all := []Reason{ReasonNullSender, ReasonAutoSubmitted, ReasonReport, ReasonSystemSender, ReasonList, ReasonPrecedence,
		ReasonXARS, ReasonVendorAuto, ReasonSubjectHeuristic, ReasonOwnLoop, ReasonSpam, ReasonNotAddressed,
		ReasonUnauthenticated, ReasonAuthFail, ReasonRate, ReasonRateCase, ReasonRateDomain, ReasonRateUnverified, ReasonFollowUp, ReasonMalformed, ReasonAckDisabled, ReasonTooOld, ReasonOversize,
		ReasonNoRecipient, ReasonPurged, ReasonClerk, ReasonNoAck}
	if got := Reasons(); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(all))) {
		t.Errorf("Reasons() = %v, want the codes %v", got, all)
	}
	seenDE, seenEN := map[string]Reason{}, map[string]Reason{}
	for _, r := range all {
		de, en := Explain(r)
		if de == "" || en == "" || strings.Contains(de, "\n") || strings.Contains(en, "\n") {
			t.Errorf("Explain(%s) = %q, %q", r, de, en)
		}
		if strings.Contains(de, string(r)) || strings.Contains(en, string(r)) {
			t.Errorf("Explain(%s) has no explanation of its own: %q, %q", r, de, en)
		}
		if prev, dup := seenDE[de]; dup {
			t.Errorf("Explain(%s) repeats the German text of %s", r, prev)
		}
		if prev, dup := seenEN[en]; dup {
			t.Errorf("Explain(%s) repeats the English text of %s", r, prev)
		}
		seenDE[de], seenEN[en] = r, r
	}
	if de, en := Explain("SOMETHING_NEW"); !strings.Contains(de, "SOMETHING_NEW") || !strings.Contains(en, "SOMETHING_NEW") {
		t.Errorf("unknown reason: %q, %q", de, en)
	}
}

// TestFixtures runs the German sample mails in testdata through parser and policy with the
// strict per-mailbox settings (addressed to the office, subject heuristics on).
func TestFixtures(t *testing.T) {
	s := testSettings()
	s.RequireAddressed = true
	for _, tc := range []struct {
		file      string
		reason    Reason
		automated bool
		recipient string
		subject   string
	}{
		{"outlook-automatische-antwort-mit-auto-submitted.eml", ReasonAutoSubmitted, true, "", "Automatische Antwort: Bauantrag Flurstück 12/3"},
		{"outlook-automatische-antwort-ohne-auto-submitted.eml", ReasonXARS, true, "", "Automatische Antwort: Bauantrag Flurstück 12/3"},
		{"gmx-abwesenheitsnotiz.eml", ReasonAutoSubmitted, true, "", ""},
		{"sieve-vacation.eml", ReasonNullSender, true, "", ""},
		{"ndr-unzustellbar.eml", ReasonNullSender, true, "", "Unzustellbar: Eingangsbestätigung STK-2026-000043-5"},
		{"lesebestaetigung-gelesen.eml", ReasonReport, true, "", ""},
		{"ticket-system-autoreply.eml", ReasonVendorAuto, true, "", ""},
		{"newsletter-list-unsubscribe.eml", ReasonList, true, "", ""},
		{"spam-markiert.eml", ReasonSpam, true, "", ""},
		{"noreply-absender.eml", ReasonSystemSender, true, "", ""},
		{"persoenlich-auto-submitted-no.eml", "", false, "hans.becker@posteo.example", ""},
		{"persoenlich-x-auto-response-suppress-dr.eml", "", false, "s.yilmaz@outlook.example", ""},
		{"persoenlich-weitergeleitete-unzustellbar.eml", "", false, "p.neumann@web.example", "WG: Meine Mail an das Ordnungsamt kam zurück"},
		{"persoenlich-umlaute-windows-1252.eml", "", false, "juergen.mueller@t-online.example", "Grundsteuer – Widerspruch gegen Bescheid für Flurstück 7/1 (Größe)"},
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
			d := Decide(m, s)
			if d.Reason != tc.reason || d.Ack != (tc.reason == "") || d.Automated != tc.automated {
				t.Errorf("Decide = %+v, want reason %q automated %v", d, tc.reason, tc.automated)
			}
			if tc.recipient != "" && d.Recipient != tc.recipient {
				t.Errorf("Recipient = %q, want %q", d.Recipient, tc.recipient)
			}
			if tc.subject != "" && m.Subject != tc.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, tc.subject)
			}
			if len(m.Problems) > 0 {
				t.Errorf("parse problems: %q", m.Problems)
			}
		})
	}
}
