package ticket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The two journals of the register (ackjournal.go, auditjournal.go) are folders of files
// of JSON lines, each line written with one write(2) and no fsync: the kernel keeps it
// across a kill -9 of the daemon, and the register takes the lines over in one commit.

// journalName names the n-th journal file of a process: by time, then n, so that a
// sort of the names is the order they were written in.
func journalName(n uint64) string {
	return fmt.Sprintf("%020d-%06d.jsonl", time.Now().UnixNano(), n%1_000_000)
}

// openJournal creates a journal file (and its folder).
func openJournal(path string) (*os.File, error) {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL | os.O_APPEND
	f, err := os.OpenFile(path, flags, storeFileMode)
	if errors.Is(err, fs.ErrNotExist) {
		if err = mkdirStore(filepath.Dir(path)); err == nil {
			f, err = os.OpenFile(path, flags, storeFileMode)
		}
	}
	return f, err
}

// listJournals returns the names of the journal files in dir, oldest first; none when dir
// does not exist.
func listJournals(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && filepath.Ext(e.Name()) == ".jsonl" {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// readJournal reads the complete lines of the journal file path. Bytes after the last
// newline are the line a crash cut short and are dropped; a damaged line elsewhere is an
// error that names the file, the line and what moving the file aside costs (lost).
func readJournal[T any](path, lost string) ([]T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	var out []T
	for n, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, fmt.Errorf("journal %s line %d: %w (move the file aside to start; %s)", path, n+1, err, lost)
		}
		out = append(out, v)
	}
	return out, nil
}
