package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

//go:embed text/*.tmpl
var embedded embed.FS

// Languages returns the supported languages; the first is the default.
func Languages() []string { return []string{"de", "en"} }

// Limits of echoed data, in runes.
const (
	MaxSubjectRunes      = 80  // subject line (RFC 3834 §3.1.5 asks to keep the echo short)
	MaxBodySubjectRunes  = 200 // subject shown in the body
	MaxAttachmentRunes   = 120 // one attachment name
	MaxAttachmentsListed = 50  // further attachments are only counted (MoreAttachments)
)

// Data is what an acknowledgement is rendered from.
type Data struct {
	Reference   string
	Received    time.Time // already in office time zone
	Subject     string    // decoded subject received ("" => "(ohne Betreff)" / "(no subject)")
	Attachments []string
	FollowUp    bool // shorter text for a follow-up on an existing case
	// Minimal renders the short acknowledgement for a sender that was not verified (issue 8):
	// the *.minimal.* templates, and Subject and Attachments are dropped before any template
	// sees them, so not even an overridden template can echo the sender's text.
	Minimal bool
	Office  Office // the authority
	Mailbox string // mailbox display name / function
	Address string // office address (reply to it keeping the reference in the subject)
	// Interim renders the interim notice (Zwischennachricht, issue 11) of the case instead
	// of an acknowledgement: the *.interim.* templates. Minimal applies to it as well.
	Interim bool
	// HandlingTime is the time after which the office sends an interim notice, named in the
	// acknowledgement and the notice; 0 = DefaultHandlingTime.
	HandlingTime time.Duration
	// NoInterimPromise leaves the promise of an interim notice out of the acknowledgement
	// (interim notices are disabled).
	NoInterimPromise bool
	// LegalBasis is the provision on written form cited; "" = DefaultLegalBasis.
	LegalBasis string
	// Signature are the lines under the closing formula ("\n" separates them); "" = Mailbox,
	// then Office.Name unless Mailbox already names it.
	Signature string
}

// Office describes the authority in the text; empty fields are left out.
type Office struct {
	Name, Phone, PostalAddress, ContactURL, PrivacyURL string
}

// Kinds of text Render produces; Kind names the templates.
func (d Data) kind() string {
	switch {
	case d.Interim:
		return "interim"
	case d.Minimal:
		return "minimal"
	case d.FollowUp:
		return "followup"
	}
	return ""
}

// Rendered is a rendered acknowledgement: the subject (one line, without
// header encoding) and the plain-text body (UTF-8, "\n" line ends).
type Rendered struct {
	Subject, Text string
}

// TemplateData is what the templates see: Data, sanitised, plus
// preformatted values. See the package documentation.
type TemplateData struct {
	Reference       string
	Received        time.Time
	ReceivedDE      string
	ReceivedEN      string
	Subject         string
	SubjectShort    string
	Attachments     []string // at most MaxAttachmentsListed names
	AttachmentCount int      // number of attachments
	MoreAttachments int      // attachments not listed
	FollowUp        bool
	Office          Office
	PostalLines     []string
	Mailbox         string
	Address         string
	// Added in issue 11:
	ReceivedDateDE string   // "28.11.2026"
	ReceivedDateEN string   // "28 November 2026"
	HandlingDE     string   // "vier Wochen"; "" when there is no promise of an interim notice
	HandlingEN     string   // "four weeks"; "" likewise
	LegalBasis     string   // "§ 3a VwVfG NRW"
	ContactName    string   // Office.Name unless the postal address starts with it
	SignatureLines []string // lines under the closing formula, no name twice
}

// Set is a loaded set of templates. It is safe for concurrent use.
type Set struct {
	tmpl   map[string]*template.Template // by file name
	source map[string]string             // file name -> where it came from, for errors
}

// FileNames returns the names of the template files, e.g. "de.body.tmpl".
func FileNames() []string {
	var names []string
	for _, lang := range Languages() {
		names = append(names, lang+".subject.tmpl", lang+".body.tmpl", lang+".followup.body.tmpl",
			lang+".minimal.subject.tmpl", lang+".minimal.body.tmpl",
			lang+".interim.subject.tmpl", lang+".interim.body.tmpl")
	}
	return names
}

// Embedded returns the built-in text of a template file (for "intake
// templates export" or as the start of an override).
func Embedded(name string) ([]byte, error) {
	return embedded.ReadFile("text/" + name)
}

