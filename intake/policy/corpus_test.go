package policy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/internal/corpus"
)

// readLabels reads labels.tsv; without a corpus the test fails in CI and is skipped elsewhere.
func readLabels(t testing.TB) (string, []corpus.Entry) {
	t.Helper()
	dir, entries, ok := corpus.Labels(t)
	if !ok {
		t.Skip("mail corpus not found (set INTAKE_CORPUS)")
	}
	return dir, entries
}

// corpusSettings is the permissive policy of corpus/README.md: no addressing requirement,
// subject heuristics on.
func corpusSettings() Settings {
	return Settings{
		OfficeAddresses:   []string{"office@example.test"},
		OwnDomains:        []string{"example.test"},
		LoopHeader:        "X-Intake-Loop",
		LoopID:            "test",
		SubjectHeuristics: true,
	}
}

// parseTimed parses and decides one mail in a goroutine and gives up after limit, so that a
// hang is reported as a failure instead of stalling the test binary.
func parseTimed(raw []byte, s Settings, limit time.Duration) (*mailparse.Message, Decision, time.Duration, error) {
	type result struct {
		m   *mailparse.Message
		d   Decision
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.err = fmt.Errorf("panic: %v", p)
			}
			done <- r
		}()
		m, err := mailparse.Parse(bytes.NewReader(raw), mailparse.Limits{})
		r.m = m
		if err != nil && !errors.Is(err, mailparse.ErrNoHeader) {
			r.err = err
		}
		r.d = Decide(m, s)
	}()
	select {
	case r := <-done:
		return r.m, r.d, time.Since(start), r.err
	case <-time.After(limit):
		return nil, Decision{}, limit, fmt.Errorf("no result within %v", limit)
	}
}

func TestCorpus(t *testing.T) {
	dir, labels := readLabels(t)
	s := corpusSettings()
	const limit = 2 * time.Second
	perClass := map[string]*tally{}
	perExpect := map[string]*tally{}
	reasons := map[Reason]int{}
	var failures []string
	var slowest time.Duration
	var slowestFile string
	for _, l := range labels {
		raw, err := os.ReadFile(filepath.Join(dir, l.Path))
		if err != nil {
			t.Errorf("read %s: %v", l.Path, err)
			continue
		}
		_, d, took, err := parseTimed(raw, s, limit)
		if took > slowest {
			slowest, slowestFile = took, l.Path
		}
		for _, c := range []*tally{get(perClass, l.Class), get(perExpect, l.Expect)} {
			c.files++
		}
		ok := true
		switch {
		case err != nil:
			ok = false
			failures = append(failures, fmt.Sprintf("%s (%s): %v", l.Path, l.Expect, err))
		case l.Expect == "no-ack" && d.Ack:
			ok = false
			failures = append(failures, fmt.Sprintf("%s: want no-ack, got ack to a %s recipient (class %s)", l.Path, domainOf(d.Recipient), l.Class))
		case l.Expect == "ack" && !d.Ack:
			ok = false
			failures = append(failures, fmt.Sprintf("%s: want ack, got %s by %s (%s) (class %s)", l.Path, d.Reason, d.Rule, d.Detail, l.Class))
		case l.Expect != "no-ack" && l.Expect != "ack" && l.Expect != "register":
			ok = false
			failures = append(failures, fmt.Sprintf("%s: unknown label %q", l.Path, l.Expect))
		}
		if err == nil && d.Ack && (d.Recipient == "" || !strings.Contains(d.Recipient, "@")) {
			ok = false
			failures = append(failures, fmt.Sprintf("%s: ack without a usable recipient", l.Path))
		}
		if !d.Ack {
			reasons[d.Reason]++
		}
		if ok {
			get(perClass, l.Class).ok++
			get(perExpect, l.Expect).ok++
		}
	}
	for _, k := range sortedKeys(perExpect) {
		t.Logf("expect %-8s %4d files, %4d as expected", k, perExpect[k].files, perExpect[k].ok)
	}
	for _, k := range sortedKeys(perClass) {
		t.Logf("class  %-20s %4d files, %4d as expected", k, perClass[k].files, perClass[k].ok)
	}
	for _, k := range sortedKeys(reasons) {
		t.Logf("reason %-18s %4d", k, reasons[k])
	}
	t.Logf("slowest file: %v (%s)", slowest, slowestFile)
	if len(failures) > 0 {
		t.Errorf("%d of %d corpus files misdecided:\n%s", len(failures), len(labels), strings.Join(failures, "\n"))
	}
}

type tally struct{ files, ok int }

func get(m map[string]*tally, k string) *tally {
	if m[k] == nil {
		m[k] = &tally{}
	}
	return m[k]
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "?"
}
