package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/ticket"
)

func runCLI(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestCommandHelp: "intake help CMD" and "intake CMD -h" print that command's help on
// standard output and exit 0.
func TestCommandHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string // substrings of stdout
	}{
		{[]string{"help", "case", "show"}, []string{"intake case show REF", "-json", "-config"}},
		{[]string{"case", "show", "-h"}, []string{"intake case show REF", "-json"}},
		{[]string{"case", "list", "--help"}, []string{"intake case list", "-status", "-kind"}},
		{[]string{"help", "case"}, []string{"intake case show", "intake case list", "intake case export"}},
		{[]string{"user", "add", "-h"}, []string{"intake user add NAME", "-role", "-mailboxes"}},
		{[]string{"help", "user", "grant"}, []string{"intake user grant NAME"}},
		{[]string{"token", "create", "erika", "-help"}, []string{"intake token create NAME", "-scope", "-expires"}},
		{[]string{"explain", "-h"}, []string{"intake explain", "-mailbox"}},
		{[]string{"config", "check", "-h"}, []string{"intake config check", "-offline", "-roundtrip"}},
		{[]string{"help", "config", "example"}, []string{"intake config example"}},
		{[]string{"serve", "-h"}, []string{"intake serve", "-config"}},
		{[]string{"help", "version"}, []string{"intake version"}},
		{[]string{"help"}, []string{"intake serve", "intake user add"}},
		{[]string{"-h"}, []string{"intake serve"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(tt.args...)
			if code != exitOK || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if _, errOut, code := runCLI("help", "frobnicate"); code != exitUsage || !strings.Contains(errOut, "unknown command") {
		t.Errorf("help of an unknown command: exit %d, %s", code, errOut)
	}
}

// TestEnumFlags: an unknown value of an enumerated flag is a usage error that lists the
// valid values.
func TestEnumFlags(t *testing.T) {
	cfg, _ := accountConfig(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"case", "list", "-kind", "foo"}, "valid are: citizen, automated, malformed"},
		{[]string{"case", "list", "-status", "foo"}, "valid are: new, in_progress, closed"},
		{[]string{"case", "list", "-status", "New"}, "valid are: new, in_progress, closed"},
		{[]string{"user", "add", "max", "-role", "foo"}, "valid are: clerk, admin"},
		{[]string{"user", "grant", "max", "-role", "root"}, "valid are: clerk, admin"},
		{[]string{"token", "create", "max", "-scope", "foo"}, "valid are: read, read-write"},
		{[]string{"token", "create", "max", "-expires", "bald"}, "-expires"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, code := runCLI(append(tt.args, "-config", cfg)...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, exitUsage, errOut, tt.want)
			}
		})
	}
	for _, ok := range [][]string{{"case", "list", "-kind", "automated"}, {"case", "list", "-status", "in_progress"}} {
		if _, errOut, code := runCLI(append(ok, "-config", cfg)...); code != exitOK {
			t.Errorf("%v: exit %d, %s", ok, code, errOut)
		}
	}
}

