package mailparse

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// crlf joins lines with CRLF, the canonical line end (RFC 5322 §2.1).
func crlf(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

func mustParse(t *testing.T, raw string) *Message {
	t.Helper()
	m, err := Parse(strings.NewReader(raw), Limits{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func TestLineEndings(t *testing.T) {
	base := []string{
		"Return-Path: <anna@example.org>",
		"From: Anna Beispiel <anna@Example.ORG>",
		"Subject: Antrag",
		"  auf Wohngeld",
		"Content-Type: multipart/alternative; boundary=b1",
		"",
		"--b1",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"Guten Tag,",
		"bitte um Rückruf.",
		"--b1",
		"Content-Type: text/html",
		"",
		"<p>Guten Tag</p>",
		"--b1--",
	}
	for _, tc := range []struct{ name, sep string }{
		{"CRLF", "\r\n"},
		{"LF", "\n"},
		{"CR", "\r"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, strings.Join(base, tc.sep)+tc.sep)
			if m.Subject != "Antrag auf Wohngeld" {
				t.Errorf("Subject = %q", m.Subject)
			}
			if len(m.From) != 1 || m.From[0].Addr != "anna@example.org" || m.From[0].Name != "Anna Beispiel" {
				t.Errorf("From = %+v", m.From)
			}
			if !slices.Equal(m.ReturnPaths, []string{"anna@example.org"}) {
				t.Errorf("ReturnPaths = %q", m.ReturnPaths)
			}
			if want := []string{"multipart/alternative", "text/plain", "text/html"}; !slices.Equal(m.PartTypes, want) {
				t.Errorf("PartTypes = %q, want %q", m.PartTypes, want)
			}
			if m.Text != "Guten Tag,\nbitte um Rückruf." {
				t.Errorf("Text = %q", m.Text)
			}
		})
	}
	t.Run("mixed CRLF and lone CR", func(t *testing.T) {
		m := mustParse(t, "Subject: a\r\nFrom: x@example.org\rTo: y@example.org\n\r\nbody\r")
		if m.Subject != "a" || len(m.From) != 1 || len(m.To) != 1 || m.Text != "body" {
			t.Errorf("got Subject %q From %+v To %+v Text %q", m.Subject, m.From, m.To, m.Text)
		}
	})
}

func TestHeaderFields(t *testing.T) {
	m := mustParse(t, crlf(
		"Received: from a by b;",
		"\tMon, 1 Jan 2024 10:00:00 +0100",
		"received: from c by d",
		"X-Weird   : spaced name",
		"Subject: =?utf-8?q?first?=",
		"Subject: second",
		"Message-ID: 1234.abcd@mail.example.org",
		"References: <a@example.org> <bad entry> <b@example.org> <> <c@example.org",
		"In-Reply-To: <b@example.org> (comment)",
		"Date: Mon, 15 Jul 2013 13:16:38 -0700 (PDT)",
		"",
		"body",
	))
	if got := m.Values("RECEIVED"); len(got) != 2 || got[0] != "from a by b;\tMon, 1 Jan 2024 10:00:00 +0100" || got[1] != "from c by d" {
		t.Errorf("Values(Received) = %q", got)
	}
	if got := m.Get("x-weird"); got != "spaced name" {
		t.Errorf("Get(x-weird) = %q", got)
	}
	if !m.Has("x-WEIRD") || m.Has("X-Missing") {
		t.Error("Has is not case-insensitive or finds missing fields")
	}
	if m.Subject != "first" {
		t.Errorf("Subject = %q (first field wins)", m.Subject)
	}
	if m.MessageID != "1234.abcd@mail.example.org" {
		t.Errorf("MessageID = %q", m.MessageID)
	}
	if want := []string{"a@example.org", "b@example.org"}; !slices.Equal(m.References, want) {
		t.Errorf("References = %q, want %q", m.References, want)
	}
	if !slices.Equal(m.InReplyTo, []string{"b@example.org"}) {
		t.Errorf("InReplyTo = %q", m.InReplyTo)
	}
	if want := time.Date(2013, 7, 15, 20, 16, 38, 0, time.UTC); !m.Date.Equal(want) {
		t.Errorf("Date = %v", m.Date)
	}
	if m.MediaType != "text/plain" {
		t.Errorf("MediaType = %q", m.MediaType)
	}
}

func TestEncodedWords(t *testing.T) {
	for _, tc := range []struct{ name, raw, want string }{
		{"utf-8 B", "=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=", "Grüße aus Köln"},
		{"iso-8859-1 Q", "=?iso-8859-1?q?Gr=FC=DFe?=", "Grüße"},
		{"windows-1252 and utf-8 adjacent", "=?windows-1252?q?Anfrage_=96_Gr=FC=DFe_=80?= =?utf-8?b?4pyT?=", "Anfrage – Grüße €✓"},
		{"iso-8859-15", "=?ISO-8859-15?Q?=A4uro?=", "€uro"},
		{"koi8-r", "=?koi8-r?B?8NLJ18XU?=", "Привет"},
		{"unpadded base64", "=?utf-8?B?eHB0bw?= Nachricht", "xpto Nachricht"},
		{"language suffix RFC 2231", "=?us-ascii*en?q?Hello?=", "Hello"},
		{"unknown charset kept", "=?x-klingon?q?Qapla=27?=", "Qapla'"},
		{"CR LF and controls removed", "=?utf-8?q?a=0D=0Ab=07c?=", "a bc"},
		{"malformed word kept", "=?utf-8?x?abc?= ok", "=?utf-8?x?abc?= ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, crlf("Subject: "+tc.raw, "", "x"))
			if m.Subject != tc.want {
				t.Errorf("Subject = %q, want %q (problems %q)", m.Subject, tc.want, m.Problems)
			}
		})
	}
}

func TestRaw8BitHeaders(t *testing.T) {
	// windows-1252 bytes: ü=FC, ß=DF, €=80, –=96
	raw := "From: J\xfcrgen M\xfcller <j.mueller@Beispiel.DE>\r\n" +
		"To: B\xfcrgerb\xfcro <buergerbuero@stadt.example>\r\n" +
		"Subject: Gr\xfc\xdfe \x80 \x96 Anfrage\r\n" +
		"\r\n" +
		"Sehr geehrte Damen und Herren, Gr\xfc\xdfe\r\n"
	m := mustParse(t, raw)
	if len(m.From) != 1 || m.From[0].Addr != "j.mueller@beispiel.de" || m.From[0].Name != "Jürgen Müller" {
		t.Errorf("From = %+v", m.From)
	}
	if len(m.To) != 1 || m.To[0].Name != "Bürgerbüro" {
		t.Errorf("To = %+v", m.To)
	}
	if m.Subject != "Grüße € – Anfrage" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if m.Text != "Sehr geehrte Damen und Herren, Grüße" {
		t.Errorf("Text = %q", m.Text)
	}
	if m.Get("Subject") != "Gr\xfc\xdfe \x80 \x96 Anfrage" {
		t.Errorf("raw field value changed: %q", m.Get("Subject"))
	}
	// Raw UTF-8 headers stay as they are.
	m = mustParse(t, "From: Jürgen <j@example.org>\r\nSubject: Grüße\r\n\r\n")
	if m.Subject != "Grüße" || len(m.From) != 1 || m.From[0].Name != "Jürgen" {
		t.Errorf("utf-8 header: Subject %q From %+v", m.Subject, m.From)
	}
}

func TestAddresses(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []Address
	}{
		{"plain", "a@Example.ORG", []Address{{"", "a@example.org"}}},
		{"local part case kept", "Anna.B@EXAMPLE.org", []Address{{"", "Anna.B@example.org"}}},
		{"encoded name", "=?iso-8859-1?q?J=FCrgen?= <j@example.org>", []Address{{"Jürgen", "j@example.org"}}},
		{"group", "Amt: a@example.org, b@example.org;", []Address{{"", "a@example.org"}, {"", "b@example.org"}}},
		{"empty group", "undisclosed-recipients:;", nil},
		{"one bad entry", "a@example.org, broken@, \"B\" <b@example.org>", []Address{{"", "a@example.org"}, {"B", "b@example.org"}}},
		{"two angle addrs, lenient takes last", "Name <x@example.org> <y@example.org>", []Address{{"Name <x@example.org>", "y@example.org"}}},
		{"trailing dot local part, lenient", "john.doe.@example.org", []Address{{"", "john.doe.@example.org"}}},
		{"no domain", "MAILER-DAEMON (Mail Delivery System)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, crlf("From: "+tc.value, "", ""))
			if !slices.Equal(m.From, tc.want) {
				t.Errorf("From = %+v, want %+v", m.From, tc.want)
			}
		})
	}
}

