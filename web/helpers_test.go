package web

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/ticket"
)

// t0 is the time of the first test mail.
var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// fastArgon2 keeps logins quick in tests; the parameters travel with each hash.
var fastArgon2 = ticket.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Test accounts: name -> password.
const (
	pwAdmin = "Admin-Passwort-2026"
	pwErika = "Erika-Passwort-2026"
	pwPaul  = "Paul-Passwort-2026!"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeIndex is a SearchIndex that records Update calls and answers Search with hits.
type fakeIndex struct {
	mu      sync.Mutex
	updates []string // "seq:status"
	hits    []search.Hit
	queries []search.Query
	during  func() // called in every Search, when set
}

func (f *fakeIndex) Search(q search.Query) (search.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.during != nil {
		f.during()
	}
	f.queries = append(f.queries, q)
	return search.Result{Total: uint64(len(f.hits)), Hits: f.hits}, nil
}

func (f *fakeIndex) Update(seq uint64, status string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, fmt.Sprintf("%d:%s", seq, status))
	return nil
}

// fixture is a register with test users and mails, and the web handler on it.
type fixture struct {
	t      testing.TB
	store  *ticket.Store
	cfg    *config.Config
	clock  *clock
	h      http.Handler
	server *server
	srv    *httptest.Server
	refs   map[string]ticket.Reference // by mail name
	seqs   map[string]uint64
	uid    uint32
}

type fixtureOptions struct {
	search      SearchIndex
	proxyHeader string
	proxies     []string // web.trusted_proxies
	secure      bool
	mails       []testMail // in addition to the standard ones
	noStandard  bool
	logger      *slog.Logger
	clerks      ClerkActivity
}

// testMail is a raw mail registered in a mailbox.
type testMail struct {
	name     string
	mailbox  string
	raw      string
	received time.Time
	suppress string // suppression reason; "" = an ack is due
	sent     bool   // record the ack as sent
	linkTo   string // name of an earlier mail whose case the new case is linked to
	verified string // VerifiedBy (e.g. "dkim"): a trusted result proved the From address
}

func testConfig(secure bool, proxy string) *config.Config {
	c := &config.Config{
		DataDir: "unused",
		Office:  config.Office{Name: "Staatskanzlei Test"},
		Mailboxes: []config.Mailbox{
			{Name: "poststelle", Address: "poststelle@stk.example.de", Prefix: "STK"},
			{Name: "presse", Address: "presse@stk.example.de", Prefix: "PR"},
		},
		Web: config.Web{Listen: "127.0.0.1:8080", CookieSecure: &secure, TrustedProxyHeader: proxy},
	}
	c.ApplyDefaults()
	return c
}

