package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

// TestBackupRestoreOffline runs the built binary: backup of a register no
// daemon holds, restore into a new directory, and case list -json on it.
func TestBackupRestoreOffline(t *testing.T) {
	cfgPath, data := accountConfig(t)
	s, err := ticket.Open(data, ticket.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	t0 := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	for i := range n {
		raw := fmt.Sprintf("From: a@example.org\r\nSubject: Antrag %d\r\n\r\nText %d\r\n", i, i)
		sum, size, err := s.StoreRaw(strings.NewReader(raw), 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Register(ticket.Incoming{Prefix: "STK", Kind: ticket.KindCitizen, Message: ticket.Message{
			Mailbox: "poststelle", UIDValidity: 1, UID: uint32(i + 1), MessageID: fmt.Sprintf("m%d@example.org", i),
			From: "a@example.org", Subject: fmt.Sprintf("Antrag %d", i), Received: t0.Add(time.Duration(i) * time.Minute),
			Size: size, RawSHA256: sum,
		}, SuppressReason: "ACK_DISABLED"})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := listCases(t, cfgPath)
	if len(want) != n {
		t.Fatalf("%d cases before backup", len(want))
	}

	outDir := t.TempDir()
	file := filepath.Join(outDir, "intake-backup.tar.gz")
	out, errOut, code := intakeCLI(t, "backup", file, "-config", cfgPath)
	if code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, fmt.Sprintf("%d cases, %d messages, %d raw mails", n, n, n)) {
		t.Errorf("backup output: %s", out)
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 1 {
		t.Errorf("backup left %d files next to FILE, want only FILE", len(entries))
	}

	restored := filepath.Join(t.TempDir(), "restored")
	out, errOut, code = intakeCLI(t, "restore", file, restored)
	if code != 0 {
		t.Fatalf("restore: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "data_dir") || !strings.Contains(out, restored) {
		t.Errorf("restore does not tell where to point data_dir: %s", out)
	}
	text, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg2 := filepath.Join(t.TempDir(), "restored.toml")
	if err := os.WriteFile(cfg2, []byte(strings.Replace(string(text), data, restored, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	got := listCases(t, cfg2)
	if !reflect.DeepEqual(got, want) {
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		t.Errorf("cases after restore differ:\n%s\n%s", a, b)
	}

	t.Run("restore into a non-empty directory is refused", func(t *testing.T) {
		_, errOut, code := intakeCLI(t, "restore", file, restored)
		if code != exitFailure || !strings.Contains(errOut, "not empty") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
	t.Run("a damaged backup is refused", func(t *testing.T) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		bad := filepath.Join(t.TempDir(), "bad.tar.gz")
		os.WriteFile(bad, b, 0o600)
		dir := filepath.Join(t.TempDir(), "r")
		_, errOut, code := intakeCLI(t, "restore", bad, dir)
		if code != exitFailure {
			t.Errorf("exit %d: %s", code, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("refused restore left %s (%v)", dir, err)
		}
	})
	t.Run("usage", func(t *testing.T) {
		if _, _, code := intakeCLI(t, "restore", file); code != exitUsage {
			t.Errorf("restore FILE: exit %d", code)
		}
		if _, _, code := intakeCLI(t, "backup", "-config", cfgPath); code != exitUsage {
			t.Errorf("backup without FILE: exit %d", code)
		}
	})
}
