package mailparse

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// corpusDir finds the shared mail corpus: $INTAKE_CORPUS, else <repo root>/../shared/corpus,
// the repo root being the first ancestor of the working directory holding go.mod.
func corpusDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("INTAKE_CORPUS"); dir != "" {
		return dir
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("find corpus: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "corpus")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// corpusFiles returns the contents of every file listed in the corpus labels.tsv. Without a
// corpus it fails when the CI variable is set and returns nothing otherwise.
func corpusFiles(t testing.TB) [][]byte {
	t.Helper()
	dir := corpusDir(t)
	f, err := os.Open(filepath.Join(dir, "labels.tsv"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mail corpus required in CI (set INTAKE_CORPUS): %v", err)
		}
		t.Logf("mail corpus not found, seeding without it: %v", err)
		return nil
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		path, _, _ := strings.Cut(sc.Text(), "\t")
		if path == "" || path == "path" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Fatalf("read corpus file: %v", err)
		}
		out = append(out, b)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read labels.tsv: %v", err)
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
		start := time.Now()
		m, err := Parse(bytes.NewReader(raw), lim)
		if took := time.Since(start); took > timeBound {
			t.Errorf("Parse of %d bytes took %v", len(raw), took)
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
