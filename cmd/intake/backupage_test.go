package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/intake-office/intake/ticket"
)

// plaintextOf returns what a thief reads from a backup file: its bytes, and
// when they are gzip, the decompressed tar as well.
func plaintextOf(b []byte) []byte {
	if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
		if tar, err := io.ReadAll(zr); err == nil || len(tar) > 0 {
			return append(append([]byte{}, b...), tar...)
		}
	}
	return b
}

// TestEncryptedBackup: with [backup] age_recipients the backup file is age
// encrypted and a thief finds neither a citizen's subject nor address in it;
// restore without the identity fails and says what is missing; restore with
// the identity brings back every case, verified.
func TestEncryptedBackup(t *testing.T) {
	cfgPath, data := accountConfig(t)
	const subject, address = "Steuerbescheid Aktenzeichen 4711-Geheim", "buerger0@example.org"
	seedCases(t, data, 3, func(i int) string { return subject })
	want := listCases(t, cfgPath)

	keys := t.TempDir()
	idFile := filepath.Join(keys, "backup-key.txt")
	out, errOut, code := intakeCLI(t, "backup", "keygen", "-o", idFile)
	if code != 0 {
		t.Fatalf("backup keygen: exit %d: %s", code, errOut)
	}
	recipient := regexp.MustCompile(`age1[0-9a-z]{58}`).FindString(out)
	if recipient == "" {
		t.Fatalf("backup keygen prints no public key: %s", out)
	}
	if fi, err := os.Stat(idFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v, %v; want mode 0600", fi, err)
	}
	if _, errOut, code := intakeCLI(t, "backup", "keygen", "-o", idFile); code == 0 {
		t.Errorf("keygen overwrote an existing identity file: %s", errOut)
	}
	text, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, append(text, []byte("[backup]\nage_recipients = [\""+recipient+"\"]\n")...), 0o600); err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "intake-backup.age")
	out, errOut, code = intakeCLI(t, "backup", file, "-config", cfgPath)
	if code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "verschlüsselt") || !strings.Contains(out, "Encrypted to 1 age recipient") {
		t.Errorf("backup does not say it encrypted: %s", out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("age-encryption.org/v1\n")) {
		t.Errorf("backup is not an age file: %q", b[:min(len(b), 40)])
	}
	stolen := plaintextOf(b)
	for _, secret := range []string{subject, address, "4711-Geheim", "buerger"} {
		if bytes.Contains(stolen, []byte(secret)) {
			t.Errorf("the stolen backup reveals %q", secret)
		}
	}

	t.Run("restore without identity", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "r")
		_, errOut, code := intakeCLI(t, "restore", file, dir)
		if code != exitFailure || !strings.Contains(errOut, "-identity") || !strings.Contains(errOut, "encrypted") {
			t.Errorf("exit %d: %s", code, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("refused restore left %s (%v)", dir, err)
		}
	})
	t.Run("restore with another identity", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.txt")
		if _, errOut, code := intakeCLI(t, "backup", "keygen", "-o", other); code != 0 {
			t.Fatal(errOut)
		}
		dir := filepath.Join(t.TempDir(), "r")
		_, errOut, code := intakeCLI(t, "restore", "-identity", other, file, dir)
		if code != exitFailure || !strings.Contains(errOut, "identity") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
	t.Run("restore with the identity", func(t *testing.T) {
		restored := filepath.Join(t.TempDir(), "restored")
		out, errOut, code := intakeCLI(t, "restore", "-identity", idFile, file, restored)
		if code != 0 {
			t.Fatalf("restore: exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "verified") {
			t.Errorf("restore output: %s", out)
		}
		r, err := ticket.Open(restored, ticket.Options{})
		if err != nil {
			t.Fatal(err)
		}
		entries, _, err := r.AuditLog(ticket.AuditFilter{Action: ticket.AuditRestore})
		r.Close()
		if err != nil || len(entries) != 1 || !strings.HasPrefix(entries[0].Actor, "cli:") || !strings.Contains(entries[0].Detail, "age encrypted") {
			t.Errorf("restore entries in the restored audit log: %+v, %v", entries, err)
		}
		cfg2 := filepath.Join(t.TempDir(), "restored.toml")
		if err := os.WriteFile(cfg2, []byte(strings.Replace(string(text), data, restored, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		got := listCases(t, cfg2)
		if len(got) != 3 || !reflect.DeepEqual(got, want) {
			a, _ := json.Marshal(want)
			g, _ := json.Marshal(got)
			t.Errorf("cases after restore differ:\n%s\n%s", a, g)
		}
	})
	t.Run("a plain backup with -identity restores too", func(t *testing.T) {
		plainCfg := filepath.Join(t.TempDir(), "plain.toml")
		if err := os.WriteFile(plainCfg, text, 0o600); err != nil {
			t.Fatal(err)
		}
		plain := filepath.Join(t.TempDir(), "plain.tar.gz")
		out, errOut, code := intakeCLI(t, "backup", plain, "-config", plainCfg)
		if code != 0 || !strings.Contains(out, "Not encrypted") {
			t.Fatalf("plain backup: exit %d: %s%s", code, out, errOut)
		}
		if _, errOut, code := intakeCLI(t, "restore", "-identity", idFile, plain, filepath.Join(t.TempDir(), "r")); code != 0 {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
	t.Run("malformed recipient is a config error", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.toml")
		if err := os.WriteFile(bad, append(text, []byte("[backup]\nage_recipients = [\"age1nonsense\"]\n")...), 0o600); err != nil {
			t.Fatal(err)
		}
		line := strings.Count(string(text), "\n") + 2
		_, errOut, code := intakeCLI(t, "backup", filepath.Join(t.TempDir(), "x"), "-config", bad)
		if code != exitFailure || !strings.Contains(errOut, bad+":"+strconv.Itoa(line)+": backup.age_recipients[0]: ") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
}
