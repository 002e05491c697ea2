package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAdmin(t *testing.T) {
	tests := []struct {
		name       string
		admin      string // "" = no [admin] table
		wantListen string
		wantMaxAge time.Duration
	}{
		{"defaults", "", "", 5 * time.Minute},
		{"set", "listen = \"127.0.0.1:9464\"\nready_max_age = \"90s\"", "127.0.0.1:9464", 90 * time.Second},
		{"ipv6 loopback", `listen = "[::1]:9464"`, "[::1]:9464", 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := base
			if tt.admin != "" {
				doc += "\n[admin]\n" + tt.admin + "\n"
			}
			c := mustParse(t, doc)
			if c.Admin.Listen != tt.wantListen || c.Admin.ReadyMaxAge.Duration != tt.wantMaxAge {
				t.Errorf("admin = %+v, want listen %q ready_max_age %v", c.Admin, tt.wantListen, tt.wantMaxAge)
			}
		})
	}
}

func TestAdminValidationErrors(t *testing.T) {
	// base has 29 lines; "[admin]" is line 31, the first key line 32.
	tests := []struct {
		name  string
		admin string
		want  wantErr
	}{
		{"listen without port", `listen = "127.0.0.1"`, wantErr{32, "admin.listen", "must be HOST:PORT"}},
		{"listen port 0", `listen = "127.0.0.1:0"`, wantErr{32, "admin.listen", "between 1 and 65535"}},
		{"listen bad host", `listen = "bad_host:9464"`, wantErr{32, "admin.listen", "not a valid host name"}},
		{"ready_max_age short", `ready_max_age = "10ms"`, wantErr{32, "admin.ready_max_age", "at least 1s"}},
		{"ready_max_age not a duration", `ready_max_age = "soon"`, wantErr{32, "admin.ready_max_age", ""}},
		{"unknown key", `listn = "127.0.0.1:9464"`, wantErr{32, "admin.listn", "unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Count(base, "\n"); got != 29 {
				t.Fatalf("base has %d lines; fix the line numbers of this test", got)
			}
			_, err := Parse([]byte(base+"\n[admin]\n"+tt.admin+"\n"), "intake.toml")
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

func TestAdminListenDiffersFromWeb(t *testing.T) {
	_, err := Parse([]byte(base+"\n[web]\nlisten = \"127.0.0.1:8080\"\n[admin]\nlisten = \"127.0.0.1:8080\"\n"), "intake.toml")
	if err == nil || !strings.Contains(err.Error(), "must differ from web.listen") {
		t.Errorf("err = %v, want admin.listen must differ from web.listen", err)
	}
}