// Load parses the embedded templates, replacing each by the file of the
// same name in dir if there is one (dir "" = embedded only). A file in dir
// ending in .tmpl that matches no template name is an error (a misspelt
// override would otherwise be ignored). Every template is test-rendered so
// that an error in an override is reported here, naming the file.
func Load(dir string) (*Set, error) {
	s := &Set{tmpl: map[string]*template.Template{}, source: map[string]string{}}
	names := FileNames()
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("templates: read override folder: %w", err)
		}
		for _, e := range entries {
			if n := e.Name(); strings.HasSuffix(n, ".tmpl") && !slices.Contains(names, n) {
				return nil, fmt.Errorf("templates: %s: unknown template name (known: %s)", filepath.Join(dir, n), strings.Join(names, ", "))
			}
		}
	}
	for _, name := range names {
		text, err := embedded.ReadFile("text/" + name)
		if err != nil {
			return nil, fmt.Errorf("templates: embedded %s: %w", name, err) // build error, caught by every test
		}
		source := "embedded " + name
		if dir != "" {
			p := filepath.Join(dir, name)
			b, err := os.ReadFile(p)
			switch {
			case err == nil:
				text, source = b, p
			case !errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("templates: read override: %w", err)
			}
		}
		if !utf8.Valid(text) {
			return nil, fmt.Errorf("templates: %s: not valid UTF-8", source)
		}
		t, err := template.New(name).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", source, err)
		}
		s.tmpl[name] = t
		s.source[name] = source
	}
	for _, lang := range Languages() {
		for _, d := range sampleData() {
			if _, err := s.Render(lang, d); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// sampleData covers the branches of the templates for the test render.
func sampleData() []Data {
	full := Data{
		Reference: "STK-2026-000042-6", Received: time.Date(2026, 11, 28, 14, 5, 0, 0, time.UTC),
		Subject: "Antrag", Attachments: []string{"antrag.pdf"},
		Office:  Office{Name: "Amt", Phone: "0", PostalAddress: "Postfach 1\n00000 Ort", ContactURL: "https://example.org/k", PrivacyURL: "https://example.org/d"},
		Mailbox: "Poststelle", Address: "poststelle@example.org",
	}
	empty := Data{Reference: full.Reference, Received: full.Received}
	fullFollow, emptyFollow := full, empty
	fullFollow.FollowUp, emptyFollow.FollowUp = true, true
	out := []Data{full, empty, fullFollow, emptyFollow}
	for _, d := range out[:4] {
		d.Minimal = true
		out = append(out, d)
	}
	for _, d := range []Data{full, empty} {
		d.Interim = true
		out = append(out, d)
		d.Minimal, d.NoInterimPromise = true, true
		out = append(out, d)
	}
	return out
}

// Render renders the acknowledgement for lang: "de" (also for "", with a
// short English block) or "en".
func (s *Set) Render(lang string, d Data) (Rendered, error) {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if lang == "" {
		lang = Languages()[0]
	}
	if !slices.Contains(Languages(), lang) {
		return Rendered{}, fmt.Errorf("render acknowledgement: unknown language %q (have %s)", lang, strings.Join(Languages(), ", "))
	}
	subjectName, body := lang+".subject.tmpl", lang+".body.tmpl"
	if d.Minimal {
		// Nothing the sender chose reaches the templates.
		d.Subject, d.Attachments = "", nil
	}
	switch k := d.kind(); k {
	case "interim", "minimal":
		subjectName, body = lang+"."+k+".subject.tmpl", lang+"."+k+".body.tmpl"
	case "followup":
		body = lang + ".followup.body.tmpl"
	}
	td, err := newTemplateData(d)
	if err != nil {
		return Rendered{}, fmt.Errorf("render acknowledgement: %w", err)
	}
	subject, err := s.exec(subjectName, td)
	if err != nil {
		return Rendered{}, err
	}
	subject = oneLine(subject)
	if subject == "" {
		return Rendered{}, fmt.Errorf("render acknowledgement: %s: subject is empty", s.source[subjectName])
	}
	text, err := s.exec(body, td)
	if err != nil {
		return Rendered{}, err
	}
	return Rendered{Subject: subject, Text: tidy(text)}, nil
}

func (s *Set) exec(name string, td *TemplateData) (string, error) {
	var b bytes.Buffer
	if err := s.tmpl[name].Execute(&b, td); err != nil {
		return "", fmt.Errorf("render acknowledgement: %s: %w", s.source[name], err)
	}
	return b.String(), nil
}

// newTemplateData sanitises d for the templates.
func newTemplateData(d Data) (*TemplateData, error) {
	ref := oneLine(d.Reference)
	if ref == "" {
		return nil, errors.New("no reference")
	}
	if d.Received.IsZero() {
		return nil, errors.New("no time of receipt")
	}
	td := &TemplateData{
		Reference:    ref,
		Received:     d.Received,
		ReceivedDE:   d.Received.Format("02.01.2006 um 15:04 Uhr"),
		ReceivedEN:   d.Received.Format("2 January 2006 at 15:04 MST"),
		Subject:      truncate(oneLine(d.Subject), MaxBodySubjectRunes),
		SubjectShort: truncate(shortSubject(d.Subject, ref), MaxSubjectRunes),
		FollowUp:     d.FollowUp,
		Office: Office{
			Name:          oneLine(d.Office.Name),
			Phone:         oneLine(d.Office.Phone),
			PostalAddress: strings.Join(lines(d.Office.PostalAddress), "\n"),
			ContactURL:    oneLine(d.Office.ContactURL),
			PrivacyURL:    oneLine(d.Office.PrivacyURL),
		},
		PostalLines: lines(d.Office.PostalAddress),
		Mailbox:     oneLine(d.Mailbox),
		Address:     oneLine(d.Address),

		ReceivedDateDE: d.Received.Format("02.01.2006"),
		ReceivedDateEN: d.Received.Format("2 January 2006"),
		LegalBasis:     oneLine(d.LegalBasis),
	}
	if td.LegalBasis == "" {
		td.LegalBasis = DefaultLegalBasis
	}
	if !d.NoInterimPromise {
		h := d.HandlingTime
		if h <= 0 {
			h = DefaultHandlingTime
		}
		td.HandlingDE, td.HandlingEN = periodDE(h), periodEN(h)
	}
	if td.ContactName = td.Office.Name; len(td.PostalLines) > 0 && td.PostalLines[0] == td.ContactName {
		td.ContactName = ""
	}
	td.SignatureLines = lines(d.Signature)
	if len(td.SignatureLines) == 0 {
		if td.Mailbox != "" {
			td.SignatureLines = append(td.SignatureLines, td.Mailbox)
		}
		if n := td.Office.Name; n != "" && !strings.Contains(strings.ToLower(td.Mailbox), strings.ToLower(n)) {
			td.SignatureLines = append(td.SignatureLines, n)
		}
	}
	for _, a := range d.Attachments {
		if a = truncate(oneLine(a), MaxAttachmentRunes); a == "" {
			continue
		}
		td.AttachmentCount++
		if len(td.Attachments) < MaxAttachmentsListed {
			td.Attachments = append(td.Attachments, a)
		}
	}
	td.MoreAttachments = td.AttachmentCount - len(td.Attachments)
	return td, nil
}

// oneLine makes s safe to show on one line: line breaks and tabs become
// spaces; control characters, bidirectional overrides (which could
// disguise "rechnung\u202Efdp.exe") and invalid UTF-8 are removed; runs of
// spaces are collapsed.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			continue // invalid byte
		case unicode.IsSpace(r) || r == '\u2028' || r == '\u2029':
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), isBidiControl(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isBidiControl reports Unicode bidirectional formatting characters
// (UAX #9 §2: LRM, RLM, ALM, embeddings, overrides, isolates).
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061C', r == '\u200E', r == '\u200F':
		return true
	case r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// lines splits a multi-line value (a postal address) into sanitised,
// non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == '\u2028' }) {
		if l = oneLine(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// truncate shortens s to at most n runes, cutting at a word boundary when
// one is near, and marks the cut with "…".
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := n - 1
	for i := cut; i > cut-20 && i > 0; i-- {
		if r[i] == ' ' {
			cut = i
			break
		}
	}
	return strings.TrimRightFunc(string(r[:cut]), func(r rune) bool {
		return unicode.IsSpace(r) || r == '-' || r == '–' || r == ',' || r == ':'
	}) + "…"
}

var (
	// replyPrefix matches one reply or forward marker at the start of a
	// subject, in the languages our citizens' mail programs use.
	replyPrefix = regexp.MustCompile(`(?i)^(re|aw|antw|antwort|wg|fw|fwd|sv|vs|tr|rif|auto)\s*(\[\d+\]|\(\d+\))?\s*:\s*`)
	// ownMarker matches what is left of our own subject after the tag is
	// removed: "Eingangsbestätigung –".
	// The minimal acknowledgement's "– Vorgangsnummer" / "– reference number" goes too.
	ownMarker = regexp.MustCompile(`(?i)^(eingangsbestätigung|acknowledgement of receipt)\s*[–—:-]?\s*(vorgangsnummer|reference number)?\s*`)
)

// shortSubject is the subject echoed in our subject line. When the citizen
// replied to an acknowledgement ("AW: Auto: Eingangsbestätigung [REF] –
// Antrag"), our tag, our words and the reply prefixes are removed so that
// the subject does not grow with every exchange; other subjects are echoed
// as received.
func shortSubject(subject, ref string) string {
	s := oneLine(subject)
	tag := "[" + ref + "]"
	i := strings.Index(strings.ToLower(s), strings.ToLower(tag))
	if i < 0 {
		return s
	}
	for i >= 0 {
		s = s[:i] + s[i+len(tag):]
		i = strings.Index(strings.ToLower(s), strings.ToLower(tag))
	}
	s = oneLine(s)
	for {
		t := replyPrefix.ReplaceAllString(s, "")
		t = ownMarker.ReplaceAllString(t, "")
		t = strings.TrimLeft(t, " –—-:")
		if t == s {
			return s
		}
		s = t
	}
}

// tidy normalises a rendered body: "\n" line ends, no control characters
// but tab, no trailing blanks, at most one empty line in a row, no empty
// lines at the start and end, one final line end.
func tidy(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var out []string
	blank := false
	for _, l := range strings.Split(text, "\n") {
		l = strings.Map(func(r rune) rune {
			if r != '\t' && (unicode.IsControl(r) || isBidiControl(r)) {
				return -1
			}
			return r
		}, l)
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if l == "" {
			blank = len(out) > 0
			continue
		}
		if blank {
			out = append(out, "")
			blank = false
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n") + "\n"
}
