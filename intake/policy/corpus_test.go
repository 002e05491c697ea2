package policy

import (
	"bufio"
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
)

// corpusDir finds the shared mail corpus: $INTAKE_CORPUS, else <repo root>/../shared/corpus,
// the repo root being the first ancestor of the working directory holding go.mod. It returns
// "" when there is none.
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

type labelled struct{ path, expect, class string }

// readLabels reads labels.tsv; without a corpus the test fails in CI and is skipped elsewhere.
func readLabels(t testing.TB) (string, []labelled) {
	t.Helper()
	dir := corpusDir(t)
	f, err := os.Open(filepath.Join(dir, "labels.tsv"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mail corpus required in CI (set INTAKE_CORPUS): %v", err)
		}
		t.Skipf("mail corpus not found (set INTAKE_CORPUS): %v", err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		cols := strings.Split(sc.Text(), "\t")
		if first && len(cols) > 0 && cols[0] == "path" {
			continue
		}
		if len(cols) < 3 || cols[0] == "" {
			continue
		}
		out = append(out, labelled{cols[0], cols[1], cols[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read labels.tsv: %v", err)
	}
	if len(out) == 0 {
		t.Fatalf("labels.tsv in %s lists no files", dir)
	}
	return dir, out
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
		raw, err := os.ReadFile(filepath.Join(dir, l.path))
		if err != nil {
			t.Errorf("read %s: %v", l.path, err)
			continue
		}
		_, d, took, err := parseTimed(raw, s, limit)
		if took > slowest {
			slowest, slowestFile = took, l.path
		}
		for _, c := range []*tally{get(perClass, l.class), get(perExpect, l.expect)} {
			c.files++
		}
		ok := true
		switch {
		case err != nil:
			ok = false
			failures = append(failures, fmt.Sprintf("%s (%s): %v", l.path, l.expect, err))
		case l.expect == "no-ack" && d.Ack:
			ok = false
			failures = append(failures, fmt.Sprintf("%s: want no-ack, got ack to a %s recipient (class %s)", l.path, domainOf(d.Recipient), l.class))
		case l.expect == "ack" && !d.Ack:
			ok = false
			failures = append(failures, fmt.Sprintf("%s: want ack, got %s by %s (%s) (class %s)", l.path, d.Reason, d.Rule, d.Detail, l.class))
		case l.expect != "no-ack" && l.expect != "ack" && l.expect != "register":
			ok = false
			failures = append(failures, fmt.Sprintf("%s: unknown label %q", l.path, l.expect))
		}
		if err == nil && d.Ack && (d.Recipient == "" || !strings.Contains(d.Recipient, "@")) {
			ok = false
			failures = append(failures, fmt.Sprintf("%s: ack without a usable recipient", l.path))
		}
		if !d.Ack {
			reasons[d.Reason]++
		}
		if ok {
			get(perClass, l.class).ok++
			get(perExpect, l.expect).ok++
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
