package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"50 MB", 50_000_000, false},
		{"50MB", 50_000_000, false},
		{"50mb", 50_000_000, false},
		{"20 MiB", 20 << 20, false},
		{"20MiB", 20 << 20, false},
		{"500kB", 500_000, false},
		{"512 KiB", 512 << 10, false},
		{"1 GB", 1_000_000_000, false},
		{"2 GiB", 2 << 30, false},
		{"1.5 GB", 1_500_000_000, false},
		{"1024", 1024, false},
		{"1024 B", 1024, false},
		{" 7 kb ", 7000, false},
		{"", 0, true},
		{"MB", 0, true},
		{"-5 MB", 0, true},
		{"50 XB", 0, true},
		{"1.2.3 MB", 0, true},
		{"99999999999999 GB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestByteSizeString(t *testing.T) {
	for _, tt := range []struct {
		in   ByteSize
		want string
	}{{50 * MB, "50 MB"}, {20 * MiB, "20 MiB"}, {1234, "1234 B"}, {0, "0 B"}, {3 * GiB, "3 GiB"}, {500 * KB, "500 kB"}} {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%d.String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		back, err := ParseByteSize(tt.in.String())
		if err != nil || back != tt.in {
			t.Errorf("round trip of %d: %d, %v", int64(tt.in), back, err)
		}
	}
}

func TestDuration(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1h30m")); err != nil || d.Duration != 90*time.Minute {
		t.Errorf("UnmarshalText = %v, %v", d.Duration, err)
	}
	if b, _ := d.MarshalText(); string(b) != "1h30m0s" {
		t.Errorf("MarshalText = %s", b)
	}
	if err := d.UnmarshalText([]byte("3d")); err == nil || !strings.Contains(err.Error(), `"72h"`) {
		t.Errorf("UnmarshalText(3d) error = %v, want a hint on units", err)
	}
}

func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crlf := write("crlf", "geheim\r\n")
	lf2 := write("lf2", "geheim\n\n")
	inner := write("inner", "ge heim\t\n")
	empty := write("empty", "\n")
	t.Setenv("INTAKE_TEST_SECRET", "geheim")
	t.Setenv("INTAKE_TEST_SECRET_EMPTY", "")

	tests := []struct {
		name    string
		s       Secret
		want    string
		errKey  string // "" = no error
		errText string
	}{
		{"inline", Secret{Password: "geheim"}, "geheim", "", ""},
		{"file CRLF trimmed", Secret{PasswordFile: crlf}, "geheim", "", ""},
		{"file newlines trimmed", Secret{PasswordFile: lf2}, "geheim", "", ""},
		{"file inner spaces kept", Secret{PasswordFile: inner}, "ge heim\t", "", ""},
		{"file empty", Secret{PasswordFile: empty}, "", "password_file", "is empty"},
		{"file missing", Secret{PasswordFile: filepath.Join(dir, "nope")}, "", "password_file", "cannot read password file: open " + filepath.Join(dir, "nope")},
		{"env", Secret{PasswordEnv: "INTAKE_TEST_SECRET"}, "geheim", "", ""},
		{"env unset", Secret{PasswordEnv: "INTAKE_TEST_SECRET_UNSET"}, "", "password_env", "environment variable INTAKE_TEST_SECRET_UNSET is not set"},
		{"env empty", Secret{PasswordEnv: "INTAKE_TEST_SECRET_EMPTY"}, "", "password_env", "environment variable INTAKE_TEST_SECRET_EMPTY is empty"},
		{"none", Secret{}, "", "password", "one of password, password_file or password_env is required"},
		{"two", Secret{Password: "geheim", PasswordEnv: "INTAKE_TEST_SECRET"}, "", "password_env", "only one of"},
		{"three", Secret{Password: "geheim", PasswordFile: crlf, PasswordEnv: "INTAKE_TEST_SECRET"}, "", "password_file", "found password and password_file and password_env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Resolve()
			if tt.errKey == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Resolve = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Key != tt.errKey || !strings.Contains(e.Msg, tt.errText) {
				t.Fatalf("Resolve error = %v; want key %s, text %q", err, tt.errKey, tt.errText)
			}
			if got != "" || strings.Contains(err.Error(), "geheim") {
				t.Errorf("error leaks the secret: %q, %v", got, err)
			}
		})
	}
}

func TestSecretString(t *testing.T) {
	s := Secret{Password: "geheim"}
	for _, out := range []string{s.String(), s.GoString()} {
		if strings.Contains(out, "geheim") {
			t.Errorf("Secret printed as %q", out)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{"intake.toml", 12, "mailbox[0].imap.port", "must be between 1 and 65535"}, "intake.toml:12: mailbox[0].imap.port: must be between 1 and 65535"},
		{Error{"intake.toml", 0, "data_dir", "is required"}, "intake.toml: data_dir: is required"},
		{Error{"intake.toml", 3, "", "syntax error: x"}, "intake.toml:3: syntax error: x"},
		{Error{"", 0, "password_env", "environment variable X is not set"}, "password_env: environment variable X is not set"},
		{Error{"", 4, "k", "m"}, "line 4: k: m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	errs := Errors{&tests[0].e, &tests[1].e}
	if got := errs.Error(); got != tests[0].want+"\n"+tests[1].want {
		t.Errorf("Errors.Error() = %q", got)
	}
}
