package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

// accountConfig writes a config with two mailboxes and returns its path and data dir.
func accountConfig(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	text := `data_dir = "` + data + `"
[[mailbox]]
name = "poststelle"
address = "poststelle@stk.example.de"
prefix = "STK"
[mailbox.imap]
host = "127.0.0.1"
tls = "none"
username = "u"
password = "p"
[mailbox.smtp]
host = "127.0.0.1"
tls = "none"
[[mailbox]]
name = "presse"
address = "presse@stk.example.de"
prefix = "PR"
[mailbox.imap]
host = "127.0.0.1"
tls = "none"
username = "u"
password = "p"
[mailbox.smtp]
host = "127.0.0.1"
tls = "none"
`
	path := filepath.Join(dir, "intake.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// testAccounts runs account commands in-process with cheap argon2 parameters.
type testAccounts struct {
	t   *testing.T
	cfg string
}

func (ta testAccounts) run(stdin string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	a := &accountCmd{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		argon: ticket.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		now:   func() time.Time { return time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC) }, actor: "cli:test"}
	args = append(args, "-config", ta.cfg)
	var code int
	switch args[0] {
	case "user":
		code = a.user(args[1:])
	case "token":
		code = a.token(args[1:])
	}
	return out.String(), errb.String(), code
}

func openTestRegister(t *testing.T, data string) *ticket.Store {
	t.Helper()
	s, err := ticket.Open(data, ticket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUserCommands(t *testing.T) {
	cfg, data := accountConfig(t)
	ta := testAccounts{t, cfg}
	steps := []struct {
		name  string
		stdin string
		args  []string
		code  int
		out   string // substring of stdout
		err   string // substring of stderr
	}{
		{"add clerk", "Sommer-Regen-2026\n", []string{"user", "add", "Erika", "-role", "clerk", "-mailboxes", "poststelle"}, 0, "User erika added (clerk)", ""},
		{"add admin", "Winter-Schnee-2026\n", []string{"user", "add", "admin", "-role", "admin"}, 0, "added", ""},
		{"add clerk without mailboxes", "Herbst-Laub-2026\n", []string{"user", "add", "paul", "-role", "clerk"}, 0, "added", "sees no mailbox"},
		{"add twice", "Sommer-Regen-2026\n", []string{"user", "add", "erika", "-role", "clerk"}, 1, "", "already exists"},
		{"weak password", "kurz\n", []string{"user", "add", "max", "-role", "clerk"}, 2, "", "too weak"},
		{"unknown mailbox", "Sommer-Regen-2026\n", []string{"user", "add", "max", "-role", "clerk", "-mailboxes", "buchhaltung"}, 2, "", `mailbox "buchhaltung" is not configured`},
		{"bad role", "", []string{"user", "add", "max", "-role", "root"}, 2, "", "valid are: clerk, admin"},
		{"no role", "", []string{"user", "add", "max"}, 2, "", "usage"},
		{"bad name", "", []string{"user", "add", "max mustermann", "-role", "clerk"}, 2, "", "user name"},
		{"unknown subcommand", "", []string{"user", "frobnicate", "x"}, 2, "", "unknown subcommand"},
		{"generated password", "", []string{"user", "passwd", "paul", "-generate"}, 0, "shown only now", ""},
		{"passwd from stdin", "Neues-Passwort-2026\n", []string{"user", "passwd", "erika"}, 0, "Password of erika set", ""},
		{"passwd unknown", "Neues-Passwort-2026\n", []string{"user", "passwd", "niemand"}, 1, "", "not found"},
		{"grant", "", []string{"user", "grant", "paul", "-mailboxes", "presse,poststelle"}, 0, "paul: clerk, poststelle,presse", ""},
		{"disable", "", []string{"user", "disable", "paul"}, 0, "disabled", ""},
		{"list", "", []string{"user", "list"}, 0, "paul   clerk  poststelle,presse  disabled", ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out, errOut, code := ta.run(st.stdin, st.args...)
			if code != st.code || !strings.Contains(out, st.out) || !strings.Contains(errOut, st.err) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, st.code, out, errOut)
			}
		})
	}
	out, _, code := ta.run("", "user", "list", "-json")
	var users []ticket.User
	if err := json.Unmarshal([]byte(out), &users); code != 0 || err != nil || len(users) != 3 {
		t.Fatalf("list -json: %d %v %s", code, err, out)
	}

	s := openTestRegister(t, data)
	defer s.Close()
	if _, err := s.Authenticate("erika", "Neues-Passwort-2026"); err != nil {
		t.Errorf("erika's new password: %v", err)
	}
	if _, err := s.Authenticate("erika", "Sommer-Regen-2026"); !errors.Is(err, ticket.ErrBadCredentials) {
		t.Errorf("erika's old password: %v", err)
	}
	if _, err := s.Authenticate("admin", "Winter-Schnee-2026"); err != nil {
		t.Errorf("admin: %v", err)
	}
	u, _ := s.User("paul")
	if !u.Disabled || strings.Join(u.Mailboxes, ",") != "poststelle,presse" {
		t.Errorf("paul = %+v", u)
	}
	entries, _, _ := s.AuditLog(ticket.AuditFilter{Actor: "cli:test"})
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); got != "user_disable,user_grant,user_password,user_password,user_add,user_add,user_add" {
		t.Errorf("audit %s", got)
	}
}

