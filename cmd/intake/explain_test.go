package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	fixtures := filepath.Join("..", "..", "intake", "policy", "testdata")
	robot := filepath.Join(fixtures, "outlook-automatische-antwort-mit-auto-submitted.eml")
	person := filepath.Join(fixtures, "persoenlich-auto-submitted-no.eml")
	out, errOut, code := intakeCLI(t, "explain", "-json", robot, person)
	if code != 0 {
		t.Fatalf("explain: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one JSON object per file, got:\n%s", out)
	}
	var got [2]map[string]any
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &got[i]); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
		for _, k := range []string{"file", "ack", "reason", "follow_up"} {
			if _, ok := got[i][k]; !ok {
				t.Errorf("line %d lacks %q: %s", i, k, l)
			}
		}
	}
	if got[0]["ack"] != false || got[0]["reason"] != "AUTO_SUBMITTED" {
		t.Errorf("auto-reply: %v", got[0])
	}
	if got[1]["ack"] != true || got[1]["reason"] != "" {
		t.Errorf("personal mail: %v", got[1])
	}
	// The text form names the rule and explains it in German and English.
	out, _, _ = intakeCLI(t, "explain", robot)
	if !strings.Contains(out, "AUTO_SUBMITTED (S2)") {
		t.Errorf("text form:\n%s", out)
	}
	// A reference in the subject is named as the follow-up candidate.
	dir := t.TempDir()
	f := filepath.Join(dir, "reply.eml")
	os.WriteFile(f, []byte("Return-Path: <a@example.org>\r\nFrom: a@example.org\r\nTo: post@example.test\r\nSubject: AW: [stk-2026-000042-6] Antrag\r\n\r\nx\r\n"), 0o600)
	out, _, _ = intakeCLI(t, "explain", "-json", f)
	if !strings.Contains(out, `"follow_up":"STK-2026-000042-6"`) {
		t.Errorf("follow-up not named: %s", out)
	}
	if _, _, code := intakeCLI(t, "explain", filepath.Join(dir, "missing.eml")); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
}
