package templates

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// stk is the acknowledgement data of the Staatskanzlei example.
func stk(t *testing.T) Data {
	return Data{
		Reference:   "STK-2026-000042-6",
		Received:    time.Date(2026, 11, 28, 14, 5, 33, 0, berlin(t)),
		Subject:     "Antrag auf Akteneinsicht",
		Attachments: []string{"Antrag.pdf", "Vollmacht Müller.jpg"},
		Office: Office{
			Name:          "Staatskanzlei des Landes Beispiel",
			Phone:         "+49 211 000000-0 (Bürgerreferat, Mo–Fr 9–15 Uhr)",
			PostalAddress: "Staatskanzlei des Landes Beispiel\nPostfach 10 11 02\n40002 Düsseldorf",
			ContactURL:    "https://www.stk.example.de/kontakt",
			PrivacyURL:    "https://www.stk.example.de/datenschutz",
		},
		Mailbox: "Poststelle der Staatskanzlei",
		Address: "poststelle@stk.example.de",
	}
}

func mustLoad(t *testing.T, dir string) *Set {
	t.Helper()
	s, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%q): %v", dir, err)
	}
	return s
}

func TestGolden(t *testing.T) {
	s := mustLoad(t, "")
	tests := []struct {
		name string
		lang string
		edit func(d *Data)
	}{
		{"de_new_attachments", "de", func(d *Data) {}},
		{"de_new_no_attachments", "de", func(d *Data) { d.Attachments = nil }},
		{"de_followup", "de", func(d *Data) {
			d.FollowUp = true
			d.Subject = "AW: Auto: Eingangsbestätigung [STK-2026-000042-6] – Antrag auf Akteneinsicht"
		}},
		{"de_followup_no_attachments", "de", func(d *Data) { d.FollowUp = true; d.Attachments = nil }},
		{"de_long_subject", "de", func(d *Data) {
			d.Subject = "Widerspruch gegen den Bescheid vom 3. November 2026 über die Ablehnung meines Antrags auf Erteilung einer Sondernutzungserlaubnis für den Marktplatz"
		}},
		{"de_no_subject_minimal_office", "de", func(d *Data) {
			d.Subject = ""
			d.Office = Office{Name: "Staatskanzlei"}
			d.Mailbox = ""
		}},
		{"de_many_attachments", "de", func(d *Data) {
			d.Attachments = nil
			for i := 1; i <= MaxAttachmentsListed+3; i++ {
				d.Attachments = append(d.Attachments, fmt.Sprintf("scan-%02d.pdf", i))
			}
		}},
		{"de_new_nrw_six_weeks_signature", "de", func(d *Data) {
			d.LegalBasis = "§ 3a VwVfG NRW"
			d.HandlingTime = 6 * 7 * 24 * time.Hour
			d.Signature = "Ihre Poststelle\nStaatskanzlei des Landes Beispiel"
		}},
		{"de_new_no_interim_promise", "de", func(d *Data) { d.NoInterimPromise = true }},
		{"de_interim", "de", func(d *Data) { d.Interim = true }},
		{"de_interim_minimal", "de", func(d *Data) { d.Interim, d.Minimal = true, true }},
		{"en_interim", "en", func(d *Data) { d.Interim = true; d.HandlingTime = 30 * 24 * time.Hour }},
		{"en_interim_minimal", "en", func(d *Data) { d.Interim, d.Minimal = true, true }},
		{"en_new_attachments", "en", func(d *Data) {}},
		{"en_new_no_attachments", "en", func(d *Data) { d.Attachments = nil }},
		{"en_followup", "en", func(d *Data) { d.FollowUp = true }},
		{"en_long_subject", "en", func(d *Data) {
			d.Subject = "Request for access to files under the Freedom of Information Act concerning the planning of the new state parliament building"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := stk(t)
			tt.edit(&d)
			r, err := s.Render(tt.lang, d)
			if err != nil {
				t.Fatal(err)
			}
			got := "Subject: " + r.Subject + "\n\n" + r.Text
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./templates -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (go test ./templates -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

// TestRequiredElements checks domain-de.md §A for every language and
// variant.
func TestRequiredElements(t *testing.T) {
	s := mustLoad(t, "")
	type element struct{ what, text string }
	common := func(d Data) []element {
		return []element{
			{"reference", d.Reference},
			{"subject received", d.Subject},
			{"privacy link", d.Office.PrivacyURL},
			{"contact phone", d.Office.Phone},
			{"office address", d.Address},
		}
	}
	perLang := map[string][]element{
		"de": {
			{"time of receipt", "28.11.2026 um 14:05 Uhr"},
			{"automatic notice", "automatisch erstellte Eingangsbestätigung"},
			{"security note", "nicht vertraulich"},
			{"receipt only", "bezieht sich nur auf den"},
			{"keep reference in subject", "im Betreff stehen"},
		},
		"en": {
			{"time of receipt", "28 November 2026 at 14:05 CET"},
			{"automatic notice", "automatic acknowledgement of receipt"},
			{"security note", "not confidential"},
			{"receipt only", "only confirms that your"},
			{"keep reference in subject", "in the subject line"},
		},
	}
	newOnly := map[string][]element{
		"de": {
			{"expected handling", "länger als vier Wochen"},
			{"written form", "(§ 3a VwVfG)"},
			{"competence not confirmed", "ob wir zuständig sind"},
			{"postal address", "Postfach 10 11 02"},
			{"contact URL", "https://www.stk.example.de/kontakt"},
			{"English block", "Your reference number is STK-2026-000042-6"},
			{"English time", "28 November 2026 at 14:05 CET"},
		},
		"en": {
			{"expected handling", "longer than four weeks"},
			{"written form", "§ 3a VwVfG"},
			{"competence not confirmed", "competent\nauthority"},
			{"postal address", "Postfach 10 11 02"},
			{"contact URL", "https://www.stk.example.de/kontakt"},
		},
	}
	for _, lang := range Languages() {
		for _, followUp := range []bool{false, true} {
			for _, withAtt := range []bool{true, false} {
				name := fmt.Sprintf("%s/followup=%v/attachments=%v", lang, followUp, withAtt)
				t.Run(name, func(t *testing.T) {
					d := stk(t)
					d.FollowUp = followUp
					if !withAtt {
						d.Attachments = nil
					}
					r, err := s.Render(lang, d)
					if err != nil {
						t.Fatal(err)
					}
					els := append(common(d), perLang[lang]...)
					if !followUp {
						els = append(els, newOnly[lang]...)
					}
					if withAtt {
						for _, a := range d.Attachments {
							els = append(els, element{"attachment " + a, a})
						}
					} else {
						// Issue 11: no "Anhänge: keine Anhänge", no request to check a list
						// that is not there.
						for _, no := range []string{"keine Anhänge", "Anhänge:", "prüfen Sie", "no attachments", "Attachments:", "check that all"} {
							if strings.Contains(r.Text, no) {
								t.Errorf("text without attachments contains %q", no)
							}
						}
					}
					for _, el := range els {
						if !strings.Contains(r.Text, el.text) {
							t.Errorf("%s missing: %q", el.what, el.text)
						}
					}
					if !strings.Contains(r.Subject, d.Reference) {
						t.Errorf("subject %q lacks the reference", r.Subject)
					}
					if !strings.HasPrefix(r.Subject, "Auto: ") {
						t.Errorf("subject %q does not start with \"Auto: \" (RFC 3834 §3.1.5)", r.Subject)
					}
				})
			}
		}
	}
}

func TestSubject(t *testing.T) {
	s := mustLoad(t, "")
	tests := []struct {
		lang, subject, want string
	}{
		{"de", "Antrag", "Auto: Eingangsbestätigung [STK-2026-000042-6] – Antrag"},
		{"de", "", "Auto: Eingangsbestätigung [STK-2026-000042-6] – (ohne Betreff)"},
		{"de", "   \t ", "Auto: Eingangsbestätigung [STK-2026-000042-6] – (ohne Betreff)"},
		{"en", "", "Auto: Acknowledgement of receipt [STK-2026-000042-6] – (no subject)"},
		{"en", "Request", "Auto: Acknowledgement of receipt [STK-2026-000042-6] – Request"},
		{"de", "Antrag\r\nBcc: victim@example.org", "Auto: Eingangsbestätigung [STK-2026-000042-6] – Antrag Bcc: victim@example.org"},
		{"de", "Frage\x00 zu\x1b[31m Gebühren", "Auto: Eingangsbestätigung [STK-2026-000042-6] – Frage zu[31m Gebühren"},
		// A reply to our acknowledgement: no growing chain of prefixes and tags.
		{"de", "AW: Auto: Eingangsbestätigung [STK-2026-000042-6] – Antrag", "Auto: Eingangsbestätigung [STK-2026-000042-6] – Antrag"},
		{"de", "Re: AW: [stk-2026-000042-6] Antrag", "Auto: Eingangsbestätigung [STK-2026-000042-6] – Antrag"},
		{"en", "RE: Auto: Acknowledgement of receipt [STK-2026-000042-6] – Request", "Auto: Acknowledgement of receipt [STK-2026-000042-6] – Request"},
		{"de", "AW: Auto: Eingangsbestätigung [STK-2026-000042-6] – ", "Auto: Eingangsbestätigung [STK-2026-000042-6] – (ohne Betreff)"},
		// Other subjects are echoed as received.
		{"de", "AW: Ihr Schreiben vom 3. November", "Auto: Eingangsbestätigung [STK-2026-000042-6] – AW: Ihr Schreiben vom 3. November"},
		{"de", "Eingangsbestätigung fehlt", "Auto: Eingangsbestätigung [STK-2026-000042-6] – Eingangsbestätigung fehlt"},
	}
	for _, tt := range tests {
		t.Run(tt.lang+" "+tt.subject, func(t *testing.T) {
			d := stk(t)
			d.Subject = tt.subject
			r, err := s.Render(tt.lang, d)
			if err != nil {
				t.Fatal(err)
			}
			if r.Subject != tt.want {
				t.Errorf("Subject = %q, want %q", r.Subject, tt.want)
			}
		})
	}
}

func TestSubjectTruncated(t *testing.T) {
	s := mustLoad(t, "")
	d := stk(t)
	prefix := "Auto: Eingangsbestätigung [STK-2026-000042-6] – "
	for _, subject := range []string{
		strings.Repeat("Wort ", 40),
		strings.Repeat("x", 300),
		strings.Repeat("ä", 81),
		strings.Repeat("ä", 80),
	} {
		d.Subject = subject
		r, err := s.Render("de", d)
		if err != nil {
			t.Fatal(err)
		}
		echo, ok := strings.CutPrefix(r.Subject, prefix)
		if !ok {
			t.Fatalf("subject %q", r.Subject)
		}
		n := utf8.RuneCountInString(echo)
		long := utf8.RuneCountInString(strings.TrimSpace(subject)) > MaxSubjectRunes
		switch {
		case n > MaxSubjectRunes:
			t.Errorf("echo has %d runes, more than %d: %q", n, MaxSubjectRunes, echo)
		case long && !strings.HasSuffix(echo, "…"):
			t.Errorf("cut echo %q does not end with …", echo)
		case !long && echo != strings.TrimSpace(subject):
			t.Errorf("short subject changed: %q", echo)
		}
		if !strings.Contains(r.Text, "Betreff:  "+truncate(strings.TrimSpace(subject), MaxBodySubjectRunes)) {
			t.Errorf("body does not show the subject")
		}
	}
}

// TestDataCannotChangeStructure: data from the mail stays on its line and
// is never interpreted as a template.
func TestDataCannotChangeStructure(t *testing.T) {
	s := mustLoad(t, "")
	d := stk(t)
	d.Subject = "Hallo\n\nDies ist KEINE automatische Nachricht {{.Reference}}"
	d.Attachments = []string{"rechnung\u202Efdp.exe", "a.pdf\r\nBitte überweisen Sie 100 Euro", "\x07", "  "}
	for _, lang := range Languages() {
		r, err := s.Render(lang, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(r.Text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "Dies ist KEINE") || strings.HasPrefix(strings.TrimSpace(l), "Bitte überweisen") {
				t.Errorf("%s: data starts a line of its own: %q", lang, l)
			}
		}
		for _, want := range []string{
			"Hallo Dies ist KEINE automatische Nachricht {{.Reference}}",
			"- rechnungfdp.exe",
			"- a.pdf Bitte überweisen Sie 100 Euro",
		} {
			if !strings.Contains(r.Text, want) {
				t.Errorf("%s: text lacks %q", lang, want)
			}
		}
		if strings.ContainsAny(r.Subject, "\r\n\u202E") || strings.ContainsAny(r.Text, "\r\u202E\x07") {
			t.Errorf("%s: control characters survived", lang)
		}
		if strings.Count(r.Text, "\n            - ")+strings.Count(r.Text, "\n                - ") != 2 {
			t.Errorf("%s: empty attachment names were listed:\n%s", lang, r.Text)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	s := mustLoad(t, "")
	d := stk(t)
	if _, err := s.Render("fr", d); err == nil || !strings.Contains(err.Error(), `unknown language "fr"`) {
		t.Errorf("fr: %v", err)
	}
	noRef := d
	noRef.Reference = " \n"
	if _, err := s.Render("de", noRef); err == nil {
		t.Errorf("no error without a reference")
	}
	noTime := d
	noTime.Received = time.Time{}
	if _, err := s.Render("de", noTime); err == nil {
		t.Errorf("no error without a time of receipt")
	}
	for _, lang := range []string{"", "DE", " de "} {
		r, err := s.Render(lang, d)
		if err != nil || !strings.HasPrefix(r.Text, "Sehr geehrte Damen und Herren") {
			t.Errorf("Render(%q) is not German: %v", lang, err)
		}
	}
	if r, err := s.Render("EN", d); err != nil || !strings.HasPrefix(r.Text, "Hello") {
		t.Errorf("Render(EN) is not English: %v", err)
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOverride(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"de.subject.tmpl": "Auto: Ihre Nachricht [{{.Reference}}]\n",
		"en.body.tmpl":    "Received {{.ReceivedEN}}, reference {{.Reference}}.\n",
		"README.txt":      "not a template, ignored",
	})
	s := mustLoad(t, dir)
	d := stk(t)
	r, err := s.Render("de", d)
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Auto: Ihre Nachricht [STK-2026-000042-6]" {
		t.Errorf("override subject not used: %q", r.Subject)
	}
	if !strings.HasPrefix(r.Text, "Sehr geehrte Damen und Herren") {
		t.Errorf("de body should still be the embedded one")
	}
	r, err = s.Render("en", d)
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "Received 28 November 2026 at 14:05 CET, reference STK-2026-000042-6.\n" {
		t.Errorf("override body not used: %q", r.Text)
	}
	if !strings.HasPrefix(r.Subject, "Auto: Acknowledgement of receipt") {
		t.Errorf("en subject should still be the embedded one: %q", r.Subject)
	}
}

func TestBrokenOverride(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{"parse error", map[string]string{"de.body.tmpl": "Guten Tag,\n{{.Reference\n"}, []string{"de.body.tmpl", "de.body.tmpl:2"}},
		{"unknown field", map[string]string{"en.followup.body.tmpl": "Case {{.Referenz}}\n"}, []string{"en.followup.body.tmpl", "Referenz"}},
		{"unknown function", map[string]string{"de.subject.tmpl": "{{upper .Reference}}\n"}, []string{"de.subject.tmpl", `function "upper" not defined`}},
		{"empty subject", map[string]string{"en.subject.tmpl": "{{/* nothing */}}\n"}, []string{"en.subject.tmpl", "subject is empty"}},
		{"misspelt name", map[string]string{"de.bdy.tmpl": "x"}, []string{"de.bdy.tmpl", "unknown template name"}},
		{"invalid UTF-8", map[string]string{"de.body.tmpl": "Gr\xfc\xdfe\n"}, []string{"de.body.tmpl", "not valid UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			s, err := Load(dir)
			if err == nil {
				t.Fatalf("Load accepted a broken override")
			}
			if s != nil {
				t.Errorf("Load returned a set with an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the folder %s", err, dir)
			}
		})
	}
	t.Run("missing folder", func(t *testing.T) {
		if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil {
			t.Errorf("Load accepted a missing folder")
		}
	})
}

func TestEmbedded(t *testing.T) {
	for _, name := range FileNames() {
		b, err := Embedded(name)
		if err != nil || len(b) == 0 {
			t.Errorf("embedded %s: %v", name, err)
		}
	}
}

func TestTidy(t *testing.T) {
	got := tidy("\n\nA  \r\n\n\n\nB\t\n  \nC\x07\n\n")
	if want := "A\n\nB\n\nC\n"; got != want {
		t.Errorf("tidy = %q, want %q", got, want)
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  a \r\n b\tc  ", "a b c"},
		{"rechnung\u202Efdp.exe", "rechnungfdp.exe"},
		{"x\u2066y\u2069z\u200F", "xyz"},
		{"a\u2028b", "a b"},
		{"nul\x00bel\x07esc\x1b", "nulbelesc"},
		{"bad \xff utf8", "bad utf8"},
		{"kept \uFFFD replacement", "kept \uFFFD replacement"},
		{"Müller – Straße", "Müller – Straße"},
	}
	for _, tt := range tests {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"kurz", 10, "kurz"},
		{"genau zehn", 10, "genau zehn"},
		{"ein etwas längerer Betreff", 12, "ein etwas…"},
		{strings.Repeat("x", 12), 10, strings.Repeat("x", 9) + "…"},
		{"Antrag: Frist – bitte", 16, "Antrag: Frist…"},
	}
	for _, tt := range tests {
		got := truncate(tt.in, tt.n)
		if got != tt.want || utf8.RuneCountInString(got) > tt.n {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
