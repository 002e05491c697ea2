package mailparse

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/intake-office/intake/internal/corpus"
)

// ackID is the Message-ID of one of our acknowledgements ("<reference>.<seq>.ack@<ack domain>").
const ackID = "STK-2026-000042-6.17.ack@intake.stk.example.de"

// report builds a multipart/report delivery-status mail from parts, each "header lines\n\nbody".
func report(parts ...string) string {
	var sb strings.Builder
	sb.WriteString(crlf(
		"Return-Path: <>",
		"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>",
		"To: poststelle@stk.example.de",
		"Subject: Undelivered Mail Returned to Sender",
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"RB\"",
		"",
	))
	for _, p := range parts {
		sb.WriteString("--RB\r\n" + strings.ReplaceAll(p, "\n", "\r\n") + "\r\n")
	}
	sb.WriteString("--RB--\r\n")
	return sb.String()
}

func TestDSN(t *testing.T) {
	t.Run("per-message and per-recipient groups", func(t *testing.T) {
		m := mustParse(t, report(
			"Content-Type: text/plain\n\nThis is the mail system at host mx.example.net.",
			"Content-Type: message/delivery-status\n\n"+
				"Reporting-MTA: dns; mx.example.net\nX-Postfix-Queue-ID: 4ABC\nArrival-Date: Fri, 13 Mar 2026 10:00:03 +0100\n\n"+
				"Final-Recipient: rfc822; anna@example.org\nOriginal-Recipient: rfc822;Anna@example.org\nAction: failed\n"+
				"Status: 5.1.1 (bad destination mailbox)\nRemote-MTA: dns; mx.example.org\n"+
				"Diagnostic-Code: smtp; 550 5.1.1 <anna@example.org>: Recipient address\n rejected: User unknown in local recipient table\n\n"+
				"Original-Recipient: rfc822;bert@example.org\nFinal-Recipient: RFC822; <bert@example.org>\nAction: Delayed (will retry)\nStatus: 4.4.1\n"+
				"Final-Recipient: rfc822; carl@example.org\nAction: delivered\nStatus: 2.0.0\n",
			"Content-Type: text/rfc822-headers\n\nSubject: Antrag\nMessage-ID: <orig@example.de>",
		))
		want := &DSN{ReportingMTA: "mx.example.net", Recipients: []DSNRecipient{
			{"anna@example.org", "failed", "5.1.1", "550 5.1.1 <anna@example.org>: Recipient address rejected: User unknown in local recipient table"},
			{"bert@example.org", "delayed", "4.4.1", ""},
			{"carl@example.org", "delivered", "2.0.0", ""},
		}}
		if m.DSN == nil || m.DSN.ReportingMTA != want.ReportingMTA || !slices.Equal(m.DSN.Recipients, want.Recipients) {
			t.Errorf("DSN = %+v\nwant  %+v", m.DSN, want)
		}
		if len(m.Problems) > 0 {
			t.Errorf("Problems = %q", m.Problems)
		}
	})
	t.Run("all in one group, base64, global-delivery-status", func(t *testing.T) {
		// RFC 6533 §6: message/global-delivery-status may carry UTF-8 and a transfer encoding.
		body := "Reporting-MTA: dns; mx.beispiel.example\r\nFinal-Recipient: utf-8; jürgen@beispiel.example\r\nAction: failed\r\nStatus: 5.2.2\r\nDiagnostic-Code: smtp; 552 5.2.2 Postfach voll\r\n"
		m := mustParse(t, report("Content-Type: message/global-delivery-status\nContent-Transfer-Encoding: base64\n\n"+b64(body)))
		want := []DSNRecipient{{"jürgen@beispiel.example", "failed", "5.2.2", "552 5.2.2 Postfach voll"}}
		if m.DSN == nil || m.DSN.ReportingMTA != "mx.beispiel.example" || !slices.Equal(m.DSN.Recipients, want) {
			t.Errorf("DSN = %+v", m.DSN)
		}
	})
	t.Run("empty part still sets DSN; only the first part counts", func(t *testing.T) {
		m := mustParse(t, report("Content-Type: message/delivery-status\n\n", "Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; x@example.org\nAction: failed"))
		if m.DSN == nil || len(m.DSN.Recipients) != 0 {
			t.Errorf("DSN = %+v", m.DSN)
		}
	})
	t.Run("no DSN part", func(t *testing.T) {
		if m := mustParse(t, crlf("Subject: s", "", "Status: 5.1.1")); m.DSN != nil {
			t.Errorf("DSN = %+v", m.DSN)
		}
	})
	t.Run("DSN inside a forwarded message/rfc822 is not this mail's", func(t *testing.T) {
		m := mustParse(t, crlf("Content-Type: multipart/mixed; boundary=m", "", "--m", "Content-Type: message/rfc822", "",
			"Subject: fwd", "Content-Type: multipart/report; report-type=delivery-status; boundary=r", "",
			"--r", "Content-Type: message/delivery-status", "", "Final-Recipient: rfc822; x@example.org", "Action: failed", "--r--", "--m--"))
		if m.DSN != nil {
			t.Errorf("DSN = %+v", m.DSN)
		}
	})
	t.Run("recipients are capped", func(t *testing.T) {
		var sb strings.Builder
		sb.WriteString("Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n")
		for i := range 300 {
			fmt.Fprintf(&sb, "\nFinal-Recipient: rfc822; r%d@example.org\nAction: failed\nStatus: 5.1.1\n", i)
		}
		m := mustParse(t, report(sb.String()))
		if len(m.DSN.Recipients) != maxDSNRecipients || m.DSN.Recipients[99].FinalRecipient != "r99@example.org" {
			t.Errorf("%d recipients", len(m.DSN.Recipients))
		}
	})
}

