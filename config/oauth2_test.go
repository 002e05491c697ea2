package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withOAuth2 replaces the IMAP password of base by an oauth2 table and
// appends SMTP lines (smtp) and an SMTP oauth2 table (smtpOAuth).
func withOAuth2(t *testing.T, imapOAuth, smtp, smtpOAuth string) string {
	t.Helper()
	doc := edit(t, base, "username = \"office\"\npassword = \"secret\"\n", "username = \"office\"\n"+imapOAuth)
	if smtp != "" || smtpOAuth != "" {
		doc = edit(t, doc, "port = 1025\ntls = \"none\"\n", "port = 1025\ntls = \"none\"\n"+smtp+smtpOAuth)
	}
	return doc
}

const imapOAuthTable = `
[mailbox.imap.oauth2]
token_url = "https://login.example.test/tenant/oauth2/v2.0/token"
client_id = "intake"
client_secret = "cs-inline"
scopes = ["https://outlook.office365.com/.default"]
`

func TestOAuth2Valid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "refresh"), []byte("rt-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	smtpTable := `
[mailbox.smtp.oauth2]
token_url = "http://127.0.0.1:8080/token"
client_id = "intake"
refresh_token_file = "refresh"
`
	doc := withOAuth2(t, imapOAuthTable, "username = \"office\"\n", smtpTable)
	c, err := Parse([]byte(doc), filepath.Join(dir, "intake.toml"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	io := c.Mailboxes[0].IMAP.OAuth2
	if io == nil || io.TokenURL != "https://login.example.test/tenant/oauth2/v2.0/token" || io.ClientID != "intake" ||
		len(io.Scopes) != 1 {
		t.Fatalf("imap oauth2 = %#v", io)
	}
	if s, err := io.ResolveClientSecret(); err != nil || s != "cs-inline" {
		t.Errorf("imap client secret = %q, %v", s, err)
	}
	if s, err := io.ResolveRefreshToken(); err != nil || s != "" {
		t.Errorf("imap refresh token = %q, %v; want none (client credentials)", s, err)
	}
	so := c.Mailboxes[0].SMTP.OAuth2
	if so == nil || so.RefreshTokenFile != filepath.Join(dir, "refresh") {
		t.Fatalf("smtp oauth2 = %#v (refresh_token_file must be relative to the config file)", so)
	}
	if s, err := so.ResolveRefreshToken(); err != nil || s != "rt-file" {
		t.Errorf("smtp refresh token = %q, %v", s, err)
	}
	for _, s := range []string{fmt.Sprint(c.Mailboxes[0].IMAP), fmt.Sprintf("%#v", c.Mailboxes[0].IMAP), fmt.Sprint(io)} {
		if strings.Contains(s, "cs-inline") || !strings.Contains(s, "client_credentials") {
			t.Errorf("printed account %q: must name the flow and hide the secret", s)
		}
	}
}

func TestOAuth2Errors(t *testing.T) {
	tests := []struct {
		name           string
		imap, smtp, so string
		wantKey        string
		wantMsg        string
	}{
		{"token_url missing", strings.Replace(imapOAuthTable, "token_url", "#", 1), "", "",
			"mailbox[0].imap.oauth2.token_url", "is required"},
		{"http token_url to a remote host", strings.Replace(imapOAuthTable, "https://login", "http://login", 1), "", "",
			"mailbox[0].imap.oauth2.token_url", "only allowed for a loopback host"},
		{"client_id missing", strings.Replace(imapOAuthTable, "client_id", "#", 1), "", "",
			"mailbox[0].imap.oauth2.client_id", "is required"},
		{"neither client secret nor refresh token", strings.Replace(imapOAuthTable, "client_secret", "#", 1), "", "",
			"mailbox[0].imap.oauth2", "client_secret"},
		{"two client secret sources", imapOAuthTable + "client_secret_env = \"X\"\n", "", "",
			"mailbox[0].imap.oauth2.client_secret_env", "only one of"},
		{"refresh token env not set", imapOAuthTable + "refresh_token_env = \"INTAKE_TEST_UNSET_REFRESH\"\n", "", "",
			"mailbox[0].imap.oauth2.refresh_token_env", "is not set"},
		{"password together with oauth2", "password = \"pw\"\n" + imapOAuthTable, "", "",
			"mailbox[0].imap.password", "must not be set together"},
		{"smtp oauth2 without username", imapOAuthTable, "", strings.Replace(imapOAuthTable, "imap", "smtp", 1),
			"mailbox[0].smtp.username", "is required with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := parseErrors(t, withOAuth2(t, tt.imap, tt.smtp, tt.so))
			found := false
			for _, e := range errs {
				if e.Key == tt.wantKey && strings.Contains(e.Msg, tt.wantMsg) {
					found = true
				}
				if strings.Contains(e.Error(), "cs-inline") {
					t.Errorf("error %q shows the client secret", e)
				}
			}
			if !found {
				t.Errorf("no error %s: ...%s...; got:\n%v", tt.wantKey, tt.wantMsg, errs)
			}
		})
	}
}
