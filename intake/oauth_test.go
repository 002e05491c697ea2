package intake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	gomail "github.com/wneessen/go-mail"

	"github.com/intake-office/intake/config"
)

// tokenEndpoint is an in-process OAuth2 token endpoint (RFC 6749 §5) that
// issues numbered tokens and remembers which are valid.
type tokenEndpoint struct {
	srv       *httptest.Server
	secret    string
	refresh   string // expected refresh token ("" = client credentials)
	expiresIn int    // seconds
	fail      bool   // answer invalid_client
	mu        sync.Mutex
	requests  int
	valid     map[string]bool
}

func newTokenEndpoint(t *testing.T, expiresIn int) *tokenEndpoint {
	t.Helper()
	te := &tokenEndpoint{secret: "s3cret-client", expiresIn: expiresIn, valid: map[string]bool{}}
	te.srv = httptest.NewServer(http.HandlerFunc(te.serve))
	t.Cleanup(te.srv.Close)
	return te
}

func (te *tokenEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	te.mu.Lock()
	defer te.mu.Unlock()
	te.requests++
	_ = r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	grant := r.PostForm.Get("grant_type")
	w.Header().Set("Content-Type", "application/json")
	bad := func(code, desc string) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	switch {
	case te.fail || id != "intake" || secret != te.secret:
		bad("invalid_client", "client authentication failed")
		return
	case te.refresh == "" && grant != "client_credentials":
		bad("unsupported_grant_type", grant)
		return
	case te.refresh != "" && (grant != "refresh_token" || r.PostForm.Get("refresh_token") != te.refresh):
		bad("invalid_grant", "bad refresh token")
		return
	}
	tok := fmt.Sprintf("tok-%d", te.requests)
	te.valid[tok] = true
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": te.expiresIn})
}

func (te *tokenEndpoint) count() int {
	te.mu.Lock()
	defer te.mu.Unlock()
	return te.requests
}

func (te *tokenEndpoint) check(token string) bool {
	te.mu.Lock()
	defer te.mu.Unlock()
	return te.valid[token]
}

func (te *tokenEndpoint) config() *config.OAuth2 {
	o := &config.OAuth2{TokenURL: te.srv.URL + "/token", ClientID: "intake", ClientSecret: te.secret, Scopes: []string{"mail"}}
	if te.refresh != "" {
		o.RefreshToken = te.refresh
	}
	return o
}

func TestTokenSourceCachesAndRefreshes(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn int
		refresh   string
		wantReqs  int // after three Token calls
	}{
		{"long-lived token is reused", 3600, "", 1},
		{"token expiring within the early window is refreshed before use", 1, "", 3},
		{"refresh-token grant", 3600, "rt-1", 1},
		{"refresh-token grant, expiring token", 1, "rt-1", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTokenEndpoint(t, tt.expiresIn)
			te.refresh = tt.refresh
			ts, err := NewTokenSource(te.config())
			if err != nil {
				t.Fatal(err)
			}
			var last string
			for range 3 {
				tok, err := ts.Token()
				if err != nil {
					t.Fatal(err)
				}
				if !te.check(tok.AccessToken) {
					t.Fatalf("token %q was not issued", tok.AccessToken)
				}
				last = tok.AccessToken
			}
			if got := te.count(); got != tt.wantReqs {
				t.Errorf("token endpoint requests = %d, want %d", got, tt.wantReqs)
			}
			if want := fmt.Sprintf("tok-%d", tt.wantReqs); last != want {
				t.Errorf("last token %q, want %q", last, want)
			}
		})
	}
}

func TestTokenSourceFailureIsClear(t *testing.T) {
	te := newTokenEndpoint(t, 3600)
	te.fail = true
	ts, err := NewTokenSource(te.config())
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	if err == nil {
		t.Fatal("no error from a failing token endpoint")
	}
	msg := err.Error()
	for _, want := range []string{te.srv.URL + "/token", "invalid_client", "client authentication failed", "HTTP 400"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, te.secret) {
		t.Errorf("error %q leaks the client secret", msg)
	}
}

// saslSession is an imapmemserver session that signs in with XOAUTH2 or
// OAUTHBEARER only, checking the bearer token at the token endpoint.
type saslSession struct {
	*imapmemserver.UserSession
	mechs []string
	te    *tokenEndpoint
	user  string
	used  chan string
}

func (s *saslSession) AuthenticateMechanisms() []string { return s.mechs }

func (s *saslSession) Authenticate(mech string) (sasl.Server, error) {
	s.used <- mech
	switch mech {
	case sasl.OAuthBearer:
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if o.Username != s.user || !s.te.check(o.Token) {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			return nil
		}), nil
	case "XOAUTH2":
		return &xoauth2Server{check: func(user, token string) bool { return user == s.user && s.te.check(token) }}, nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "unsupported mechanism"}
}

// xoauth2Server is the server side of XOAUTH2.
type xoauth2Server struct {
	check  func(user, token string) bool
	failed bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		return nil, true, errors.New("invalid token")
	}
	parts := strings.Split(string(resp), "\x01")
	if len(parts) != 4 || !strings.HasPrefix(parts[0], "user=") || !strings.HasPrefix(parts[1], "auth=Bearer ") {
		return nil, true, errors.New("malformed XOAUTH2 response")
	}
	if x.check(strings.TrimPrefix(parts[0], "user="), strings.TrimPrefix(parts[1], "auth=Bearer ")) {
		return nil, true, nil
	}
	x.failed = true
	return []byte(`{"status":"401","schemes":"bearer"}`), false, nil
}

