package policy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intake-office/intake/intake/mailparse"
)

// fuzzSeeds returns the corpus files (when present; required in CI) and the fixtures.
func fuzzSeeds(t testing.TB) [][]byte {
	t.Helper()
	var seeds [][]byte
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures in testdata: %v", err)
	}
	dir := corpusDir(t)
	paths := fixtures
	if raw, err := os.ReadFile(filepath.Join(dir, "labels.tsv")); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			p, _, _ := strings.Cut(line, "\t")
			if p != "" && p != "path" {
				paths = append(paths, filepath.Join(dir, p))
			}
		}
	} else if os.Getenv("CI") != "" {
		t.Fatalf("mail corpus required in CI (set INTAKE_CORPUS): %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read seed: %v", err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

func FuzzDecide(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte("Return-Path: <a@example.org>\r\nFrom: a@example.org\r\n\r\n"))
	f.Add([]byte("From: a@example.org\r\nTo: " + office + "\r\n\r\n"))
	f.Add([]byte("Return-Path: <a@example.org>\r\nReturn-Path: <A@EXAMPLE.ORG>\r\nAuto-Submitted: no\r\n\r\n"))

	strict := testSettings()
	strict.RequireAddressed = true
	loose := Settings{OfficeAddresses: []string{"office@example.test"}, SubjectHeuristics: false}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, _ := mailparse.Parse(bytes.NewReader(raw), mailparse.Limits{MaxTextBytes: 1024, MaxParts: 100})
		for _, s := range []Settings{strict, loose} {
			d := Decide(m, s)
			if d != Decide(m, s) {
				t.Fatal("Decide is not deterministic")
			}
			if d.Ack {
				if d.Recipient == "" || !strings.Contains(d.Recipient, "@") || !ValidAddrSpec(d.Recipient) {
					t.Fatalf("ack to unusable recipient %q", d.Recipient)
				}
				if d.Reason != "" || d.Rule != "" {
					t.Fatalf("ack with reason %q rule %q", d.Reason, d.Rule)
				}
				for _, o := range s.OfficeAddresses {
					if strings.EqualFold(d.Recipient, o) {
						t.Fatalf("ack to our own address %q", d.Recipient)
					}
				}
				if m.Has("Auto-Submitted") && keyword(m.Get("Auto-Submitted")) != "no" && keyword(m.Get("Auto-Submitted")) != "" {
					t.Fatalf("ack to an Auto-Submitted mail")
				}
			} else {
				if d.Reason == "" || d.Rule == "" || d.Detail == "" {
					t.Fatalf("no-ack without reason, rule or detail: %+v", d)
				}
				if de, en := Explain(d.Reason); de == "" || en == "" {
					t.Fatalf("no explanation for %q", d.Reason)
				}
			}
		}
	})
}