func TestReturnPaths(t *testing.T) {
	m := mustParse(t, crlf(
		"Return-Path: <anna@Example.ORG>",
		"Return-Path: <>",
		"Return-Path: bert@example.org",
		"Return-Path: <@relay.example,@other.example:carl@example.org>",
		"Return-Path:   < dora@example.org > (comment)",
		"Return-Path: <MAILER-DAEMON>",
		"",
		"",
	))
	want := []string{"anna@example.org", "", "bert@example.org", "carl@example.org", "dora@example.org", "MAILER-DAEMON"}
	if !slices.Equal(m.ReturnPaths, want) {
		t.Errorf("ReturnPaths = %q, want %q", m.ReturnPaths, want)
	}
}

func TestMultipart(t *testing.T) {
	t.Run("nested with attachments", func(t *testing.T) {
		m := mustParse(t, crlf(
			"From: a@example.org",
			"Content-Type: multipart/mixed; boundary=\"outer\"",
			"",
			"preamble is ignored",
			"--outer",
			"Content-Type: multipart/alternative; boundary=inner",
			"",
			"--inner",
			"Content-Type: text/plain; charset=iso-8859-1",
			"Content-Transfer-Encoding: quoted-printable",
			"",
			"Gr=FC=DFe aus D=FCsseldorf=",
			" und Umgebung",
			"--inner",
			"Content-Type: text/html; charset=utf-8",
			"",
			"<b>Grüße</b>",
			"--inner--",
			"--outer",
			"Content-Type: application/pdf; name=\"Antrag.pdf\"",
			"Content-Disposition: attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf",
			"Content-Transfer-Encoding: base64",
			"",
			"JVBERi0xLjQK",
			"--outer",
			"Content-Type: image/png",
			"Content-Disposition: inline; filename*0*=iso-8859-1''Gr%FC; filename*1*=%DFe; filename*2=\".png\"",
			"",
			"xxx",
			"--outer",
			"Content-Type: message/rfc822",
			"",
			"From: someone@example.net",
			"Content-Type: multipart/report; report-type=delivery-status; boundary=x",
			"",
			"--x",
			"Content-Type: message/delivery-status",
			"",
			"--x--",
			"--outer--",
			"epilogue",
		))
		wantTypes := []string{"multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf", "image/png", "message/rfc822"}
		if !slices.Equal(m.PartTypes, wantTypes) {
			t.Errorf("PartTypes = %q, want %q", m.PartTypes, wantTypes)
		}
		if m.ReportType != "" {
			t.Errorf("ReportType = %q from inside a message/rfc822 part", m.ReportType)
		}
		if want := []string{"Rechnung März.pdf", "Grüße.png"}; !slices.Equal(m.Attachments, want) {
			t.Errorf("Attachments = %q, want %q", m.Attachments, want)
		}
		if m.Text != "Grüße aus Düsseldorf und Umgebung" {
			t.Errorf("Text = %q", m.Text)
		}
		if len(m.Problems) != 0 {
			t.Errorf("Problems = %q", m.Problems)
		}
	})
	t.Run("report", func(t *testing.T) {
		m := mustParse(t, crlf(
			"Return-Path: <>",
			"From: MAILER-DAEMON@mx.example.org",
			"Content-Type: multipart/report; report-type=\"Delivery-Status\";",
			"\tboundary=\"rep\"",
			"",
			"--rep",
			"",
			"Your message could not be delivered.",
			"--rep",
			"Content-Type: message/delivery-status",
			"",
			"Reporting-MTA: dns; mx.example.org",
			"",
			"Final-Recipient: rfc822; x@example.net",
			"Action: failed",
			"--rep",
			"Content-Type: text/rfc822-headers",
			"",
			"Subject: original",
			"--rep--",
		))
		if m.MediaType != "multipart/report" || m.ReportType != "delivery-status" {
			t.Errorf("MediaType %q ReportType %q", m.MediaType, m.ReportType)
		}
		if want := []string{"multipart/report", "text/plain", "message/delivery-status", "text/rfc822-headers"}; !slices.Equal(m.PartTypes, want) {
			t.Errorf("PartTypes = %q", m.PartTypes)
		}
		if m.Text != "Your message could not be delivered." {
			t.Errorf("Text = %q", m.Text)
		}
	})
	t.Run("missing inner close delimiter", func(t *testing.T) {
		m := mustParse(t, crlf(
			"Content-Type: multipart/mixed; boundary=outer",
			"",
			"--outer",
			"Content-Type: multipart/alternative; boundary=inner",
			"",
			"--inner",
			"Content-Type: text/plain",
			"",
			"text",
			"--outer",
			"Content-Type: application/octet-stream; name=a.bin",
			"",
			"data",
			"--outer--",
		))
		if want := []string{"multipart/mixed", "multipart/alternative", "text/plain", "application/octet-stream"}; !slices.Equal(m.PartTypes, want) {
			t.Errorf("PartTypes = %q", m.PartTypes)
		}
		if m.Text != "text" || !slices.Equal(m.Attachments, []string{"a.bin"}) {
			t.Errorf("Text %q Attachments %q", m.Text, m.Attachments)
		}
		if !hasProblem(m, "closing boundary") {
			t.Errorf("Problems = %q", m.Problems)
		}
	})
	t.Run("digest defaults to message/rfc822", func(t *testing.T) {
		m := mustParse(t, crlf(
			"Content-Type: multipart/digest; boundary=d",
			"",
			"--d",
			"",
			"From: a@example.org",
			"--d--",
		))
		if want := []string{"multipart/digest", "message/rfc822"}; !slices.Equal(m.PartTypes, want) {
			t.Errorf("PartTypes = %q", m.PartTypes)
		}
	})
	t.Run("no boundary", func(t *testing.T) {
		m := mustParse(t, crlf("Content-Type: multipart/mixed", "", "--x", "", "text"))
		if !hasProblem(m, "without boundary") || m.Text != "" {
			t.Errorf("Problems %q Text %q", m.Problems, m.Text)
		}
	})
	t.Run("html only", func(t *testing.T) {
		m := mustParse(t, crlf(
			"Content-Type: text/html; charset=windows-1252",
			"",
			"<html><head><title>T</title><style>p{}</style></head><body>",
			"<p>Sehr geehrte&nbsp;Damen &amp; Herren,</p><script>alert(1)</script>",
			"<div>Gr\xfc\xdfe<br>\x93Zitat\x94</div></body></html>",
		))
		if want := "Sehr geehrte Damen & Herren,\n\nGrüße\n“Zitat”"; m.Text != want {
			t.Errorf("Text = %q, want %q", m.Text, want)
		}
	})
}

