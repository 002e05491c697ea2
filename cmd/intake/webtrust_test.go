package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestConfigCheckProxyTrust: `intake config check` refuses web.trusted_proxy_header
// without web.trusted_proxies (naming file, line and key) and says what it trusts.
func TestConfigCheckProxyTrust(t *testing.T) {
	cfg, _ := accountConfig(t)
	base, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	baseLines := strings.Count(string(base), "\n")
	tests := []struct {
		name string
		web  string
		code int
		out  []string // substrings of stdout
		err  []string // substrings of stderr
	}{
		{"header without proxies", "listen = \"127.0.0.1:8080\"\ntrusted_proxy_header = \"X-Remote-User\"\n", 1, nil,
			[]string{"intake.toml:" + strconv.Itoa(baseLines+3), "web.trusted_proxy_header", "needs web.trusted_proxies"}},
		{"header with proxies", "listen = \"127.0.0.1:8080\"\ntrusted_proxy_header = \"X-Remote-User\"\ntrusted_proxies = [\"127.0.0.1\"]\n", 0,
			[]string{"X-Remote-User", "only from 127.0.0.1/32", "X-Forwarded-For from 127.0.0.1/32"}, nil},
		{"no proxies", "listen = \"127.0.0.1:8080\"\n", 0,
			[]string{"X-Forwarded-For is ignored"}, nil},
		{"https base_url without proxies", "listen = \"127.0.0.1:8080\"\nbase_url = \"https://intake.stk.example.de\"\n", 0,
			[]string{"WARN  web: base_url is https", "set trusted_proxies"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "intake.toml")
			if err := os.WriteFile(path, append(append([]byte{}, base...), "[web]\n"+tt.web...), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := cmdConfig([]string{"check", "-offline", "-config", path}, &out, &errb)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			for _, s := range tt.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tt.err {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errb.String())
				}
			}
		})
	}
}

// TestAccountCommandsBoundNames: a 60 KB user name is refused with a short, clear
// message that does not echo it.
func TestAccountCommandsBoundNames(t *testing.T) {
	cfg, _ := accountConfig(t)
	ta := testAccounts{t, cfg}
	long := strings.Repeat("a", 60<<10)
	for _, args := range [][]string{
		{"user", "add", long, "-role", "clerk"},
		{"user", "passwd", long},
		{"user", "disable", long},
		{"token", "create", long},
		{"token", "list", long},
		{"token", "revoke", long, "abc"},
	} {
		t.Run(args[0]+" "+args[1], func(t *testing.T) {
			out, errOut, code := ta.run("Sommer-Regen-2026\n", args...)
			if code != exitUsage || !strings.Contains(errOut, "at most 64") || len(errOut)+len(out) > 1024 {
				t.Errorf("exit %d (want %d), %d bytes of output\nstderr: %.300s", code, exitUsage, len(out)+len(errOut), errOut)
			}
		})
	}
}