// b64 encodes s in base64 lines of 76 characters (RFC 2045 §6.8).
func b64(s string) string {
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	var sb strings.Builder
	for len(enc) > 76 {
		sb.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	sb.WriteString(enc)
	return sb.String()
}

// TestDSNCorpus checks the DSN of known bounces of the shared corpus against the values in
// the files.
func TestDSNCorpus(t *testing.T) {
	dir, _, ok := corpus.Labels(t)
	if !ok {
		t.Skip("mail corpus not found (set INTAKE_CORPUS)")
	}
	const bsd = "set-of-emails/maildir/bsd/"
	for _, tc := range []struct {
		file         string
		reportingMTA string
		recipients   []DSNRecipient
		returnedIDs  []string
		subjects     []string
	}{
		{bsd + "lhost-postfix-02.eml", "smtp.example.com", []DSNRecipient{
			{"filtered@example.co.jp", "failed", "5.2.1", "550 5.2.1 <filtered@example.co.jp>... User Unknown"},
			{"userunknown@example.co.jp", "failed", "5.1.1", "550 5.1.1 <userunknown@example.co.jp>... User Unknown"},
		}, nil, []string{"test"}},
		{bsd + "lhost-exchange2007-01.eml", "mx4.example.org", []DSNRecipient{
			{"mikeneko@example.co.jp", "failed", "5.1.1", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"},
		}, nil, []string{"Nyaan"}},
		{bsd + "lhost-office365-13.eml", "NEKONYAAN0022.apcprd01.prod.exchangelabs.com", []DSNRecipient{
			{"kijitora-nyaan@neko.kyoto.example.jp", "failed", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"},
		}, nil, []string{"にゃーん"}},
		{bsd + "rfc3464-36.eml", "neko.example.org", []DSNRecipient{
			{"kijitora@nyaan.example.com", "failed", "4.0.0", "426 connection timed out"},
		}, nil, nil},
		{bsd + "lhost-postfix-04.eml", "mv-osn-hcb007.ocn.ad.jp", []DSNRecipient{
			{"kijitora@example.co.jp", "failed", "5.1.1", "550 5.1.1 Address rejected kijitora@example.co.jp"},
		}, []string{"A8F82EDD-E518-4F5C-8C70-BC4EFF24AB9F@example.ne.jp"}, []string{"TEST"}},
		{bsd + "lhost-sendmail-01.eml", "smtpgw.example.jp", []DSNRecipient{
			{"userunknown@bouncehammer.jp", "failed", "5.1.1", "550 5.1.1 <userunknown@bouncehammer.jp>... User Unknown"},
		}, []string{"E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org"}, []string{"バウンスメールのテスト(日本語)"}},
		{"MimeKit/UnitTests/TestData/messages/delivery-status-multiple-blank-lines.txt", "someserver.com", []DSNRecipient{
			{"orig_recip@customer.com", "", "5.5.0", "550 Requested action not taken"},
		}, nil, nil},
		// Not DSNs: returned headers only as message/rfc822 or in the text.
		{bsd + "lhost-qmail-01.eml", "", nil, []string{"000000000.9999999999999.JavaMail.postmaster@mailhub"}, []string{"Message"}},
		{bsd + "lhost-gmail-01.eml", "", nil, []string{"D992C2C3-F175-4C4D-97E2-53A90E4E5BF5@gmail.com"}, []string{"TEST FROM GMAIL.COM"}},
		{bsd + "lhost-exim-01.eml", "", nil, []string{"E1P1ce6-000Egt-GZ@e1.example.org", "hogeuoiuadogalhg.dg9i09@example.jp"}, nil},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, _ := parseWithin(t, f, Limits{})
			switch {
			case tc.recipients == nil && m.DSN != nil:
				t.Errorf("DSN = %+v, want none", m.DSN)
			case tc.recipients != nil && (m.DSN == nil || m.DSN.ReportingMTA != tc.reportingMTA || !slices.Equal(m.DSN.Recipients, tc.recipients)):
				t.Errorf("DSN = %+v\nwant  %q %+v", m.DSN, tc.reportingMTA, tc.recipients)
			}
			if !slices.Equal(m.ReturnedMessageIDs, tc.returnedIDs) {
				t.Errorf("ReturnedMessageIDs = %q, want %q", m.ReturnedMessageIDs, tc.returnedIDs)
			}
			if !slices.Equal(m.ReturnedSubjects, tc.subjects) {
				t.Errorf("ReturnedSubjects = %q, want %q", m.ReturnedSubjects, tc.subjects)
			}
		})
	}
}

func TestReturnedMessageIDs(t *testing.T) {
	ackHeader := "From: Poststelle <poststelle@stk.example.de>\nTo: anna@example.org\n" +
		"Subject: =?utf-8?q?Eingangsbest=C3=A4tigung?= STK-2026-000042-6\nMessage-ID: <" + ackID + ">\nAuto-Submitted: auto-replied"
	for _, tc := range []struct {
		name     string
		raw      string
		ids      []string
		subjects []string
	}{
		{"message/rfc822, header only", report(
			"Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; anna@example.org\nAction: failed\nStatus: 5.1.1",
			"Content-Type: message/rfc822\n\n"+ackHeader+"\n\nMessage-ID: <in-the-body@example.org>\nSubject: body text"),
			[]string{ackID}, []string{"Eingangsbestätigung STK-2026-000042-6"}},
		{"text/rfc822-headers", report("Content-Type: text/rfc822-headers\n\n" + ackHeader),
			[]string{ackID}, []string{"Eingangsbestätigung STK-2026-000042-6"}},
		{"message/rfc822 as base64 attachment, broken folding", report(
			"Content-Type: message/rfc822; name=\"returned.eml\"\nContent-Disposition: attachment; filename=returned.eml\nContent-Transfer-Encoding: base64\n\n" +
				b64("Received: from a (10.0.0.1) by b\r\n(10.0.0.2) with SMTP; Fri, 13 Mar 2026\r\n10:00:00 +0100\r\nMessage-ID: <"+ackID+">\r\n\r\nbody")),
			[]string{ackID}, nil},
		{"plain-text bounce (qmail)", crlf(
			"Return-Path: <>",
			"From: MAILER-DAEMON@mx.example.net",
			"Subject: failure notice",
			"",
			"Hi. This is the qmail-send program at mx.example.net.",
			"I'm afraid I wasn't able to deliver your message to the following addresses.",
			"",
			"<anna@example.org>:",
			"Sorry, no mailbox here by that name. (#5.1.1)",
			"",
			"--- Below this line is a copy of the message.",
			"",
			"Return-Path: <poststelle@stk.example.de>",
			"Received: (qmail 1234 invoked by uid 0); 13 Mar 2026 10:00:00 -0000",
			"Message-ID:",
			" <"+ackID+">",
			"Subject: Eingangsbestätigung",
			"  STK-2026-000042-6",
			"",
			"Guten Tag,",
			"Message-ID: <quoted-in-body@example.org>",
		), []string{ackID, "quoted-in-body@example.org"}, []string{"Eingangsbestätigung STK-2026-000042-6"}},
		{"Exchange text with original headers, indented and quoted", crlf(
			"Return-Path: <>",
			"From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@landkreis.example>",
			"Subject: Unzustellbar: Eingangsbestätigung",
			"Content-Type: multipart/mixed; boundary=x",
			"",
			"--x",
			"Content-Type: text/plain; charset=utf-8",
			"Content-Transfer-Encoding: quoted-printable",
			"",
			"Die Nachricht konnte nicht zugestellt werden.",
			"Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'",
			"",
			"Urspr=C3=BCngliche Nachrichtenkopfzeilen:",
			"",
			"   Received: from mx (192.0.2.1) by EXCH02",
			"      with Microsoft SMTP Server id 15.1.2507.39; Fri, 13 Mar 2026 11:00:05 +0100",
			"   Message-ID: <"+ackID+">",
			"   Subject: Eingangsbest=C3=A4tigung",
			"--x",
			"Content-Type: text/plain",
			"",
			"> Message-ID: <second@example.org>",
			"--x--",
		), []string{ackID, "second@example.org"}, []string{"Eingangsbestätigung"}},
		{"personal mail quoting a header is no bounce", crlf(
			"Return-Path: <p.neumann@web.example>",
			"From: Petra Neumann <p.neumann@web.example>",
			"Subject: WG: Meine Mail kam zurück",
			"",
			"Message-ID: <"+ackID+">",
		), nil, nil},
		{"forwarded mail as message/rfc822 is read too", crlf(
			"From: anna@example.org",
			"Subject: Fwd",
			"Content-Type: multipart/mixed; boundary=m",
			"",
			"--m",
			"Content-Type: message/rfc822",
			"",
			"Message-ID: <fwd@example.org>",
			"Subject: forwarded",
			"--m--",
		), []string{"fwd@example.org"}, []string{"forwarded"}},
		{"digest members are not returned mail", crlf(
			"Content-Type: multipart/digest; boundary=d",
			"",
			"--d",
			"",
			"Message-ID: <list-post@example.org>",
			"--d",
			"Content-Type: message/rfc822",
			"",
			"Message-ID: <list-post2@example.org>",
			"--d--",
		), nil, nil},
		{"de-duplicated", report(
			"Content-Type: text/plain\n\nMessage-ID: <"+ackID+">",
			"Content-Type: text/rfc822-headers\n\nMessage-ID: <"+ackID+">",
			"Content-Type: message/rfc822\n\nMessage-ID: <"+ackID+">"),
			[]string{ackID}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.raw)
			if !slices.Equal(m.ReturnedMessageIDs, tc.ids) {
				t.Errorf("ReturnedMessageIDs = %q, want %q", m.ReturnedMessageIDs, tc.ids)
			}
			if !slices.Equal(m.ReturnedSubjects, tc.subjects) {
				t.Errorf("ReturnedSubjects = %q, want %q", m.ReturnedSubjects, tc.subjects)
			}
			if len(m.Problems) > 0 {
				t.Errorf("Problems = %q", m.Problems)
			}
		})
	}
}

