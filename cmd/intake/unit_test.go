package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// unitUID is the unprivileged uid the unit tests run intake as, like the
// dynamic user systemd allocates (61184–65519) for DynamicUser=yes.
const unitUID = 61234

// TestSystemdUnit checks packaging/intake.service: systemd-analyze verify
// accepts it, and its permission model works: "intake config check
// -offline" (its ExecStartPre) succeeds as an unprivileged uid with the
// modes the unit's install steps document (config 0644 in a 0755 folder,
// the secret a credential readable by the service only), while the config
// of the old steps (root:root 0640 in a 0750 folder) is refused.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../../packaging/intake.service")
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	for _, want := range []string{"DynamicUser=yes", "LoadCredential=imap:/etc/intake/credentials/imap",
		"install -m 0644 intake.toml /etc/intake/intake.toml", "install -d -m 0755 /etc/intake",
		"ExecStartPre=/usr/local/bin/intake config check -offline -config /etc/intake/intake.toml"} {
		if !strings.Contains(text, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	if strings.Contains(text, "example.invalid") {
		t.Error("Documentation= points at example.invalid")
	}

	root, exe := binaryForAnyUser(t)

	t.Run("systemd-analyze verify", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze is not installed: the unit is not verified here")
		}
		dir := filepath.Join(root, "unit")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "intake.service")
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "/usr/local/bin/intake", exe)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sa, "verify", path).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})

	t.Run("config check as the dynamic user", func(t *testing.T) {
		if os.Getuid() != 0 {
			if os.Getenv("INTAKE_REQUIRE_REAL_SERVERS") == "1" {
				t.Fatal("needs root to run intake as another uid (CI runs as root)")
			}
			t.Skip("needs root to run intake as another uid")
		}
		base := filepath.Join(root, "sys")
		etc := filepath.Join(base, "etc", "intake")
		creds := filepath.Join(base, "run", "credentials", "intake.service")
		state := filepath.Join(base, "var", "lib", "intake")
		for _, d := range []string{etc, creds, state} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// What systemd does at start: the credential readable by the
		// service's uid only, the state directory owned by it.
		if err := os.WriteFile(filepath.Join(creds, "imap"), []byte("imap-secret\n"), 0o400); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{creds, filepath.Join(creds, "imap"), state} {
			if err := os.Chown(p, unitUID, unitUID); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(creds, 0o500); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(state, 0o750); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(etc, "intake.toml")
		cfgText := unitConfig(state, filepath.Join(creds, "imap"))
		check := func() (string, error) {
			cmd := exec.Command(exe, "config", "check", "-offline", "-config", cfg)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: unitUID, Gid: unitUID}}
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			return string(out), err
		}

		// The documented modes: the config world-readable, no secret in it.
		if err := os.WriteFile(cfg, []byte(cfgText), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(cfg, 0o644); err != nil { // whatever the umask
			t.Fatal(err)
		}
		if out, err := check(); err != nil {
			t.Errorf("config check as uid %d with the documented modes: %v\n%s", unitUID, err, out)
		}

		// The old steps: root:root 0640 in a 0750 folder. The dynamic user
		// cannot read it, so ExecStartPre failed and the service never
		// started; the test shows it would fail.
		if err := os.Chmod(cfg, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(etc, 0o750); err != nil {
			t.Fatal(err)
		}
		if out, err := check(); err == nil || !strings.Contains(out, "permission denied") {
			t.Errorf("config check of a 0640 root config as uid %d = %v\n%s; want permission denied", unitUID, err, out)
		}
	})
}

// binaryForAnyUser copies the intake binary under test into a folder of its own that
// every uid may enter (the test binary's folder is private), for tests that run it as
// an unprivileged uid. root is that folder, removed after the test.
func binaryForAnyUser(t *testing.T) (root, exe string) {
	t.Helper()
	root, err := os.MkdirTemp("", "intake-unit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	exe = filepath.Join(root, "intake")
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return root, exe
}

// unitConfig is the smallest configuration of one mailbox, with its data in dataDir and
// both passwords in passwordFile, as the unit's install steps lay it out.
func unitConfig(dataDir, passwordFile string) string {
	return `data_dir = "` + dataDir + `"

[office]
name = "Staatskanzlei"

[[mailbox]]
name = "poststelle"
address = "poststelle@stk.example.de"
prefix = "STK"

[mailbox.imap]
host = "imap.stk.example.de"
username = "poststelle"
password_file = "` + passwordFile + `"

[mailbox.smtp]
host = "smtp.stk.example.de"
username = "poststelle"
password_file = "` + passwordFile + `"
`
}