// TestUserCommandsLockedRegister: a register held by a process that does not answer on
// the daemon's socket is not changed behind its back.
func TestUserCommandsLockedRegister(t *testing.T) {
	cfg, data := accountConfig(t)
	s := openTestRegister(t, data) // holds the lock, but serves no local API
	defer s.Close()
	_, errOut, code := testAccounts{t, cfg}.run("Sommer-Regen-2026\n", "user", "add", "erika", "-role", "admin")
	if code != 1 || !strings.Contains(errOut, "does not answer") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestTokenCommands(t *testing.T) {
	cfg, data := accountConfig(t)
	ta := testAccounts{t, cfg}
	if _, errOut, code := ta.run("", "user", "add", "erika", "-role", "clerk", "-mailboxes", "poststelle", "-generate"); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code := ta.run("", "token", "create", "erika", "-label", "Fachverfahren")
	tok := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(tok, "itk_") || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "shown only now") {
		t.Fatalf("token create: %d %q %s", code, out, errOut)
	}
	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"token", "create", "niemand"}, 1, "not found"},
		{[]string{"token", "create"}, 2, "usage"},
		{[]string{"token", "revoke", "erika", "000000000000"}, 1, "not found"},
		{[]string{"token", "frobnicate"}, 2, "unknown subcommand"},
	} {
		if _, errOut, code := ta.run("", tt.args...); code != tt.code || !strings.Contains(errOut, tt.err) {
			t.Errorf("%v: exit %d, %s", tt.args, code, errOut)
		}
	}
	out, _, _ = ta.run("", "token", "list", "erika", "-json")
	var list []ticket.Token
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].Label != "Fachverfahren" {
		t.Fatalf("token list: %v %s", err, out)
	}
	s := openTestRegister(t, data)
	if u, err := s.AuthenticateToken(tok); err != nil || u.Name != "erika" {
		t.Errorf("token: %v", err)
	}
	s.Close()
	if _, errOut, code := ta.run("", "token", "revoke", "erika", list[0].ID); code != 0 {
		t.Fatal(errOut)
	}
	s = openTestRegister(t, data)
	defer s.Close()
	if _, err := s.AuthenticateToken(tok); !errors.Is(err, ticket.ErrBadCredentials) {
		t.Errorf("revoked token: %v", err)
	}
	// The command line entry points: cmdToken prints usage without arguments.
	var o, e bytes.Buffer
	if code := cmdToken(nil, nil, &o, &e); code != exitUsage || !strings.Contains(e.String(), "token create") {
		t.Errorf("cmdToken: %d %s", code, e.String())
	}
	if code := cmdUser(nil, nil, &o, &e); code != exitUsage || !strings.Contains(e.String(), "user add") {
		t.Errorf("cmdUser: %d %s", code, e.String())
	}
}

func TestUserGeneratedPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		pw := generatePassword()
		if len(pw) != 20 || strings.Trim(pw, passwordAlphabet) != "" || seen[pw] {
			t.Fatalf("password %q", pw)
		}
		if err := ticket.CheckPassword("x", pw); err != nil {
			t.Errorf("generated password refused: %v", err)
		}
		seen[pw] = true
	}
}
