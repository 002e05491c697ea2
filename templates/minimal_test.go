package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// phishing is the data of issue 8 finding 1 as the responder would hand it over.
func phishing(t *testing.T) Data {
	d := stk(t)
	d.Subject = "Ihre Steuererstattung 1.250 EUR ist freigegeben - jetzt bestätigen: https://stk-erstattung.evil.example/login"
	d.Attachments = nil
	for range 50 {
		d.Attachments = append(d.Attachments, strings.Repeat("Erstattung-bestaetigen-stk-erstattung.evil.example-login-", 3)[:116]+".pdf")
	}
	return d
}

func TestGoldenMinimal(t *testing.T) {
	s := mustLoad(t, "")
	for _, tt := range []struct {
		name     string
		lang     string
		followUp bool
	}{
		{"de_minimal", "de", false},
		{"de_minimal_followup", "de", true},
		{"en_minimal", "en", false},
		{"en_minimal_followup", "en", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := phishing(t)
			d.Minimal, d.FollowUp = true, tt.followUp
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

// TestMinimalEchoesNothing: the minimal acknowledgement carries the reference, the time of
// receipt and the office's text, and nothing of the sender's, in every language, even when
// an office overrides the minimal templates with ones that ask for .Subject and
// .Attachments.
func TestMinimalEchoesNothing(t *testing.T) {
	dir := t.TempDir()
	for _, lang := range Languages() {
		greedy := "{{.Subject}} {{.SubjectShort}} {{range .Attachments}}{{.}}{{end}} {{.Reference}}"
		for _, name := range []string{lang + ".minimal.subject.tmpl", lang + ".minimal.body.tmpl",
			lang + ".interim.subject.tmpl", lang + ".interim.body.tmpl"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(greedy), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, set := range []struct {
		name string
		s    *Set
	}{{"embedded", mustLoad(t, "")}, {"greedy override", mustLoad(t, dir)}} {
		for _, lang := range Languages() {
			for i, followUp := range []bool{false, true, false} {
				d := phishing(t)
				// The third round is the interim notice after a minimal acknowledgement.
				d.Minimal, d.FollowUp, d.Interim = true, followUp, i == 2
				r, err := set.s.Render(lang, d)
				if err != nil {
					t.Fatal(err)
				}
				all := r.Subject + "\n" + r.Text
				for _, mark := range []string{"Steuererstattung", "evil", "Erstattung-", ".pdf", "1.250"} {
					if strings.Contains(all, mark) {
						t.Errorf("%s %s follow-up=%v: minimal acknowledgement contains %q:\n%s", set.name, lang, followUp, mark, all)
					}
				}
				if !strings.Contains(r.Subject, d.Reference) {
					t.Errorf("%s %s: subject %q lacks the reference", set.name, lang, r.Subject)
				}
				if set.name == "embedded" {
					for _, want := range []string{d.Reference, map[string]string{"de": "28.11.2026", "en": "28 November 2026"}[lang], d.Office.Name} {
						if !strings.Contains(r.Text, want) {
							t.Errorf("%s follow-up=%v: body lacks %q:\n%s", lang, followUp, want, r.Text)
						}
					}
				}
			}
		}
	}
}

// A citizen who replies to a minimal acknowledgement and is verified then gets a full one
// whose subject does not repeat our own minimal subject.
func TestSubjectOfReplyToMinimal(t *testing.T) {
	s := mustLoad(t, "")
	d := stk(t)
	d.FollowUp = true
	for lang, subj := range map[string]string{
		"de": "AW: Auto: Eingangsbestätigung – Vorgangsnummer [STK-2026-000042-6]",
		"en": "Re: Auto: Acknowledgement of receipt – reference number [STK-2026-000042-6]",
	} {
		d.Subject = subj
		r, err := s.Render(lang, d)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(r.Subject, "Vorgangsnummer") || strings.Contains(r.Subject, "reference number") || strings.Count(r.Subject, "STK-2026-000042-6") != 1 {
			t.Errorf("%s: subject %q", lang, r.Subject)
		}
	}
}
