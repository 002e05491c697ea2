package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

// Issue 8: "intake config check" says per mailbox which sender verification is active and
// warns when none is, and when echo = "always".
func TestConfigCheckSaysVerification(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy string // appended to the first mailbox (poststelle)
		want   []string
		not    []string
	}{
		{"nothing configured", "", []string{
			"WARN  poststelle keine Absenderprüfung aktiv: Bestätigungen enthalten keinen Text des Absenders",
			"WARN  presse keine Absenderprüfung aktiv",
		}, []string{"ok    poststelle Absenderprüfung"}},
		{"local MTA", "[mailbox.policy]\nauthserv_id = \"mx.stk.example.de\"\n",
			[]string{"ok    poststelle Absenderprüfung / sender verification: authserv-id mx.stk.example.de (SPF/DKIM/DMARC)", "WARN  presse keine Absenderprüfung"},
			[]string{"WARN  poststelle"}},
		{"Exchange Online and an ARC sealer", "[mailbox.policy]\nverification = \"exchange-online\"\ntrusted_arc_sealers = [\"gw.stk.example.de\"]\n",
			[]string{"ok    poststelle Absenderprüfung / sender verification: Exchange Online (oberstes/topmost Authentication-Results, SPF/DKIM/DMARC/compauth); ARC-Siegel/sealers gw.stk.example.de"},
			[]string{"WARN  poststelle"}},
		{"Google Workspace", "[mailbox.policy]\nverification = \"google-workspace\"\n",
			[]string{"ok    poststelle Absenderprüfung / sender verification: Google Workspace"}, []string{"WARN  poststelle"}},
		{"echo always", "[mailbox.ack]\necho = \"always\"\n[mailbox.policy]\nauthserv_id = \"mx.stk.example.de\"\n",
			[]string{"ok    poststelle Absenderprüfung", "WARN  poststelle echo = \"always\": jede Bestätigung wiederholt Betreff und Anhangnamen jedes Absenders"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath, _ := accountConfig(t)
			text, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			// The first mailbox's tables end where the second [[mailbox]] starts.
			text = bytes.Replace(text, []byte("[[mailbox]]\nname = \"presse\""), []byte(tc.policy+"[[mailbox]]\nname = \"presse\""), 1)
			if err := os.WriteFile(cfgPath, text, 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			if code := cmdConfigCheck([]string{"-offline", "-config", cfgPath}, &out, &errb); code != exitOK {
				t.Fatalf("config check: exit %d\n%s%s", code, out.String(), errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out.String(), n) {
					t.Errorf("output has %q:\n%s", n, out.String())
				}
			}
		})
	}
}

// Issue 8: "intake case show" (text and -json) shows which kind of acknowledgement was
// planned and why.
func TestCaseShowAckKind(t *testing.T) {
	cfgPath, data := accountConfig(t)
	s, err := ticket.Open(data, ticket.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	sum, size, err := s.StoreRaw(strings.NewReader("From: victim@example.org\r\nSubject: Phish\r\n\r\nText\r\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := s.Register(ticket.Incoming{Prefix: "STK", AckDomain: "stk.example.de", Message: ticket.Message{
		Mailbox: "poststelle", UIDValidity: 1, UID: 1, From: "victim@example.org", Subject: "Phish",
		Received: time.Now(), Size: size, RawSHA256: sum},
		AckRecipient: "victim@example.org", AckEcho: ticket.EchoMinimal, AckEchoReason: "sender not verified"})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cmdCaseShow([]string{reg.Reference.String(), "-config", cfgPath}, &out, &errb); code != exitOK {
		t.Fatalf("case show: exit %d: %s", code, errb.String())
	}
	if want := "  Art / kind: kurz, ohne Text des Absenders / minimal, no text of the sender (sender not verified)\n"; !strings.Contains(out.String(), want) {
		t.Errorf("case show lacks %q:\n%s", want, out.String())
	}
	out.Reset()
	if code := cmdCaseShow([]string{reg.Reference.String(), "-json", "-config", cfgPath}, &out, &errb); code != exitOK {
		t.Fatalf("case show -json: exit %d: %s", code, errb.String())
	}
	var doc struct {
		Messages []struct {
			Ack struct {
				Echo       string `json:"echo"`
				EchoReason string `json:"echo_reason"`
			} `json:"ack"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Messages) != 1 {
		t.Fatalf("case JSON: %v\n%s", err, out.String())
	}
	if a := doc.Messages[0].Ack; a.Echo != "minimal" || a.EchoReason != "sender not verified" {
		t.Errorf("ack JSON echo = %q (%q)", a.Echo, a.EchoReason)
	}
}

// Issue 8: "intake explain" says whether the sender is verified and which acknowledgement
// the mail would get under the mailbox's settings.
func TestExplainSaysEcho(t *testing.T) {
	cfgPath, _ := accountConfig(t)
	text, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	text = bytes.Replace(text, []byte("[[mailbox]]\nname = \"presse\""), []byte("[mailbox.policy]\nauthserv_id = \"mx.stk.example.de\"\nrequire_authenticated = false\n[[mailbox]]\nname = \"presse\""), 1)
	if err := os.WriteFile(cfgPath, text, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mail := func(name, extra string) string {
		p := dir + "/" + name
		raw := "Return-Path: <anna@example.org>\r\n" + extra + "From: Anna <anna@example.org>\r\nTo: poststelle@stk.example.de\r\nSubject: Antrag\r\nMessage-ID: <" + name + "@example.org>\r\n\r\nx\r\n"
		if err := os.WriteFile(p, []byte(raw), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	verified := mail("verified", "Authentication-Results: mx.stk.example.de; dkim=pass header.d=example.org\r\n")
	forged := mail("forged", "Authentication-Results: mx.evil.example; dkim=pass header.d=example.org\r\n")
	var out, errb bytes.Buffer
	if code := cmdExplain([]string{"-json", "-config", cfgPath, verified, forged}, &out, &errb); code != exitOK {
		t.Fatalf("explain: exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		`"verified":true,"verified_by":"dkim","echo":"full","echo_reason":"sender verified by dkim"`,
		`"verified":false,"echo":"minimal","echo_reason":"sender not verified"`,
	}
	if len(lines) != 2 {
		t.Fatalf("explain output:\n%s", out.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d lacks %s:\n%s", i, w, lines[i])
		}
	}
	out.Reset()
	cmdExplain([]string{"-config", cfgPath, forged}, &out, &errb)
	if !strings.Contains(out.String(), "Art / kind: kurz, ohne Text des Absenders / minimal, no text of the sender (sender not verified)") {
		t.Errorf("text form:\n%s", out.String())
	}
}