func newFixture(t testing.TB, o fixtureOptions) *fixture {
	t.Helper()
	store, err := ticket.Open(t.TempDir(), ticket.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &fixture{t: t, store: store, cfg: testConfig(o.secure, o.proxyHeader), clock: &clock{t: t0.Add(30 * 24 * time.Hour)},
		refs: map[string]ticket.Reference{}, seqs: map[string]uint64{}}
	for _, u := range []struct {
		user ticket.User
		pw   string
	}{
		{ticket.User{Name: "admin", Role: ticket.RoleAdmin}, pwAdmin},
		{ticket.User{Name: "erika", Role: ticket.RoleClerk, Mailboxes: []string{"poststelle"}}, pwErika},
		{ticket.User{Name: "paul", Role: ticket.RoleClerk, Mailboxes: []string{"presse"}}, pwPaul},
		{ticket.User{Name: "gesperrt", Role: ticket.RoleAdmin}, pwAdmin},
	} {
		h, err := ticket.HashPassword(u.pw, fastArgon2)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.AddUser(u.user, h, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SetDisabled("gesperrt", true); err != nil {
		t.Fatal(err)
	}
	f.cfg.Web.TrustedProxies = o.proxies
	mails := o.mails
	if !o.noStandard {
		mails = append(standardMails(), mails...)
	}
	for _, m := range mails {
		f.register(m)
	}
	srv, h, err := newServer(Options{Store: store, Search: o.search, Config: f.cfg, Logger: o.logger, Now: f.clock.Now, Clerks: o.clerks})
	if err != nil {
		t.Fatal(err)
	}
	f.h, f.server = h, srv
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// register stores a raw mail and registers it as the daemon would.
func (f *fixture) register(m testMail) {
	f.t.Helper()
	raw := strings.ReplaceAll(m.raw, "\n", "\r\n")
	sum, size, err := f.store.StoreRaw(strings.NewReader(raw), 0)
	if err != nil {
		f.t.Fatal(err)
	}
	pm, err := mailparse.Parse(strings.NewReader(raw), mailparse.Limits{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.uid++
	msg := ticket.Message{
		Mailbox: m.mailbox, UIDValidity: 1, UID: f.uid, MessageID: pm.MessageID,
		Subject: pm.Subject, Date: pm.Date, Received: m.received, Size: size, RawSHA256: sum,
		Attachments: pm.Attachments, InReplyTo: pm.InReplyTo, References: pm.References,
	}
	if len(pm.From) > 0 {
		msg.From, msg.FromName = pm.From[0].Addr, pm.From[0].Name
	}
	for _, a := range pm.To {
		msg.To = append(msg.To, a.Addr)
	}
	if m.verified != "" {
		msg.VerifiedSender, msg.VerifiedBy = msg.From, m.verified
	}
	prefix := f.cfg.Mailbox(m.mailbox).Prefix
	in := ticket.Incoming{Prefix: prefix, Location: time.UTC, Message: msg, AckDomain: "stk.example.de"}
	if m.linkTo != "" {
		to := f.refs[m.linkTo]
		in.LinkTo = &to
	}
	if m.suppress != "" {
		in.SuppressReason = m.suppress
		in.Kind = ticket.KindAutomated
	} else {
		in.AckRecipient = msg.From
	}
	reg, err := f.store.Register(in)
	if err != nil {
		f.t.Fatal(err)
	}
	if m.sent {
		if err := f.store.RecordAck(reg.Seq, ticket.AckResult{Status: ticket.AckSent, Reply: "250 2.0.0 Ok: queued as 4XyZ", At: m.received.Add(time.Second)}); err != nil {
			f.t.Fatal(err)
		}
	}
	f.refs[m.name], f.seqs[m.name] = reg.Reference, reg.Seq
}

func (f *fixture) ref(name string) string {
	f.t.Helper()
	r, ok := f.refs[name]
	if !ok {
		f.t.Fatalf("no mail %q", name)
	}
	return r.String()
}

// standardMails: two citizen mails to poststelle (one with an attachment and an HTML
// part), a bounce-like automated one, and one to presse.
func standardMails() []testMail {
	return []testMail{
		{name: "antrag", mailbox: "poststelle", received: t0, sent: true, raw: `From: Hans =?utf-8?q?M=C3=BCller?= <hans.mueller@example.org>
To: poststelle@stk.example.de
Subject: Antrag auf Baugenehmigung
Date: Mon, 2 Mar 2026 10:29:00 +0100
Message-ID: <antrag-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: multipart/alternative; boundary="b2"

--b2
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Sehr geehrte Damen und Herren,
anbei mein Antrag f=C3=BCr die Garage.
--b2
Content-Type: text/html; charset=utf-8

<p>Sehr geehrte Damen und Herren,<br>anbei mein <b>Antrag</b> f&uuml;r die Garage.</p>
--b2--
--b1
Content-Type: application/pdf; name="bauantrag.pdf"
Content-Disposition: attachment; filename="bauantrag.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCg==
--b1--
`},
		{name: "zweite", mailbox: "poststelle", received: t0.Add(time.Hour), raw: `From: Erna Schmidt <erna@example.net>
To: poststelle@stk.example.de
Subject: Frage zur Grundsteuer
Message-ID: <frage-2@example.net>

Guten Tag, wann kommt der Bescheid?
`},
		{name: "abwesend", mailbox: "poststelle", received: t0.Add(2 * time.Hour), suppress: "AUTO_SUBMITTED", raw: `From: Max Muster <max@example.com>
To: poststelle@stk.example.de
Subject: Automatische Antwort: Ihre Nachricht
Auto-Submitted: auto-replied
Message-ID: <ooo-3@example.com>

Ich bin nicht im Haus.
`},
		{name: "presse", mailbox: "presse", received: t0.Add(3 * time.Hour), raw: `From: Redaktion <redaktion@zeitung.example>
To: presse@stk.example.de
Subject: Presseanfrage Haushalt
Message-ID: <presse-4@zeitung.example>

Bitte um Stellungnahme.
`},
	}
}

// client is a browser-like HTTP client of the fixture's server that does not follow
// redirects.
type client struct {
	t    testing.TB
	f    *fixture
	c    *http.Client
	hdr  http.Header
	base string
}

func (f *fixture) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: f.t, f: f, base: f.srv.URL, hdr: http.Header{}, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request and returns the response with its body read.
func (c *client) do(method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.hdr {
		req.Header[k] = v
	}
	if method == http.MethodPost && body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, string(b)
}

func (c *client) get(path string, hdr ...string) (*http.Response, string) {
	return c.do(http.MethodGet, path, nil, hdr...)
}

func (c *client) post(path string, form url.Values, hdr ...string) (*http.Response, string) {
	return c.do(http.MethodPost, path, strings.NewReader(form.Encode()), hdr...)
}

// login logs in and fails the test unless it worked.
func (c *client) login(name, pw string) {
	c.t.Helper()
	resp, body := c.post("/login", url.Values{"name": {name}, "password": {pw}})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: %d\n%s", name, resp.StatusCode, body)
	}
}

// loggedIn returns a client logged in as name.
func (f *fixture) loggedIn(name string) *client {
	c := f.client()
	pw := map[string]string{"admin": pwAdmin, "erika": pwErika, "paul": pwPaul}[name]
	c.login(name, pw)
	return c
}

// token creates an API token for name.
func (f *fixture) token(name string) string {
	f.t.Helper()
	tok, _, err := f.store.CreateToken(name, "test", t0)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func wantStatus(t testing.TB, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%.2000s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

func wantRedirect(t testing.TB, resp *http.Response, body, prefix string) {
	t.Helper()
	wantStatus(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, prefix) {
		t.Fatalf("Location %q, want prefix %q", loc, prefix)
	}
}
