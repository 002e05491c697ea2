package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func newRecipient(t *testing.T) string {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String()
}

func TestBackupRecipients(t *testing.T) {
	r1, r2, r3 := newRecipient(t), newRecipient(t), newRecipient(t)
	file := filepath.Join(t.TempDir(), "recipients.txt")
	if err := os.WriteFile(file, []byte("# Sicherungsschlüssel Rechenzentrum\n"+r3+"\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		backup string
		want   int
	}{
		{"none: not encrypted", "", 0},
		{"list", `age_recipients = ["` + r1 + `", "` + r2 + `"]`, 2},
		{"file", `age_recipients_file = "` + file + `"`, 1},
		{"both", "age_recipients = [\"" + r1 + "\"]\nage_recipients_file = \"" + file + "\"", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, base+"\n[backup]\n"+tt.backup+"\n")
			recs, err := c.Backup.Recipients()
			if err != nil || len(recs) != tt.want {
				t.Fatalf("Recipients() = %d, %v; want %d", len(recs), err, tt.want)
			}
			if c.Backup.Encrypted() != (tt.want > 0) {
				t.Errorf("Encrypted() = %v", c.Backup.Encrypted())
			}
		})
	}
}

func TestBackupValidationErrors(t *testing.T) {
	good := newRecipient(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	secret := id.String()
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(badFile, []byte(good+"\nage1notakey\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	// base has 29 lines; "[backup]" is line 31, the first key line 32.
	tests := []struct {
		name   string
		backup string
		want   wantErr
	}{
		{"malformed", `age_recipients = ["age1qqqq"]`, wantErr{32, "backup.age_recipients[0]", "not an age recipient"}},
		{"second malformed", "age_recipients = [\n  \"" + good + "\",\n  \"ssh-ed25519 AAAA\",\n]", wantErr{34, "backup.age_recipients[1]", "not an age recipient"}},
		{"empty", `age_recipients = [""]`, wantErr{32, "backup.age_recipients[0]", "not an age recipient"}},
		{"secret key", `age_recipients = ["` + secret + `"]`, wantErr{32, "backup.age_recipients[0]", "secret key"}},
		{"duplicate", `age_recipients = ["` + good + `", "` + good + `"]`, wantErr{32, "backup.age_recipients[1]", "twice"}},
		{"mixed with post-quantum", `age_recipients = ["` + good + `", "` + pq.Recipient().String() + `"]`, wantErr{32, "backup.age_recipients", "post-quantum"}},
		{"missing file", `age_recipients_file = "` + filepath.Join(dir, "nope.txt") + `"`, wantErr{32, "backup.age_recipients_file", "no such file"}},
		{"bad line in file", `age_recipients_file = "` + badFile + `"`, wantErr{32, "backup.age_recipients_file", "line 2"}},
		{"unknown key", `age_recipient = "` + good + `"`, wantErr{32, "backup.age_recipient", "unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Count(base, "\n"); got != 29 {
				t.Fatalf("base has %d lines; fix the line numbers of this test", got)
			}
			_, err := Parse([]byte(base+"\n[backup]\n"+tt.backup+"\n"), "intake.toml")
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want Errors", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error repeats a secret key: %v", err)
			}
			for _, e := range errs {
				if e.Key == tt.want.key && e.Line == tt.want.line && strings.Contains(e.Msg, tt.want.msg) {
					return
				}
			}
			t.Errorf("want %d %s %q, got:\n%v", tt.want.line, tt.want.key, tt.want.msg, err)
		})
	}
}
