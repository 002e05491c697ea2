package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageAndConfigErrors(t *testing.T) {
	if _, _, code := intakeCLI(t); code != 2 {
		t.Errorf("no arguments: exit %d, want 2", code)
	}
	if _, _, code := intakeCLI(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.toml")
	text := "data_dir = \"/tmp/x\"\n\n[[mailbox]]\nname = \"post\"\naddress = \"post@example.test\"\nprefix = \"STK\"\nfolder = \"INBOX\"\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := intakeCLI(t, "config", "check", "-offline", "-config", path)
	if code != 1 {
		t.Errorf("bad config: exit %d, want 1", code)
	}
	// The unknown key is named with file and line, and no stack trace.
	if !strings.Contains(errOut, "bad.toml:7") || !strings.Contains(errOut, "folder") {
		t.Errorf("error does not name file, line and key:\n%s", errOut)
	}
	if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") {
		t.Errorf("stack trace in a user error:\n%s", errOut)
	}
	out, _, code := intakeCLI(t, "config", "example")
	if code != 0 || !strings.Contains(out, "[[mailbox]]") {
		t.Errorf("config example: exit %d", code)
	}
}
