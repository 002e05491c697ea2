package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWebDefaults(t *testing.T) {
	c := mustParse(t, base)
	w := c.Web
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", w.Listen, ""},
		{"base_url", w.BaseURL, ""},
		{"trusted_proxy_header", w.TrustedProxyHeader, ""},
		{"session_idle", w.SessionIdle.Duration, 30 * time.Minute},
		{"session_max", w.SessionMax.Duration, 12 * time.Hour},
		{"cookie_secure", w.SecureCookies(), true},
		{"request_nice", w.RequestNiceness(), -10},
	}
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			if ck.got != ck.want {
				t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
			}
		})
	}
}

func TestWebValid(t *testing.T) {
	tests := []struct {
		name  string
		web   string
		check func(t *testing.T, w Web)
	}{
		{"full", `listen = "127.0.0.1:8080"
base_url = "https://intake.stk.example.de"
trusted_proxy_header = "X-Remote-User"
trusted_proxies = ["127.0.0.1/32", "::1", "10.1.2.0/24"]
session_idle = "15m"
session_max = "8h"
cookie_secure = true`, func(t *testing.T, w Web) {
			if w.Listen != "127.0.0.1:8080" || w.BaseURL != "https://intake.stk.example.de" || w.TrustedProxyHeader != "X-Remote-User" ||
				w.SessionIdle.Duration != 15*time.Minute || w.SessionMax.Duration != 8*time.Hour || !w.SecureCookies() {
				t.Errorf("web = %+v", w)
			}
			p, err := ParsePrefixes(w.TrustedProxies)
			if err != nil || len(p) != 3 || p[0].String() != "127.0.0.1/32" || p[1].String() != "::1/128" || p[2].String() != "10.1.2.0/24" {
				t.Errorf("trusted proxies %v, %v", p, err)
			}
		}},
		{"plain http on loopback", "listen = \"[::1]:8080\"\ncookie_secure = false", func(t *testing.T, w Web) {
			if w.SecureCookies() {
				t.Error("cookie_secure = false ignored")
			}
		}},
		{"localhost", "listen = \"localhost:8080\"\ncookie_secure = false", func(t *testing.T, w Web) {}},
		{"all interfaces with secure cookies", `listen = ":8443"`, func(t *testing.T, w Web) {}},
		{"base_url with slash", `base_url = "http://127.0.0.1:8080/"`, func(t *testing.T, w Web) {}},
		{"trusted proxies without header", `trusted_proxies = ["192.0.2.0/28"]`, func(t *testing.T, w Web) {}},
		{"request_nice off", `request_nice = 0`, func(t *testing.T, w Web) {
			if w.RequestNiceness() != 0 {
				t.Errorf("request_nice = 0 read as %d", w.RequestNiceness())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, base+"\n[web]\n"+tt.web+"\n")
			tt.check(t, c.Web)
		})
	}
}

func TestWebValidationErrors(t *testing.T) {
	// base has 29 lines; "[web]" is line 31, the first key line 32.
	tests := []struct {
		name string
		web  string
		want wantErr
	}{
		{"listen without port", `listen = "127.0.0.1"`, wantErr{32, "web.listen", "must be HOST:PORT"}},
		{"listen port 0", `listen = "127.0.0.1:0"`, wantErr{32, "web.listen", "between 1 and 65535"}},
		{"listen port text", `listen = "127.0.0.1:http"`, wantErr{32, "web.listen", "between 1 and 65535"}},
		{"listen bad host", `listen = "bad_host:8080"`, wantErr{32, "web.listen", "not a valid host name"}},
		{"base_url relative", `base_url = "intake.example.de"`, wantErr{32, "web.base_url", "absolute http or https URL"}},
		{"base_url with path", `base_url = "https://x.example.de/intake"`, wantErr{32, "web.base_url", "scheme and host only"}},
		{"base_url ftp", `base_url = "ftp://x.example.de"`, wantErr{32, "web.base_url", "absolute http or https URL"}},
		{"header invalid", `trusted_proxy_header = "X Remote User"`, wantErr{32, "web.trusted_proxy_header", "not a valid header name"}},
		{"header standard", `trusted_proxy_header = "Authorization"`, wantErr{32, "web.trusted_proxy_header", "standard header"}},
		{"header without trusted proxies", `trusted_proxy_header = "X-Remote-User"`, wantErr{32, "web.trusted_proxy_header", "needs web.trusted_proxies"}},
		{"header with empty trusted proxies", "listen = \"127.0.0.1:8080\"\ntrusted_proxy_header = \"X-Remote-User\"\ntrusted_proxies = []", wantErr{33, "web.trusted_proxy_header", "needs web.trusted_proxies"}},
		{"trusted proxy not a network", `trusted_proxies = ["proxy.example.de"]`, wantErr{32, "web.trusted_proxies", "not an IP network"}},
		{"trusted proxy everyone", `trusted_proxies = ["0.0.0.0/0"]`, wantErr{32, "web.trusted_proxies", "trusts every address"}},
		{"session_idle short", `session_idle = "10s"`, wantErr{32, "web.session_idle", "at least 1m"}},
		{"session_max below idle", "session_idle = \"2h\"\nsession_max = \"1h\"", wantErr{33, "web.session_max", "at least session_idle"}},
		{"insecure cookie on network", "listen = \"0.0.0.0:8080\"\ncookie_secure = false", wantErr{33, "web.cookie_secure", "only allowed when listen is a loopback address"}},
		{"insecure cookie on all interfaces", "listen = \":8080\"\ncookie_secure = false", wantErr{33, "web.cookie_secure", "loopback"}},
		{"unknown key", `listn = "127.0.0.1:8080"`, wantErr{32, "web.listn", "unknown key"}},
		{"wrong type", `cookie_secure = "yes"`, wantErr{32, "web.cookie_secure", "must be true or false"}},
		{"request_nice lowers", `request_nice = 5`, wantErr{32, "web.request_nice", "between -20 (first) and 0 (off), got 5"}},
		{"request_nice beyond -20", `request_nice = -21`, wantErr{32, "web.request_nice", "got -21"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := base + "\n[web]\n" + tt.web + "\n"
			if got := strings.Count(base, "\n"); got != 29 {
				t.Fatalf("base has %d lines; fix the line numbers of this test", got)
			}
			_, err := Parse([]byte(doc), "intake.toml")
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want Errors", err)
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
