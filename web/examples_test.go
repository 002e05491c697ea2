package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/intake-office/intake/ticket"
)

// referenceShaped finds PREFIX-YYYY-NNNNNN-C in any case: every example a citizen, clerk
// or admin reads.
var referenceShaped = regexp.MustCompile(`(?i)\b[A-Z][A-Z0-9]{0,9}-\d{4}-\d{6,}-\d\b`)

// badReferences returns the reference-shaped strings of text whose check digit is wrong.
func badReferences(text string) []string {
	var bad []string
	for _, m := range referenceShaped.FindAllString(text, -1) {
		if _, err := ticket.ParseReference(m); err != nil {
			bad = append(bad, m)
		}
	}
	return bad
}

// TestExampleReferencesValid scans what people read — README, docs/, the config example,
// the acknowledgement templates (and their golden outputs), the web templates and texts,
// the CLI — for reference-shaped examples and fails on any with a wrong check digit
// (issue 11 item 8): a clerk who copies an example must not learn a number that intake
// rejects.
func TestExampleReferencesValid(t *testing.T) {
	if got := badReferences("z. B. STK-2026-000042-7 oder stk-2026-000042-6"); len(got) != 1 || got[0] != "STK-2026-000042-7" {
		t.Fatalf("the scanner finds %q, want the one wrong example", got)
	}
	var files []string
	for _, root := range []string{"../README.md", "../docs", "../config/example.toml", "../templates", "templates", "render.go", "../cmd/intake"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || strings.HasSuffix(p, "_test.go") || strings.HasSuffix(p, ".png") {
				return nil
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
	}
	found := 0
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		found += len(referenceShaped.FindAllIndex(b, -1))
		for _, ref := range badReferences(string(b)) {
			t.Errorf("%s: %s has a wrong check digit", p, ref)
		}
	}
	if found == 0 {
		t.Fatal("no reference-shaped example found: the scan looks in the wrong place")
	}
	t.Logf("%d files, %d reference-shaped examples", len(files), found)
}
