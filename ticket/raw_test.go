package ticket

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
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

// Storing a mail lends itself a copy buffer instead of allocating io.Copy's 32 KB for
// every mail (issue 12: about 15 % of what the drain allocated). The reader hides any
// WriterTo, as the IMAP literal does.
func TestStoreRawReusesItsCopyBuffer(t *testing.T) {
	s := newTestStore(t)
	const rounds, n = 3, 20
	mails := make([]io.Reader, rounds*n+1) // made before the count starts
	for i := range mails {
		mail := fmt.Sprintf("From: a@example.org\r\nSubject: Antrag %d\r\n\r\n%s\r\n", i, strings.Repeat("Hallo ", 300))
		mails[i] = struct{ io.Reader }{strings.NewReader(mail)}
	}
	store := func(i int) {
		if _, _, err := s.StoreRawUnsynced(mails[i], 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	store(0) // the first call makes the buffer
	// The process's allocations are counted: the least of a few rounds leaves out
	// what another goroutine (a timer of an earlier test) may allocate meanwhile.
	perMail := uint64(1 << 62)
	for r := range rounds {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 1; i <= n; i++ {
			store(r*n + i)
		}
		runtime.ReadMemStats(&after)
		perMail = min(perMail, (after.TotalAlloc-before.TotalAlloc)/n)
	}
	t.Logf("%d bytes allocated per stored mail", perMail)
	// The rest of a store (names, the hash, the file) is about 2 KB; a buffer of its
	// own per call is 32 KB more.
	if perMail >= rawCopyBuffer/2 {
		t.Errorf("storing a mail allocated %d bytes, want under %d (no copy buffer of its own)", perMail, rawCopyBuffer/2)
	}
}

// Mails stored at the same moment (one watcher per mailbox) each get a buffer of their
// own: every file holds exactly its mail.
func TestStoreRawConcurrentCopies(t *testing.T) {
	s := newTestStore(t)
	const n = 3 * spareCopyBuffers
	sums := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Large enough to take several buffer fills.
			mail := fmt.Sprintf("Subject: %d\r\n\r\n%s", i, strings.Repeat(fmt.Sprintf("Zeile %d ", i), 20000))
			sum, _, err := s.StoreRawUnsynced(struct{ io.Reader }{strings.NewReader(mail)}, 0)
			if err != nil {
				t.Error(err)
				return
			}
			if want := sha256.Sum256([]byte(mail)); sum != hex.EncodeToString(want[:]) {
				t.Errorf("mail %d stored under %s, want its hash", i, sum)
			}
			sums[i] = sum
		})
	}
	wg.Wait()
	for i, sum := range sums {
		if sum == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.rawDir, sum[:2], sum))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("the file of mail %d does not hold the mail it was stored for", i)
		}
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

// TestOpenRemovesStaleTemp: a temp file a crash left, in raw/tmp/ or where a version
// before raw/tmp/ wrote them, is removed by the next Open; nothing else is.
func TestOpenRemovesStaleTemp(t *testing.T) {
	for _, name := range []string{"raw/tmp/tmp-123", "raw/tmp-123"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, dir)
			sum, _, err := s.StoreRaw(strings.NewReader("From: a@example.org\r\n\r\nHallo\r\n"), 0)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			stale := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.WriteFile(stale, []byte("half a mail"), 0o600); err != nil {
				t.Fatal(err)
			}
			s = openTestStore(t, dir)
			defer s.Close()
			if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("stale temp file still there: %v", err)
			}
			if stored, temp := rawFiles(t, s); len(stored) != 1 || filepath.Base(stored[0]) != sum || len(temp) != 0 {
				t.Errorf("raw files after Open: stored %q, temp %q; want only %s", stored, temp, sum)
			}
		})
	}
}

// writeWatcher is a mail whose first Read lists raw/tmp/ before it gives the content:
// what StoreRaw is writing at that moment.
type writeWatcher struct {
	dir     string
	mail    *strings.Reader
	writing []string
	listed  bool
}

