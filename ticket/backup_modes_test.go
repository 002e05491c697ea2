//go:build unix

package ticket

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// treeModes walks root and returns the permission bits of every entry by its
// path relative to root ("." is root itself).
func treeModes(t *testing.T, root string) map[string]os.FileMode {
	t.Helper()
	out := map[string]os.FileMode{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out[rel] = fi.Mode()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestoreWritesLiveModes restores a backup and checks that every file
// and directory has the mode the live store gives it: raw mails and the
// database 0600, directories 0700 — only the daemon's user reads a
// citizen's mail. The umask is 0 for the test, so that a wrong mode in the
// code is not hidden by a strict umask of the test process.
func TestRestoreWritesLiveModes(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })

	live := filepath.Join(t.TempDir(), "live")
	s := openTestStore(t, live)
	for uid := uint32(1); uid <= 5; uid++ {
		registerWithRaw(t, s, uid)
	}
	archive, _ := backupOf(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	liveModes := treeModes(t, live)

	check := func(t *testing.T, root string, skipRoot bool) {
		t.Helper()
		got := treeModes(t, root)
		if len(got) != len(liveModes) {
			t.Errorf("restored tree has %d entries, the live one %d:\n%v\n%v", len(got), len(liveModes), got, liveModes)
		}
		for rel, mode := range got {
			if rel == "." && skipRoot {
				continue
			}
			want := os.FileMode(0o600)
			if mode.IsDir() {
				want = os.ModeDir | 0o700
			}
			if mode != want {
				t.Errorf("restored %s: mode %v, want %v", rel, mode, want)
			}
			if lm, ok := liveModes[rel]; !ok {
				t.Errorf("restored %s: not in the live store", rel)
			} else if lm != want {
				t.Errorf("live store %s: mode %v, want %v", rel, lm, want)
			}
		}
	}

	t.Run("new directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "restored")
		if _, err := Restore(bytes.NewReader(archive), dir); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		check(t, dir, false)
	})
	t.Run("existing empty directory keeps its own mode", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if _, err := Restore(bytes.NewReader(archive), dir); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		check(t, dir, true)
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o750 {
			t.Errorf("the admin's directory: %v, %v; want it left at 0750", fi.Mode(), err)
		}
	})
}