func hasProblem(m *Message, sub string) bool {
	for _, p := range m.Problems {
		if strings.Contains(p, sub) {
			return true
		}
	}
	return false
}

func TestBodyDecoding(t *testing.T) {
	for _, tc := range []struct {
		name    string
		header  []string
		body    string
		want    string
		problem string
	}{
		{"8-bit without charset is windows-1252", nil, "Gr\xfc\xdfe \x80", "Grüße €", ""},
		{"utf-8 with stray latin-1 byte", []string{"Content-Type: text/plain; charset=utf-8"}, "Grüße und \xe4", "Grüße und ä", ""},
		{"base64 utf-8", []string{"Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: BASE64"}, "R3LDvMOfZQ==", "Grüße", ""},
		{"broken base64 decoded leniently", []string{"Content-Transfer-Encoding: base64"}, "SGFs!!bG8g\r\nV2VsdA", "Hallo Welt", "base64"},
		{"quoted-printable with stray =", []string{"Content-Transfer-Encoding: quoted-printable"}, "a=zz b=3D c", "a=zz b= c", ""},
		{"broken quoted-printable decoded leniently", []string{"Content-Transfer-Encoding: quoted-printable"}, "a\x01b =C3=A4", "ab ä", "quoted-printable"},
		{"utf-7", []string{"Content-Type: text/plain; charset=unicode-1-1-utf-7"}, "Gr+APwA3w-e +AKM-1 a+-b", "Grüße £1 a+b", ""},
		{"unknown charset keeps bytes", []string{"Content-Type: text/plain; charset=x-unknown"}, "plain", "plain", "unknown charset"},
		{"unknown transfer encoding", []string{"Content-Transfer-Encoding: x-uuencode"}, "begin 644 a", "", "unknown transfer encoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := append([]string{"From: a@example.org"}, tc.header...)
			lines = append(lines, "", tc.body)
			m := mustParse(t, crlf(lines...))
			if m.Text != tc.want {
				t.Errorf("Text = %q, want %q", m.Text, tc.want)
			}
			if tc.problem != "" && !hasProblem(m, tc.problem) {
				t.Errorf("Problems = %q, want one with %q", m.Problems, tc.problem)
			}
			if tc.problem == "" && len(m.Problems) > 0 {
				t.Errorf("unexpected Problems %q", m.Problems)
			}
		})
	}
}