func (w *writeWatcher) Read(p []byte) (int, error) {
	if !w.listed {
		w.listed = true
		entries, err := os.ReadDir(w.dir)
		if err != nil {
			return 0, err
		}
		for _, e := range entries {
			w.writing = append(w.writing, e.Name())
		}
	}
	return w.mail.Read(p)
}

// TestStoreRawWritesInRawTemp: a raw mail is written in raw/tmp/ (where asTopDir
// gives it a block group of its own) and renamed to raw/<xx>/<sum>; raw/tmp/ is left empty.
func TestStoreRawWritesInRawTemp(t *testing.T) {
	s := newTestStore(t)
	w := &writeWatcher{dir: filepath.Join(s.rawDir, rawTempDir), mail: strings.NewReader("From: a@example.org\r\n\r\nHallo\r\n")}
	sum, _, err := s.StoreRaw(w, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.writing) != 1 || !strings.HasPrefix(w.writing[0], tmpPrefix) {
		t.Errorf("raw/tmp/ while the mail was written: %q, want one %s file", w.writing, tmpPattern)
	}
	if left, err := os.ReadDir(w.dir); err != nil || len(left) != 0 {
		t.Errorf("raw/tmp/ after StoreRaw: %v, %v; want it empty", left, err)
	}
	if _, err := os.Stat(filepath.Join(s.rawDir, sum[:2], sum)); err != nil {
		t.Errorf("stored mail: %v", err)
	}
}

// TestSyncRawDirectories: where SyncRaw fsyncs path by path (elsewhere than on Linux
// 5.8 or later), it makes each file, its raw/<xx> directory and, for a directory this
// process created, raw/ itself durable — raw/ only once per new directory. The first
// SyncRaw also covers what an earlier process may have left.
func TestSyncRawDirectories(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	s.syncFS = nil // path by path, as without syncfs
	var synced []string
	var mu sync.Mutex
	s.syncPath = func(path string) error {
		mu.Lock()
		defer mu.Unlock()
		rel, _ := filepath.Rel(dir, path)
		synced = append(synced, rel)
		return fsyncPath(path)
	}
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := slices.Sorted(slices.Values(synced))
		synced = nil
		return out
	}
	// Three mails: a, and b and c sharing a directory of their own.
	sumOf := func(m string) string { h := sha256.Sum256([]byte(m)); return hex.EncodeToString(h[:]) }
	a, b, c := "Antrag 0", "", ""
	for i := 1; c == ""; i++ {
		m := fmt.Sprintf("Antrag %d", i)
		switch dir := sumOf(m)[:2]; {
		case dir == sumOf(a)[:2]:
		case b == "":
			b = m
		case dir == sumOf(b)[:2]:
			c = m
		}
	}
	store := func(m string) string {
		sum, _, err := s.StoreRawUnsynced(strings.NewReader(m), 0)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	sa, sb := store(a), store(b)
	if err := s.SyncRaw(sa, sb); err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values([]string{"raw", "raw/" + sa[:2], "raw/" + sa[:2] + "/" + sa, "raw/" + sb[:2], "raw/" + sb[:2] + "/" + sb}))
	if got := take(); !slices.Equal(got, want) {
		t.Errorf("first SyncRaw synced %q, want %q", got, want)
	}
	// c goes into b's directory, which exists and whose entry in raw/ is durable.
	sc := store(c)
	if err := s.SyncRaw(sc); err != nil {
		t.Fatal(err)
	}
	want = []string{"raw/" + sc[:2], "raw/" + sc[:2] + "/" + sc}
	if got := take(); !slices.Equal(got, want) {
		t.Errorf("SyncRaw into an existing directory synced %q, want %q", got, want)
	}
	if sc[:2] != sb[:2] {
		t.Fatalf("the test's mails do not share a directory: %s, %s", sb, sc)
	}
}