func startOAuthIMAP(t *testing.T, te *tokenEndpoint, mechs []string) (port int, used chan string) {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("poststelle@example.test", "unused-password")
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	used = make(chan string, 10)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &saslSession{UserSession: imapmemserver.NewUserSession(user), mechs: mechs, te: te,
				user: "poststelle@example.test", used: used}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port, used
}

func TestDialIMAPOAuth2(t *testing.T) {
	tests := []struct {
		name     string
		mechs    []string
		wantMech string
	}{
		{"XOAUTH2 when OAUTHBEARER is not offered", []string{"XOAUTH2"}, "XOAUTH2"},
		{"OAUTHBEARER when offered", []string{"XOAUTH2", sasl.OAuthBearer}, sasl.OAuthBearer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTokenEndpoint(t, 3600)
			port, used := startOAuthIMAP(t, te, tt.mechs)
			mc := config.Mailbox{Name: "post", IMAP: config.IMAP{Host: "127.0.0.1", Port: port, TLS: config.TLSNone,
				Username: "poststelle@example.test", Folder: "INBOX", OAuth2: te.config()}}
			c, err := DialIMAP(mc, nil)
			if err != nil {
				t.Fatalf("DialIMAP: %v", err)
			}
			defer c.Close()
			if got := <-used; got != tt.wantMech {
				t.Errorf("mechanism %q, want %q", got, tt.wantMech)
			}
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Errorf("select after sign-in: %v", err)
			}
			if te.count() != 1 {
				t.Errorf("token requests = %d, want 1", te.count())
			}
		})
	}
}

func TestDialIMAPOAuth2Failures(t *testing.T) {
	te := newTokenEndpoint(t, 3600)
	port, _ := startOAuthIMAP(t, te, []string{"XOAUTH2"})
	tests := []struct {
		name string
		user string
		fail bool
		want []string
	}{
		{"token endpoint refuses", "poststelle@example.test", true, []string{"oauth2 token from " + te.srv.URL + "/token", "invalid_client"}},
		{"server rejects the token for another user", "other@example.test", false, []string{"oauth2 sign-in to", "other@example.test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te.mu.Lock()
			te.fail = tt.fail
			te.mu.Unlock()
			mc := config.Mailbox{Name: "post", IMAP: config.IMAP{Host: "127.0.0.1", Port: port, TLS: config.TLSNone,
				Username: tt.user, Folder: "INBOX", OAuth2: te.config()}}
			c, err := DialIMAP(mc, nil)
			if err == nil {
				c.Close()
				t.Fatal("DialIMAP succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), te.secret) {
				t.Errorf("error %q leaks the client secret", err)
			}
		})
	}
}

// oauthSMTPBackend accepts mail only after AUTH XOAUTH2 with a valid token.
type oauthSMTPBackend struct {
	te   *tokenEndpoint
	user string
	mu   sync.Mutex
	got  []string // recipients of accepted mails
}

func (b *oauthSMTPBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &oauthSMTPSession{b: b}, nil
}

type oauthSMTPSession struct {
	b      *oauthSMTPBackend
	authed bool
	rcpt   string
}

func (s *oauthSMTPSession) AuthMechanisms() []string { return []string{"XOAUTH2"} }

func (s *oauthSMTPSession) Auth(mech string) (sasl.Server, error) {
	return &xoauth2Server{check: func(user, token string) bool {
		s.authed = user == s.b.user && s.b.te.check(token)
		return s.authed
	}}, nil
}

func (s *oauthSMTPSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (s *oauthSMTPSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.rcpt = to; return nil }
func (s *oauthSMTPSession) Data(r io.Reader) error {
	_, _ = io.Copy(io.Discard, r)
	s.b.mu.Lock()
	s.b.got = append(s.b.got, s.rcpt)
	s.b.mu.Unlock()
	return nil
}
func (s *oauthSMTPSession) Reset()        {}
func (s *oauthSMTPSession) Logout() error { return nil }

func TestSMTPClientOAuth2(t *testing.T) {
	tests := []struct {
		name    string
		user    string
		fail    bool
		wantErr string
	}{
		{"valid token is accepted", "poststelle@example.test", false, ""},
		{"token endpoint refuses", "poststelle@example.test", true, "invalid_client"},
		{"token for another user is rejected", "other@example.test", false, "auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTokenEndpoint(t, 3600)
			te.fail = tt.fail
			be := &oauthSMTPBackend{te: te, user: "poststelle@example.test"}
			srv := smtp.NewServer(be)
			srv.Domain = "localhost"
			srv.AllowInsecureAuth = true
			srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })

			mb := config.Mailbox{Name: "post", Address: "poststelle@example.test", SMTP: config.SMTP{Host: "127.0.0.1",
				Port: ln.Addr().(*net.TCPAddr).Port, TLS: config.TLSNone, Username: tt.user, OAuth2: te.config()}}
			err = func() error {
				c, err := NewSMTPClient(mb)
				if err != nil {
					return err
				}
				m := gomail.NewMsg()
				if err := m.From(mb.Address); err != nil {
					return err
				}
				if err := m.To("buerger@example.org"); err != nil {
					return err
				}
				m.Subject("test")
				m.SetBodyString(gomail.TypeTextPlain, "hallo")
				return c.DialAndSend(m)
			}()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				if len(be.got) != 1 {
					t.Errorf("server accepted %d mails, want 1", len(be.got))
				}
				return
			}
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), te.secret) {
				t.Errorf("error %q leaks the client secret", err)
			}
			if len(be.got) != 0 {
				t.Errorf("server accepted %d mails, want 0", len(be.got))
			}
		})
	}
}
