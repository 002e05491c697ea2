package mailparse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/intake-office/intake/internal/corpus"
)

// corpusFiles returns the contents of every file listed in the corpus labels.tsv. Without a
// corpus it fails when the CI variable is set and returns nothing otherwise.
func corpusFiles(t testing.TB) [][]byte {
	t.Helper()
	dir, entries, ok := corpus.Labels(t)
	if !ok {
		t.Log("mail corpus not found, seeding without it")
		return nil
	}
	out := make([][]byte, 0, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Path))
		if err != nil {
			t.Fatalf("read corpus file: %v", err)
		}
		out = append(out, b)
	}
	return out
}

// inlineSeeds are small mails for the defects the parser must survive.
func inlineSeeds() []string {
	return []string{
		"",
		"\r\n",
		"Subject: x",
		"From: a@example.org\r\nSubject: =?utf-8?B?eHB0bw?=\r\n\r\nbody",
		"From: J\xfcrgen <j@example.org>\rSubject: Gr\xfc\xdfe\r\rText\r",
		"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=b\n\n--b\n\n--b--\n",
		"Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--r--\r\n",
		"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Disposition: attachment; filename*0*=utf-8''%E2%80; filename*1*=%AE..%2F..%2Fa\r\n\r\n--x--",
		"Content-Type: text/html; charset=x-unknown\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n",
		"Return-Path: <>\r\nReturn-Path: <a@b>\r\nMessage-ID: a@b\r\nReferences: <x> <y\r\n\r\n",
		nestedMultipart(30),
		flatMultipart(30),
		// Authentication-Results (RFC 8601) in the forms met in the wild.
		"Authentication-Results: mx.google.com;\r\n dkim=pass header.i=@gmail.com header.s=20230601;\r\n spf=pass (google.com: domain of a@gmail.com) smtp.mailfrom=a@gmail.com;\r\n dmarc=pass (p=NONE) header.from=gmail.com\r\n\r\n",
		"Authentication-Results: spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=contoso.example; dkim=none (message not signed) header.d=none;dmarc=fail action=oreject header.from=contoso.example;compauth=fail reason=000\r\n\r\n",
		"Authentication-Results: \"mx\" 1; dkim/1 = pass (a (b) \\) c) reason=\"x;y\" header.d=; none; =;\r\nAuthentication-Results: (\r\n\r\n",
		// Bounces: DSN groups run together, returned headers as parts and as plain text.
		"Return-Path: <>\r\nFrom: MAILER-DAEMON@mx\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\nFinal-Recipient: rfc822; a@b\r\nAction: failed\r\nStatus: 5.1.1\r\nFinal-Recipient: rfc822;<c@d>\r\nStatus: 4.4.7\r\n--r\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <STK-2026-000042-6.17.ack@intake.stk.example.de>\r\nSubject: =?utf-8?q?Best=C3=A4tigung?=\r\n\r\nbody\r\n--r\r\nContent-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: base64\r\n\r\nTWVzc2FnZS1JRDogPGFAYj4=\r\n--r--\r\n",
		"Return-Path: <>\r\nSubject: failure notice\r\n\r\n(#5.1.1)\r\n--- Below this line is a copy of the message.\r\n\r\nMessage-ID:\r\n <a@b>\r\n> > Subject: x\r\n   Message-ID: <c@d>\r\n",
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range inlineSeeds() {
		f.Add([]byte(s))
	}
	for _, b := range corpusFiles(f) {
		f.Add(b)
	}
	lim := Limits{MaxTextBytes: 4096, MaxParts: 200}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, w, err := measure(bytes.NewReader(raw), lim)
		if over := w.overBudget(); over != "" {
			t.Errorf("Parse of %d bytes: %s", len(raw), over)
		}
		if err != nil {
			if !errors.Is(err, ErrNoHeader) || m != nil {
				t.Fatalf("Parse = %v, %v; only ErrNoHeader with a nil message is allowed", m, err)
			}
			return
		}
		if m == nil || len(m.Fields) == 0 {
			t.Fatal("Parse returned no error but no header fields")
		}
		if !utf8.ValidString(m.Subject) || strings.ContainsAny(m.Subject, "\r\n") {
			t.Errorf("Subject %q is not one line of UTF-8", m.Subject)
		}
		if !utf8.ValidString(m.Text) || len(m.Text) > lim.MaxTextBytes {
			t.Errorf("Text of %d bytes, valid UTF-8 %v", len(m.Text), utf8.ValidString(m.Text))
		}
		if len(m.PartTypes) > lim.MaxParts || len(m.Attachments) > lim.MaxParts {
			t.Errorf("%d part types, %d attachments over MaxParts", len(m.PartTypes), len(m.Attachments))
		}
		if m.MediaType == "" {
			t.Error("empty MediaType")
		}
		for _, a := range m.Attachments {
			if a == "" || a == "." || a == ".." || strings.ContainsAny(a, "/\\:") || len(a) > maxFilenameBytes || !utf8.ValidString(a) {
				t.Errorf("unsafe attachment name %q", a)
			}
			for _, r := range a {
				if r < 0x20 || r == 0x7f || isBidiControl(r) {
					t.Errorf("control character in attachment name %q", a)
				}
			}
		}
		for _, list := range [][]Address{m.From, m.To, m.Cc, m.ReplyTo} {
			for _, a := range list {
				if !strings.Contains(a.Addr, "@") || !utf8.ValidString(a.Name) {
					t.Errorf("bad address %+v", a)
				}
			}
		}
		checkBounceFields(t, m)
		if len(m.Problems) > maxProblems+1 {
			t.Errorf("%d problems", len(m.Problems))
		}
		for _, p := range m.Problems {
			if strings.Contains(p, "internal error") {
				t.Errorf("recovered panic: %s", p)
			}
		}
	})
}

