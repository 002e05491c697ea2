package intake_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/ticket"
	"github.com/intake-office/intake/web"
)

// webClient is a browser-like client of the web interface (cookies, no redirects).
type webClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newWebClient(t *testing.T, base string) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *webClient) post(path string, form url.Values) (int, string) {
	w.t.Helper()
	resp, err := w.c.PostForm(w.base+path, form)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (w *webClient) login(name, pw string) {
	w.t.Helper()
	if code, body := w.post("/login", url.Values{"name": {name}, "password": {pw}}); code != http.StatusSeeOther {
		w.t.Fatalf("login %s: %d\n%.2000s", name, code, body)
	}
}

// TestAdminAddsClerksWhileMailArrives: while citizens' mails keep arriving, an admin adds
// clerks through the web interface of the running daemon. Every mail is registered exactly
// once under a gapless reference, and every new clerk can log in.
func TestAdminAddsClerksWhileMailArrives(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	s, err := ticket.Open(p.cfg.DataDir, ticket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.store = s
	const adminPW = "Admin-Passwort-2026"
	hash, err := ticket.HashPassword(adminPW, ticket.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ticket.User{Name: "chefin", Role: ticket.RoleAdmin}, hash, time.Now()); err != nil {
		t.Fatal(err)
	}
	p.start()
	h, err := web.New(web.Options{Store: s, Config: p.cfg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	// Rounds: a batch of mails arrives, and while the daemon registers it the admin
	// adds a clerk; the next batch follows at once.
	const batch, clerks = 15, 4
	const mails = batch * (clerks + 1)
	c, err := smtp.Dial(p.sys.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sent := 0
	deliverBatch := func() {
		for range batch {
			raw := letter(citizen, fmt.Sprintf("Anliegen %d", sent), fmt.Sprintf("live-%d@example.test", sent), "", "Text")
			if err := c.SendMail(citizen, []string{office}, strings.NewReader(raw)); err != nil {
				t.Fatalf("mail %d: %v", sent, err)
			}
			sent++
		}
	}
	admin := newWebClient(t, srv.URL)
	admin.login("chefin", adminPW)
	passwords := map[string]string{}
	var during []int // messages registered when each clerk had been added
	for i := range clerks {
		deliverBatch()
		name := fmt.Sprintf("sachbearbeitung%d", i)
		code, body := admin.post("/admin/users", url.Values{"name": {name}, "role": {"clerk"}, "mailbox": {"post"}})
		if code != http.StatusOK {
			t.Fatalf("add %s: %d\n%.2000s", name, code, body)
		}
		_, rest, _ := strings.Cut(body, `<output class="mono" id="secret">`)
		pw, _, ok := strings.Cut(rest, "</output>")
		if !ok || pw == "" {
			t.Fatalf("no password shown for %s", name)
		}
		passwords[name] = pw
		during = append(during, p.count())
	}
	deliverBatch()
	waitFor(t, 60*time.Second, "every mail registered", func() bool { return p.count() >= mails })
	t.Logf("messages registered as each clerk was added: %v", during)

	cases := p.cases(ticket.Filter{})
	if len(cases) != mails || p.count() != mails {
		t.Fatalf("%d cases, %d messages; want %d each", len(cases), p.count(), mails)
	}
	checkGapless(t, cases, mails)
	seen := map[string]bool{}
	for _, c := range cases {
		for _, m := range c.Messages {
			if seen[m.MessageID] {
				t.Errorf("message %s registered twice", m.MessageID)
			}
			seen[m.MessageID] = true
		}
	}
	for i := range mails {
		if id := fmt.Sprintf("live-%d@example.test", i); !seen[id] {
			t.Errorf("mail %s not registered", id)
		}
	}
	for name, pw := range passwords {
		newWebClient(t, srv.URL).login(name, pw)
	}
	entries, _, err := s.AuditLog(ticket.AuditFilter{Actor: "chefin", Action: ticket.AuditUserAdd})
	if err != nil || len(entries) != clerks {
		t.Errorf("audit: %d user_add entries, %v; want %d", len(entries), err, clerks)
	}
}
