package ticket

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// registerWithRaw stores a distinct raw mail and registers it.
func registerWithRaw(t testing.TB, s *Store, uid uint32) Registration {
	t.Helper()
	mail := fmt.Sprintf("From: a@example.org\r\nMessage-ID: <m%d@example.org>\r\nSubject: Antrag %d\r\n\r\nText %d\r\n", uid, uid, uid)
	sum, size, err := s.StoreRaw(strings.NewReader(mail), 0)
	if err != nil {
		t.Fatalf("StoreRaw: %v", err)
	}
	in := incoming(uid, fmt.Sprintf("m%d@example.org", uid), t0.Add(time.Duration(uid)*time.Minute))
	in.Message.RawSHA256, in.Message.Size = sum, size
	return mustRegister(t, s, in)
}

func backupOf(t *testing.T, s *Store) ([]byte, BackupInfo) {
	t.Helper()
	var buf bytes.Buffer
	info, err := s.Backup(&buf)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	return buf.Bytes(), info
}

// checkRestoredRegister opens a restored register and checks that it is
// complete: every case with all its messages, every raw mail present and
// hashing to its name, counts as in the manifest.
func checkRestoredRegister(t *testing.T, dir string, info BackupInfo) *Store {
	t.Helper()
	s := openTestStore(t, dir)
	t.Cleanup(func() { s.Close() })
	cases, err := s.List(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != info.Cases {
		t.Errorf("restored %d cases, manifest says %d", len(cases), info.Cases)
	}
	messages := 0
	raws := map[string]bool{}
	for _, c := range cases {
		full := mustLookup(t, s, c.Reference)
		if len(full.Messages) == 0 {
			t.Errorf("case %s has no messages", c.Reference)
		}
		for _, m := range full.Messages {
			messages++
			if m.RawSHA256 == "" {
				t.Errorf("case %s seq %d: no raw sum", c.Reference, m.Seq)
				continue
			}
			raws[m.RawSHA256] = true
			f, err := s.OpenRaw(m.RawSHA256)
			if err != nil {
				t.Errorf("case %s seq %d: %v", c.Reference, m.Seq, err)
				continue
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil || hex.EncodeToString(h.Sum(nil)) != m.RawSHA256 {
				t.Errorf("case %s seq %d: raw file does not hash to its name (%v)", c.Reference, m.Seq, err)
			}
		}
	}
	if messages != info.Messages || len(raws) != info.RawFiles {
		t.Errorf("restored %d messages, %d raw files; manifest says %d, %d", messages, len(raws), info.Messages, info.RawFiles)
	}
	if n, err := s.CountMessages(); err != nil || n != info.Messages {
		t.Errorf("CountMessages = %d, %v; manifest says %d", n, err, info.Messages)
	}
	return s
}

func TestBackupRestore(t *testing.T) {
	s := newTestStore(t)
	const n = 25
	for uid := uint32(1); uid <= n; uid++ {
		registerWithRaw(t, s, uid)
	}
	// A follow-up on case 1 that names the same raw mail as message 1: one file in the archive.
	first := mustLookup(t, s, Reference{Prefix: "STK", Year: 2026, Number: 1})
	in := incoming(100, "m100@example.org", t0.Add(time.Hour))
	in.FollowUpOf = &first.Reference
	in.Message.RawSHA256 = first.Messages[0].RawSHA256
	mustRegister(t, s, in)

	archive, info := backupOf(t, s)
	if info.Cases != n || info.Messages != n+1 || info.RawFiles != n || info.Schema != SchemaVersion || info.Format != BackupFormat {
		t.Fatalf("BackupInfo = %+v", info)
	}
	if v, err := VerifyBackup(bytes.NewReader(archive)); err != nil || v != info {
		t.Fatalf("VerifyBackup = %+v, %v; want %+v", v, err, info)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	got, err := Restore(bytes.NewReader(archive), dir)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got != info {
		t.Errorf("Restore info = %+v, want %+v", got, info)
	}
	r := checkRestoredRegister(t, dir, info)
	for num := uint64(1); num <= n; num++ {
		ref := Reference{Prefix: "STK", Year: 2026, Number: num}
		if want, have := mustLookup(t, s, ref), mustLookup(t, r, ref); !reflect.DeepEqual(want, have) {
			t.Errorf("case %s differs after restore:\n%+v\n%+v", ref, want, have)
		}
	}
	// Numbering goes on where the original stopped.
	if reg := registerWithRaw(t, r, 500); reg.Reference.Number != n+1 {
		t.Errorf("next reference after restore = %s", reg.Reference)
	}

	t.Run("non-empty directory", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o600)
		if _, err := Restore(bytes.NewReader(archive), dir); err == nil {
			t.Fatal("Restore into a non-empty directory succeeded")
		}
		if _, err := os.Stat(filepath.Join(dir, "keep")); err != nil {
			t.Errorf("existing file touched: %v", err)
		}
	})
}

type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

func readEntries(t *testing.T, archive []byte) []tarEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr, data})
	}
}