func TestAttachmentNames(t *testing.T) {
	long := strings.Repeat("x", 300) + ".pdf"
	for _, tc := range []struct{ name, disposition, want string }{
		{"path traversal", `attachment; filename="../../etc/passwd"`, "passwd"},
		{"windows path", `attachment; filename="C:\\Users\\x\\bericht.doc"`, "bericht.doc"},
		{"control characters (RFC 2231)", `attachment; filename*=utf-8''a%01b%0D%0Ac%00.txt`, "abc.txt"},
		{"bidi override", "attachment; filename*=utf-8''rechnung%E2%80%AEfdp.exe", "rechnungfdp.exe"},
		{"dot dot only", `attachment; filename=".."`, ""},
		{"RFC 2047 in quoted name", `attachment; filename="=?iso-8859-1?q?M=E4rz.pdf?="`, "März.pdf"},
		{"unquoted with spaces", `attachment; filename=Mein Antrag.pdf`, "Mein Antrag.pdf"},
		{"long name keeps extension", `attachment; filename="` + long + `"`, strings.Repeat("x", maxFilenameBytes-4) + ".pdf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, crlf(
				"Content-Type: multipart/mixed; boundary=b",
				"",
				"--b",
				"Content-Type: application/octet-stream",
				"Content-Disposition: "+tc.disposition,
				"",
				"data",
				"--b--",
			))
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if !slices.Equal(m.Attachments, want) {
				t.Errorf("Attachments = %q, want %q", m.Attachments, want)
			}
			for _, a := range m.Attachments {
				if strings.ContainsAny(a, "/\\\x00\r\n") || !utf8.ValidString(a) || len(a) > maxFilenameBytes {
					t.Errorf("unsafe name %q", a)
				}
			}
		})
	}
}