func TestReturnedBounds(t *testing.T) {
	const mib = 1 << 20
	var many strings.Builder
	for i := range 50 {
		fmt.Fprintf(&many, "Content-Type: message/rfc822\n\nMessage-ID: <r%d@example.org>\nSubject: s%d\n\nbody\x00", i, i)
	}
	parts := strings.Split(strings.TrimSuffix(many.String(), "\x00"), "\x00")
	m, _ := parseWithin(t, strings.NewReader(report(parts...)), Limits{})
	if len(m.ReturnedMessageIDs) != maxReturned || len(m.ReturnedSubjects) != maxReturned || m.ReturnedMessageIDs[19] != "r19@example.org" {
		t.Errorf("%d IDs, %d subjects", len(m.ReturnedMessageIDs), len(m.ReturnedSubjects))
	}

	// A returned header section larger than the cap: the Message-ID after it is not read,
	// and neither is the 32 MB body.
	big := "Content-Type: message/rfc822\n\n" + strings.Repeat("Received: from x by y\n", 100<<10/22) + "Message-ID: <late@example.org>\n\n"
	m, _ = parseWithin(t, strings.NewReader(report(big+strings.Repeat("a", 32*mib))), Limits{})
	if len(m.ReturnedMessageIDs) != 0 {
		t.Errorf("IDs %q from beyond the header cap", m.ReturnedMessageIDs)
	}

	// 32 MB of header-like text in a plain-text bounce: only the first 64 KiB are searched.
	plain := crlf("Return-Path: <>", "From: MAILER-DAEMON@mx.example.net", "Subject: failure notice", "", "Message-ID: <first@example.org>", "")
	m, _ = parseWithin(t, strings.NewReader(plain+strings.Repeat("Message-ID: <x@y>\r\n\r\n", 32*mib/21)), Limits{})
	if len(m.ReturnedMessageIDs) != 2 {
		t.Errorf("IDs %q", m.ReturnedMessageIDs)
	}

	// One 32 MB logical line in a plain-text bounce.
	m, _ = parseWithin(t, strings.NewReader(plain+"Subject: x\r\n"+strings.Repeat(" y", 16*mib)), Limits{})
	if len(m.ReturnedMessageIDs) != 1 {
		t.Errorf("IDs %q", m.ReturnedMessageIDs)
	}
}