// TestStoreRawNames: a raw mail gets its content-addressed name with one renameat2(2)
// where the file system has it, and with a stat(2) and rename(2) where it does not; either
// way an identical file is kept, a shorter one (what a power loss left of an unsynced
// write) is replaced, and a raw/<xx> directory removed behind intake's back is made again.
func TestStoreRawNames(t *testing.T) {
	for _, tt := range []struct {
		name      string
		noReplace bool // the file system has RENAME_NOREPLACE
	}{
		{"renameat2", true},
		{"stat and rename", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			renames := 0
			native := s.renameRaw
			s.renameRaw = func(oldpath, newpath string) error {
				renames++
				if !tt.noReplace {
					return errNoReplace
				}
				return native(oldpath, newpath)
			}
			mail := "From: a@example.org\r\nSubject: Antrag\r\n\r\nHallo\r\n"
			store := func() string {
				t.Helper()
				sum, _, err := s.StoreRawUnsynced(strings.NewReader(mail), 0)
				if err != nil {
					t.Fatal(err)
				}
				return sum
			}
			content := func(path string) string {
				t.Helper()
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			sum := store()
			final := filepath.Join(s.rawDir, sum[:2], sum)
			if got := content(final); got != mail {
				t.Fatalf("stored %q", got)
			}
			before, err := os.Stat(final)
			if err != nil {
				t.Fatal(err)
			}

			// The same mail again: the file there is kept, the new copy removed.
			store()
			after, err := os.Stat(final)
			if err != nil {
				t.Fatal(err)
			}
			if !os.SameFile(before, after) {
				t.Error("an identical raw file was replaced")
			}

			// A torn file from before a power loss is replaced.
			if err := os.WriteFile(final, []byte(mail[:10]), 0o600); err != nil {
				t.Fatal(err)
			}
			store()
			if got := content(final); got != mail {
				t.Errorf("a torn raw file was kept: %q", got)
			}

			// raw/<xx> removed: made again.
			if err := os.RemoveAll(filepath.Dir(final)); err != nil {
				t.Fatal(err)
			}
			store()
			if got := content(final); got != mail {
				t.Errorf("after raw/%s was removed: %q", sum[:2], got)
			}
			if stored, temp := rawFiles(t, s); len(stored) != 1 || len(temp) != 0 {
				t.Errorf("files stored %v, temp %v", stored, temp)
			}
			if renames < 4 {
				t.Errorf("%d renames through renameRaw for four stores", renames)
			}
		})
	}
}

// TestStoreRawMakesADirectoryOnce: raw/<xx> is made, or found, once per Store; later
// mails into it make no mkdir(2). Only a directory the Store made itself waits for
// SyncRaw to make its entry durable (TestSyncRawDirectories syncs it).
func TestStoreRawMakesADirectoryOnce(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	sum, _, err := s.StoreRawUnsynced(strings.NewReader("Antrag 1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	xx := filepath.Join(s.rawDir, sum[:2])
	if !s.rawDirMade[hexByte(t, sum)].Load() || !s.newRawDirs[xx] {
		t.Errorf("raw/%s made: remembered %v, waits for its sync %v", sum[:2], s.rawDirMade[hexByte(t, sum)].Load(), s.newRawDirs[xx])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Opened again: the directory is found, not made, and nothing waits for a sync.
	s, err = Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.rawDirMade[hexByte(t, sum)].Load() {
		t.Fatal("a new Store remembers a directory before it looked")
	}
	if _, _, err := s.StoreRawUnsynced(strings.NewReader("Antrag 2 "+sum), 0); err != nil {
		t.Fatal(err)
	}
	other, _, err := s.StoreRawUnsynced(strings.NewReader("Antrag 1"), 0)
	if err != nil || other != sum {
		t.Fatalf("stored again: %s, %v", other, err)
	}
	if !s.rawDirMade[hexByte(t, sum)].Load() || s.newRawDirs[xx] {
		t.Errorf("raw/%s found: remembered %v, waits for a sync %v", sum[:2], s.rawDirMade[hexByte(t, sum)].Load(), s.newRawDirs[xx])
	}
}

func hexByte(t *testing.T, sum string) byte {
	t.Helper()
	b, err := hex.DecodeString(sum[:2])
	if err != nil {
		t.Fatal(err)
	}
	return b[0]
}