func writeEntries(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf) // uncompressed: Restore takes both
	for _, e := range entries {
		e.hdr.Size = int64(len(e.data))
		if err := tw.WriteHeader(e.hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRestoreRefusesBadArchives(t *testing.T) {
	s := newTestStore(t)
	for uid := uint32(1); uid <= 5; uid++ {
		registerWithRaw(t, s, uid)
	}
	archive, _ := backupOf(t, s)
	entries := readEntries(t, archive)
	if len(entries) != 7 || entries[0].hdr.Name != "intake.db" || entries[6].hdr.Name != "MANIFEST.json" {
		t.Fatalf("archive layout: %d entries", len(entries))
	}
	clone := func() []tarEntry {
		out := make([]tarEntry, len(entries))
		for i, e := range entries {
			h := *e.hdr
			out[i] = tarEntry{&h, bytes.Clone(e.data)}
		}
		return out
	}
	outside := filepath.Join(t.TempDir(), "evil")
	tests := []struct {
		name   string
		change func([]tarEntry) []tarEntry
	}{
		{"unchanged (control)", func(e []tarEntry) []tarEntry { return e }},
		{"flipped byte in raw file", func(e []tarEntry) []tarEntry { e[3].data[5] ^= 0x20; return e }},
		{"flipped byte in database", func(e []tarEntry) []tarEntry { e[0].data[5000] ^= 1; return e }},
		{"raw file left out", func(e []tarEntry) []tarEntry { return append(e[:2], e[3:]...) }},
		{"manifest left out", func(e []tarEntry) []tarEntry { return e[:6] }},
		{"path traversal", func(e []tarEntry) []tarEntry {
			h := &tar.Header{Typeflag: tar.TypeReg, Name: "raw/../../evil", Mode: 0o600}
			return append([]tarEntry{{h, []byte("pwned")}}, e...)
		}},
		{"dot-dot entry", func(e []tarEntry) []tarEntry {
			return append(e, tarEntry{&tar.Header{Typeflag: tar.TypeReg, Name: "../evil", Mode: 0o600}, []byte("x")})
		}},
		{"absolute path", func(e []tarEntry) []tarEntry {
			return append(e, tarEntry{&tar.Header{Typeflag: tar.TypeReg, Name: outside, Mode: 0o600}, []byte("x")})
		}},
		{"symlink", func(e []tarEntry) []tarEntry {
			h := &tar.Header{Typeflag: tar.TypeSymlink, Name: "raw/ab/link", Linkname: "/etc/passwd"}
			return append([]tarEntry{{h, nil}}, e...)
		}},
		{"raw stored under a wrong name", func(e []tarEntry) []tarEntry {
			sum := filepath.Base(e[1].hdr.Name)
			e[1].hdr.Name = "raw/00/" + sum
			return e
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := writeEntries(t, tt.change(clone()))
			dir := filepath.Join(t.TempDir(), "restored")
			_, err := Restore(bytes.NewReader(bad), dir)
			_, verr := VerifyBackup(bytes.NewReader(bad))
			if tt.name == "unchanged (control)" {
				if err != nil || verr != nil {
					t.Fatalf("Restore = %v, VerifyBackup = %v", err, verr)
				}
				return
			}
			if !errors.Is(err, ErrBadBackup) || !errors.Is(verr, ErrBadBackup) {
				t.Fatalf("Restore = %v, VerifyBackup = %v; want ErrBadBackup", err, verr)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("refused restore left %s behind (%v)", dir, err)
			}
			for _, p := range []string{outside, filepath.Join(filepath.Dir(dir), "evil")} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("file written outside the target: %s (%v)", p, err)
				}
			}
		})
	}
}

// TestBackupUnderLoad takes backups while another goroutine keeps
// registering, restores each and checks the restored register is consistent.
func TestBackupUnderLoad(t *testing.T) {
	s := newTestStore(t)
	const total = 2000
	var done atomic.Int64
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for uid := uint32(1); uid <= total; uid++ {
			mail := fmt.Sprintf("From: a@example.org\r\nSubject: Last %d\r\n\r\n%s\r\n", uid, strings.Repeat("x", int(uid%700)))
			sum, size, err := s.StoreRaw(strings.NewReader(mail), 0)
			if err != nil {
				errc <- err
				return
			}
			in := incoming(uid, fmt.Sprintf("load%d@example.org", uid), t0.Add(time.Duration(uid)*time.Second))
			in.Message.RawSHA256, in.Message.Size = sum, size
			if uid%5 == 0 { // every fifth a follow-up of the case before
				in.FollowUpOf = &Reference{Prefix: "STK", Year: 2026, Number: uint64(done.Load()/2 + 1)}
			}
			if _, err := s.Register(in); err != nil {
				errc <- fmt.Errorf("register %d: %w", uid, err)
				return
			}
			done.Add(1)
		}
	}()
	type taken struct {
		archive []byte
		info    BackupInfo
	}
	var backups []taken
	for done.Load() < total {
		if done.Load() == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		archive, info := backupOf(t, s)
		backups = append(backups, taken{archive, info})
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mid := 0
	for _, b := range backups {
		if b.info.Messages > 0 && b.info.Messages < total {
			mid++
		}
	}
	if mid == 0 {
		t.Fatalf("no backup taken while registrations were running (%d backups)", len(backups))
	}
	// The last one restored with the full check, plus up to three others.
	check := []taken{backups[len(backups)-1]}
	for i := 0; i < len(backups)-1 && len(check) < 4; i += max(1, len(backups)/3) {
		check = append(check, backups[i])
	}
	for i, b := range check {
		t.Run(fmt.Sprintf("backup with %d messages", b.info.Messages), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), fmt.Sprint("restored", i))
			info, err := Restore(bytes.NewReader(b.archive), dir)
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if info != b.info {
				t.Errorf("manifest %+v, Backup returned %+v", info, b.info)
			}
			checkRestoredRegister(t, dir, info)
		})
	}
	t.Logf("%d backups during %d registrations, %d of them mid-load", len(backups), total, mid)
	final, info := backupOf(t, s)
	dir := filepath.Join(t.TempDir(), "final")
	if _, err := Restore(bytes.NewReader(final), dir); err != nil {
		t.Fatal(err)
	}
	if info.Messages != total {
		t.Errorf("final backup has %d messages, want %d", info.Messages, total)
	}
	checkRestoredRegister(t, dir, info)
}