// TestExplainConfig: explain takes its configuration from -config, else $INTAKE_CONFIG,
// and says on standard error when it decides without one.
func TestExplainConfig(t *testing.T) {
	cfg, _ := accountConfig(t)
	mail := filepath.Join(t.TempDir(), "brief.eml")
	if err := os.WriteFile(mail, []byte("From: buerger@example.org\r\nTo: poststelle@stk.example.de\r\nSubject: Frage\r\nMessage-ID: <q@example.org>\r\n\r\nText\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const without = "decided without a configuration"
	tests := []struct {
		name    string
		env     string
		args    []string
		code    int
		without bool
		err     string
	}{
		{"$INTAKE_CONFIG", cfg, nil, exitOK, false, ""},
		{"$INTAKE_CONFIG of a missing file", filepath.Join(t.TempDir(), "fehlt.toml"), nil, exitFailure, false, "fehlt.toml"},
		{"-config wins over $INTAKE_CONFIG", filepath.Join(t.TempDir(), "fehlt.toml"), []string{"-config", cfg}, exitOK, false, ""},
		{"-config of a missing file", "", []string{"-config", "/nonexistent/intake.toml"}, exitFailure, false, "nonexistent"},
		{"no configuration at all", "", nil, exitOK, true, ""},
		{"unknown mailbox", cfg, []string{"-mailbox", "buchhaltung"}, exitUsage, false, "buchhaltung"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("INTAKE_CONFIG", tt.env)
			if tt.env == "" && fileExists("/etc/intake/intake.toml") {
				t.Skip("this machine has /etc/intake/intake.toml")
			}
			out, errOut, code := runCLI(append(append([]string{"explain"}, tt.args...), mail)...)
			if code != tt.code || strings.Contains(errOut, without) != tt.without || !strings.Contains(errOut, tt.err) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
		})
	}
}

// TestConfigCheckFileArgument: intake config check FILE, besides -config FILE.
func TestConfigCheckFileArgument(t *testing.T) {
	cfg, _ := accountConfig(t)
	tests := []struct {
		name string
		args []string
		code int
		out  string
		err  string
	}{
		{"file as argument", []string{"config", "check", "-offline", cfg}, exitOK, cfg + ": valid", ""},
		{"argument before the flag", []string{"config", "check", cfg, "-offline"}, exitOK, cfg + ": valid", ""},
		{"-config as before", []string{"config", "check", "-offline", "-config", cfg}, exitOK, cfg + ": valid", ""},
		{"both, the same file", []string{"config", "check", "-offline", "-config", cfg, cfg}, exitOK, "valid", ""},
		{"both, two files", []string{"config", "check", "-offline", "-config", cfg, "/etc/other.toml"}, exitUsage, "", "two files given"},
		{"two arguments", []string{"config", "check", cfg, cfg}, exitUsage, "", "usage"},
		{"missing file", []string{"config", "check", "-offline", "/nonexistent/intake.toml"}, exitFailure, "", "nonexistent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
		})
	}
}

// wrongCheckDigit returns ref with a wrong check digit.
func wrongCheckDigit(t *testing.T, ref string) string {
	t.Helper()
	for d := '0'; d <= '9'; d++ {
		s := ref[:len(ref)-1] + string(d)
		if _, err := ticket.ParseReference(s); err != nil {
			return s
		}
	}
	t.Fatalf("no wrong check digit for %s", ref)
	return ""
}

// TestCaseShowDidYouMean: a reference with a wrong check digit gets the references one
// typing error away, offline and through the running daemon, as in the web.
func TestCaseShowDidYouMean(t *testing.T) {
	cfg, data := accountConfig(t)
	refs := seedCases(t, data, 3, func(i int) string { return fmt.Sprintf("Antrag %d", i) })
	tests := []struct {
		input string
		want  string
	}{
		{wrongCheckDigit(t, refs[1].String()), refs[1].String()},
		{strings.ToLower(wrongCheckDigit(t, refs[2].String())), refs[2].String()},
		{wrongCheckDigit(t, "STK-2026-000999-0"), "No case with a similar reference"},
	}
	check := func(t *testing.T, out, errOut string, code int, want string) {
		t.Helper()
		if code != exitFailure || out != "" || !strings.Contains(errOut, "wrong check digit") || !strings.Contains(errOut, want) {
			t.Errorf("exit %d\nstdout: %s\nstderr: %s\nwant %q", code, out, errOut, want)
		}
	}
	for _, tt := range tests {
		t.Run("offline "+tt.input, func(t *testing.T) {
			out, errOut, code := runCLI("case", "show", tt.input, "-config", cfg)
			check(t, out, errOut, code, tt.want)
		})
	}
	d := startDaemon(t, cfg)
	waitSocket(t, data, d)
	for _, tt := range tests {
		t.Run("daemon "+tt.input, func(t *testing.T) {
			out, errOut, code := intakeCLI(t, "case", "show", tt.input, "-config", cfg)
			check(t, out, errOut, code, tt.want)
		})
	}
}

func waitSocket(t *testing.T, data string, d *daemon) {
	t.Helper()
	for i := 0; ; i++ {
		if _, err := intake.DialLocal(intake.SocketPath(data)); err == nil {
			return
		}
		if i > 400 {
			t.Fatalf("the daemon does not answer on its socket:\n%s", d.log)
		}
		sleepBriefly()
	}
}

func sleepBriefly() { time.Sleep(50 * time.Millisecond) }