// checkBounceFields checks the bounds and the shape of DSN, ReturnedMessageIDs,
// ReturnedSubjects and AuthResults.
func checkBounceFields(t *testing.T, m *Message) {
	t.Helper()
	if len(m.ReturnedMessageIDs) > maxReturned || len(m.ReturnedSubjects) > maxReturned {
		t.Errorf("%d returned IDs, %d subjects", len(m.ReturnedMessageIDs), len(m.ReturnedSubjects))
	}
	for _, id := range m.ReturnedMessageIDs {
		if id == "" || strings.ContainsAny(id, "<> \t\r\n") || !utf8.ValidString(id) {
			t.Errorf("bad returned Message-ID %q", id)
		}
	}
	for _, s := range m.ReturnedSubjects {
		if s == "" || len(s) > maxReturnedSubject || strings.ContainsAny(s, "\r\n") || !utf8.ValidString(s) {
			t.Errorf("bad returned subject %q", s)
		}
	}
	if m.DSN != nil {
		if len(m.DSN.Recipients) > maxDSNRecipients || len(m.DSN.ReportingMTA) > maxDSNValue {
			t.Errorf("DSN of %d recipients", len(m.DSN.Recipients))
		}
		for _, r := range m.DSN.Recipients {
			for _, v := range []string{r.FinalRecipient, r.Action, r.Status, r.Diagnostic} {
				if len(v) > maxDSNValue || strings.ContainsAny(v, "\r\n") || !utf8.ValidString(v) {
					t.Errorf("bad DSN value %q", v)
				}
			}
			if r.Status != "" && findStatusCode(r.Status) != r.Status {
				t.Errorf("DSN status %q is no status code", r.Status)
			}
		}
	}
	if len(m.AuthResults) > maxAuthResults {
		t.Errorf("%d AuthResults", len(m.AuthResults))
	}
	for _, ar := range m.AuthResults {
		if len(ar.Methods) > maxAuthMethods || len(ar.AuthservID) > maxAuthValue || ar.AuthservID == "" && len(ar.Methods) == 0 {
			t.Errorf("bad AuthResult %+v", ar)
		}
		for _, am := range ar.Methods {
			if !isAuthKeyword(am.Method) || !isAuthKeyword(am.Result) || len(am.Props) > maxAuthProps || am.Props == nil {
				t.Errorf("bad AuthMethod %+v", am)
			}
			for k, v := range am.Props {
				if !isAuthPropKey(k) || len(v) > maxAuthValue || !utf8.ValidString(v) {
					t.Errorf("bad property %q=%q", k, v)
				}
			}
		}
	}
}
