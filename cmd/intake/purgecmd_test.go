package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

// retentionConfig is accountConfig with a retention of 24h for "poststelle" and one
// closed case registered two days ago, closed a day and a half ago.
func retentionConfig(t *testing.T) (cfgPath string, ref ticket.Reference) {
	t.Helper()
	cfgPath, data := accountConfig(t)
	text, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	text = bytes.Replace(text, []byte(`prefix = "STK"`), []byte("prefix = \"STK\"\nretention = \"24h\""), 1)
	if err := os.WriteFile(cfgPath, text, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ticket.Open(data, ticket.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sum, size, err := s.StoreRaw(strings.NewReader("From: buerger@secret.example\r\nSubject: Geheim\r\n\r\nText\r\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	reg, err := s.Register(ticket.Incoming{Prefix: "STK", Message: ticket.Message{
		Mailbox: "poststelle", UIDValidity: 1, UID: 1, MessageID: "m1@secret.example", From: "buerger@secret.example",
		Subject: "Geheim", Received: now.Add(-48 * time.Hour), Size: size, RawSHA256: sum}, SuppressReason: "ACK_DISABLED"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(reg.Reference, ticket.StatusInProgress, now.Add(-40*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(reg.Reference, ticket.StatusClosed, now.Add(-36*time.Hour)); err != nil {
		t.Fatal(err)
	}
	return cfgPath, reg.Reference
}

func TestCmdPurgeExportAudit(t *testing.T) {
	cfgPath, ref := retentionConfig(t)
	var out, errb bytes.Buffer
	reset := func() { out.Reset(); errb.Reset() }

	// Export before the purge: metadata and the raw mail.
	zipPath := filepath.Join(t.TempDir(), "case.zip")
	if code := cmdCaseExport([]string{ref.String(), "-o", zipPath, "-config", cfgPath}, &out, &errb); code != exitOK {
		t.Fatalf("case export: exit %d: %s", code, errb.String())
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatalf("export is no zip: %v", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	zr.Close()
	if strings.Join(names, ",") != "metadata.json,1-1.eml" {
		t.Errorf("export files = %v", names)
	}
	reset()
	if code := cmdCaseExport([]string{"STK-2026-000099-0", "-o", zipPath, "-config", cfgPath}, &out, &errb); code == exitOK {
		t.Error("export of a bad reference succeeded")
	}

	tests := []struct {
		name   string
		args   []string
		want   string
		purged bool
	}{
		{"dry run", []string{"-dry-run", "-config", cfgPath}, "1 cases would be purged (1 messages, 1 raw mails", false},
		{"purge", []string{"-config", cfgPath}, "1 cases purged (1 messages, 1 raw mails", true},
		{"again", []string{"-config", cfgPath}, "0 cases purged (0 messages, 0 raw mails", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reset()
			if code := cmdPurge(tt.args, &out, &errb); code != exitOK {
				t.Fatalf("purge: exit %d: %s", code, errb.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output %q lacks %q", out.String(), tt.want)
			}
			reset()
			if code := cmdCaseShow([]string{ref.String(), "-json", "-config", cfgPath}, &out, &errb); code != exitOK {
				t.Fatalf("case show: %s", errb.String())
			}
			var c ticket.Case
			if err := json.Unmarshal(out.Bytes(), &c); err != nil {
				t.Fatal(err)
			}
			if purged := !c.Purged.IsZero(); purged != tt.purged || (tt.purged && strings.Contains(out.String(), "secret.example")) {
				t.Errorf("case after %s: %s", tt.name, out.String())
			}
		})
	}

	t.Run("audit export", func(t *testing.T) {
		reset()
		if code := cmdAudit([]string{"export", "-since", "2000-01-01", "-config", cfgPath}, &out, &errb); code != exitOK {
			t.Fatalf("audit export: exit %d: %s", code, errb.String())
		}
		var actions []string
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var e ticket.AuditEntry
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			actions = append(actions, e.Action)
		}
		// Every case show is a view, and the audit export records itself.
		want := []string{ticket.AuditExport, ticket.AuditView, ticket.AuditPurge, ticket.AuditView, ticket.AuditView, ticket.AuditAuditExport}
		if strings.Join(actions, ",") != strings.Join(want, ",") {
			t.Errorf("audit actions = %v", actions)
		}
		reset()
		if code := cmdAudit([]string{"export", "-until", "2000-01-01", "-config", cfgPath}, &out, &errb); code != exitOK || out.Len() != 0 {
			t.Errorf("audit export until 2000: exit %d, %q", code, out.String())
		}
		if code := cmdAudit([]string{"list"}, &out, &errb); code != exitUsage {
			t.Errorf("audit list: exit %d, want usage", code)
		}
	})
}