func TestHeaderOddities(t *testing.T) {
	t.Run("no blank line before body", func(t *testing.T) {
		m := mustParse(t, "Subject: kurz\r\nDies ist der Text.\r\n")
		if m.Subject != "kurz" || m.Text != "Dies ist der Text." || !hasProblem(m, "without field name") {
			t.Errorf("Subject %q Text %q Problems %q", m.Subject, m.Text, m.Problems)
		}
	})
	t.Run("mbox From_ line and BOM", func(t *testing.T) {
		m := mustParse(t, "\xef\xbb\xbfFrom anna@example.org Mon Jan  1 00:00:00 2024\nSubject: s\n\nb\n")
		if m.Subject != "s" || m.Fields[0].Key != "Subject" {
			t.Errorf("Fields %q", m.Fields)
		}
	})
	t.Run("leading continuation line dropped", func(t *testing.T) {
		m := mustParse(t, " stray\r\nSubject: s\r\n\r\n")
		if m.Subject != "s" || !hasProblem(m, "continuation") {
			t.Errorf("Subject %q Problems %q", m.Subject, m.Problems)
		}
	})
	t.Run("header only, no body", func(t *testing.T) {
		m := mustParse(t, "Subject: s")
		if m.Subject != "s" || m.Text != "" {
			t.Errorf("Subject %q Text %q", m.Subject, m.Text)
		}
	})
	t.Run("unparsable Content-Type falls back to text/plain", func(t *testing.T) {
		m := mustParse(t, crlf("Content-Type: text", "", "hello"))
		if m.MediaType != "text/plain" || m.Text != "hello" {
			t.Errorf("MediaType %q Text %q", m.MediaType, m.Text)
		}
	})
}

