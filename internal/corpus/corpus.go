package corpus

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Entry is one line of labels.tsv.
type Entry struct {
	Path   string // relative to the corpus directory
	Expect string // "ack", "no-ack" or "register"
	Class  string // e.g. "bounce/DSN", "human", "malformed"
}

// Dir is $INTAKE_CORPUS, else <repo root>/../shared/corpus, the repo root
// being the first ancestor of the working directory that holds go.mod; ""
// when there is none.
func Dir() string {
	if dir := os.Getenv("INTAKE_CORPUS"); dir != "" {
		return dir
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
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

// Labels reads labels.tsv. Without a corpus it fails the test when the CI
// variable is set, and otherwise returns ok == false.
func Labels(t testing.TB) (dir string, entries []Entry, ok bool) {
	t.Helper()
	dir = Dir()
	f, err := os.Open(filepath.Join(dir, "labels.tsv"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mail corpus required in CI (set INTAKE_CORPUS): %v", err)
		}
		return dir, nil, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		cols := strings.Split(sc.Text(), "\t")
		if first && cols[0] == "path" {
			continue
		}
		if len(cols) < 3 || cols[0] == "" {
			continue
		}
		entries = append(entries, Entry{Path: cols[0], Expect: cols[1], Class: cols[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read labels.tsv: %v", err)
	}
	if len(entries) == 0 {
		t.Fatalf("labels.tsv in %s lists no files", dir)
	}
	return dir, entries, true
}
