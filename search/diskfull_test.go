package search

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory (root only).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("INTAKE_REQUIRE_REAL_SERVERS") != "" {
			t.Fatal("mounting a tmpfs needs root")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// A disk that fills while the index takes documents (issue 9, finding 7): errors, never a
// panic ("assignment to entry in nil map" took the daemon down).
func TestIndexDiskFull(t *testing.T) {
	dir := mountTmpfs(t, 16<<20)
	ix, err := Open(filepath.Join(dir, "index"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	filler.Close()
	body := strings.Repeat("Bauantrag Garage Grundstück Nachbar ", 100)
	doc := func(seq uint64) Doc {
		return Doc{Seq: seq, Reference: fmt.Sprintf("STK-2026-%06d-0", seq), Mailbox: "post", Kind: "citizen",
			Status: "new", From: "a@example.org", Subject: fmt.Sprintf("Antrag %d", seq), Body: body, Received: time.Now()}
	}
	// Add as the daemon's indexer does: from LastSeq on, in batches.
	const total = 200
	addFromLast := func() error {
		var docs []Doc
		for seq := ix.LastSeq() + 1; seq <= total && len(docs) < 20; seq++ {
			docs = append(docs, doc(seq))
		}
		return ix.Add(docs...)
	}
	failures := 0
	for range 10 {
		err := addFromLast()
		if errors.Is(err, ErrCorrupt) {
			t.Fatalf("the index broke on a full disk: %v", err)
		}
		if err != nil {
			failures++
		}
	}
	if failures == 0 {
		t.Fatal("no write failed: the disk was not full")
	}
	// Space again: indexing resumes where the persisted index ends, and every document is
	// found.
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	for ix.LastSeq() < total {
		if err := addFromLast(); err != nil {
			t.Fatalf("add after space was freed: %v", err)
		}
	}
	if n, err := ix.Count(); err != nil || n != total {
		t.Errorf("Count = %d, %v; want %d", n, err, total)
	}
}
