package ticket

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func rawFiles(t *testing.T, s *Store) (stored, temp []string) {
	t.Helper()
	err := filepath.WalkDir(s.rawDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(d.Name(), "tmp-") {
			temp = append(temp, path)
		} else {
			stored = append(stored, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return stored, temp
}

func TestStoreRaw(t *testing.T) {
	s := newTestStore(t)
	mail := "From: a@example.org\r\nSubject: Antrag\r\n\r\nHallo\r\n"
	want := sha256.Sum256([]byte(mail))
	sum, size, err := s.StoreRaw(strings.NewReader(mail), 0)
	if err != nil {
		t.Fatal(err)
	}
	if sum != hex.EncodeToString(want[:]) || size != int64(len(mail)) {
		t.Errorf("StoreRaw = %s, %d", sum, size)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "raw", sum[:2], sum)); err != nil {
		t.Errorf("raw file: %v", err)
	}
	// Identical content: same sum, still one file, no temp files left.
	sum2, size2, err := s.StoreRaw(strings.NewReader(mail), int64(len(mail)))
	if err != nil || sum2 != sum || size2 != size {
		t.Errorf("second StoreRaw = %s, %d, %v", sum2, size2, err)
	}
	if stored, temp := rawFiles(t, s); len(stored) != 1 || len(temp) != 0 {
		t.Errorf("files stored %v, temp %v", stored, temp)
	}
	f, err := s.OpenRaw(sum)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != mail {
		t.Errorf("OpenRaw read %q", got)
	}
}

func TestStoreRawTooLarge(t *testing.T) {
	s := newTestStore(t)
	mail := strings.Repeat("x", 1000)
	if _, _, err := s.StoreRaw(strings.NewReader(mail), 999); !errors.Is(err, ErrTooLarge) {
		t.Errorf("StoreRaw of 1000 bytes with max 999: %v, want ErrTooLarge", err)
	}
	if stored, temp := rawFiles(t, s); len(stored) != 0 || len(temp) != 0 {
		t.Errorf("files left: stored %v, temp %v", stored, temp)
	}
	if _, size, err := s.StoreRaw(strings.NewReader(mail), 1000); err != nil || size != 1000 {
		t.Errorf("StoreRaw of exactly max: %d, %v", size, err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestStoreRawReadError(t *testing.T) {
	s := newTestStore(t)
	if _, _, err := s.StoreRaw(io.MultiReader(strings.NewReader("abc"), failingReader{}), 0); err == nil {
		t.Error("StoreRaw of a failing reader succeeded")
	}
	if stored, temp := rawFiles(t, s); len(stored) != 0 || len(temp) != 0 {
		t.Errorf("files left: stored %v, temp %v", stored, temp)
	}
}

func TestOpenRawNotFound(t *testing.T) {
	s := newTestStore(t)
	for _, sum := range []string{
		strings.Repeat("a", 64),
		"../intake.db",
		strings.Repeat("A", 64),
		"",
	} {
		if f, err := s.OpenRaw(sum); !errors.Is(err, ErrNotFound) {
			if f != nil {
				f.Close()
			}
			t.Errorf("OpenRaw(%q): %v, want ErrNotFound", sum, err)
		}
	}
}

func TestOpenRemovesStaleTemp(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	s.Close()
	stale := filepath.Join(dir, "raw", "tmp-123")
	if err := os.WriteFile(stale, []byte("half a mail"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temp file still there: %v", err)
	}
}