func TestNoHeader(t *testing.T) {
	for _, raw := range []string{"", "\r\n\r\nbody only", "just some text\r\nwithout header\r\n", " \r\n"} {
		m, err := Parse(strings.NewReader(raw), Limits{})
		if !errors.Is(err, ErrNoHeader) || m != nil {
			t.Errorf("Parse(%q) = %v, %v; want nil, ErrNoHeader", raw, m, err)
		}
	}
	if _, err := Parse(nil, Limits{}); !errors.Is(err, ErrNoHeader) {
		t.Errorf("Parse(nil) error = %v", err)
	}
}

// failingReader returns data and then a non-EOF error.
type failingReader struct{ data string }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, errors.New("connection reset")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadError(t *testing.T) {
	m, err := Parse(&failingReader{data: "Subject: s\r\n\r\npartial body"}, Limits{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if m.Subject != "s" || m.Text != "partial body" || !hasProblem(m, "connection reset") {
		t.Errorf("Subject %q Text %q Problems %q", m.Subject, m.Text, m.Problems)
	}
}

func TestLimits(t *testing.T) {
	t.Run("text is capped at a rune boundary", func(t *testing.T) {
		m, err := Parse(strings.NewReader("Subject: s\r\n\r\n"+strings.Repeat("ä", 100)), Limits{MaxTextBytes: 11})
		if err != nil {
			t.Fatal(err)
		}
		if m.Text != "äääää" {
			t.Errorf("Text = %q", m.Text)
		}
	})
	t.Run("parts", func(t *testing.T) {
		m, err := Parse(strings.NewReader(flatMultipart(50)), Limits{MaxParts: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.PartTypes) != 10 || !hasProblem(m, "more than 10 MIME parts") {
			t.Errorf("%d part types, Problems %q", len(m.PartTypes), m.Problems)
		}
	})
	t.Run("depth", func(t *testing.T) {
		m, err := Parse(strings.NewReader(nestedMultipart(10)), Limits{MaxDepth: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.PartTypes) != 4 || !hasProblem(m, "deeper than 3") {
			t.Errorf("PartTypes %q, Problems %q", m.PartTypes, m.Problems)
		}
		if m.Text != "" {
			t.Errorf("text of a part below the depth limit was read: %q", m.Text)
		}
	})
	t.Run("header too large", func(t *testing.T) {
		raw := "Subject: s\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\n\r\nbody"
		m, err := Parse(strings.NewReader(raw), Limits{MaxHeaderBytes: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "s" || m.Has("X-Big") || m.Text != "" || !hasProblem(m, "larger than 1000") {
			t.Errorf("Subject %q X-Big %v Text %q Problems %q", m.Subject, m.Has("X-Big"), m.Text, m.Problems)
		}
	})
}
