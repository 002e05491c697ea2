package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/intake-office/intake/ticket"
)

// The browser tests drive a real headless Chromium (Debian's package, /usr/bin/chromium,
// or $INTAKE_CHROMIUM) with chromedp against httptest servers. Without Chromium they
// skip, unless $CI or $INTAKE_REQUIRE_REAL_SERVERS is set: then they fail, so that CI
// cannot pass without running them.

func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("INTAKE_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		msg := "Chromium not found at " + p + " (apt-get install -y chromium): " + err.Error()
		if os.Getenv("CI") != "" || os.Getenv("INTAKE_REQUIRE_REAL_SERVERS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// newBrowser starts a headless Chromium with a fresh profile and returns a tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // CI containers run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first Do starts the browser; its context must not carry a timeout (it would end
	// the browser), so the steps get theirs in do and get.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

const stepTimeout = 20 * time.Second

// do runs steps in the tab; on failure it reports the page it is on.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		failPage(t, ctx, what, err)
	}
}

// get runs one action that reads a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		failPage(t, ctx, what, err)
	}
	return v
}

func failPage(t *testing.T, ctx context.Context, what string, err error) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(sctx, chromedp.Location())
	html, _ := chromedp.Run(sctx, chromedp.OuterHTML(chromedp.CSS("html")))
	t.Fatalf("%s: %v\nat %s\n%.3000s", what, err, loc, html)
}

// browserLogin logs in through the login form, by keyboard only.
func browserLogin(t *testing.T, ctx context.Context, base, name, pw string) {
	t.Helper()
	do(t, ctx, "log in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), pw+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#q")),
	)
}

func TestBrowserClerkFlow(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := newBrowser(t)
	base := f.srv.URL
	ref := f.ref("zweite")
	// A mistyped reference, typed sloppily: lower case, spaces, a wrong check digit.
	typo := strings.ToLower(ref[:len(ref)-1]) + string("0123456789"[(int(ref[len(ref)-1]-'0')+3)%10])
	typo = strings.ReplaceAll(typo, "-", " ")
	if _, err := ticket.ParseReference(typo); err == nil {
		t.Fatalf("typo %q is valid", typo)
	}

	// Not logged in: a case page sends the browser to the login, the API answers 401.
	do(t, ctx, "open a case without login",
		chromedp.Navigate(base+"/cases/"+ref),
		chromedp.WaitVisible(chromedp.CSS("#name")),
	)
	if loc := get(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "/login?next=") {
		t.Errorf("without login at %s", loc)
	}
	resp := get(t, ctx, "API without token", chromedp.NavigateResponse(base+"/api/cases"))
	text := get(t, ctx, "API body", chromedp.Text(chromedp.CSS("body")))
	if resp.Status != http.StatusUnauthorized || !strings.Contains(text, "authentication required") || strings.Contains(text, ref) {
		t.Errorf("API without token: %d %s", resp.Status, text)
	}
	// Keyboard: the first Tab reaches the skip link.
	do(t, ctx, "skip link",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.KeyEvent(kb.Tab),
	)
	if focused := get(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.textContent`)); focused != "Zum Inhalt springen" {
		t.Errorf("first Tab focuses %q, want the skip link", focused)
	}

	// The fixture's clock stands still; it moves on after each audited step, as a real
	// clock does. With equal times the audit log orders by commit, and a view or search
	// is committed up to 100 ms after it happened (AppendAuditDeferred), so a change
	// right after it would be listed before it.
	tick := func() { f.clock.Advance(time.Millisecond) }
	browserLogin(t, ctx, base, "erika", pwErika)
	tick()
	do(t, ctx, "search a mistyped reference",
		chromedp.SendKeys(chromedp.CSS("#q"), typo+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("section.didyoumean")),
	)
	if text := get(t, ctx, "did-you-mean", chromedp.Text(chromedp.CSS("section.didyoumean"))); !strings.Contains(text, "Meinten Sie") || !strings.Contains(text, ref) {
		t.Fatalf("did-you-mean: %q", text)
	}
	tick()
	do(t, ctx, "open the suggested case",
		chromedp.Click(chromedp.CSS(`section.didyoumean a[href="/cases/`+ref+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("h1 .ref")),
	)
	tick()
	shown := get(t, ctx, "reference", chromedp.Text(chromedp.CSS("h1 .ref")))
	status := get(t, ctx, "status", chromedp.Text(chromedp.CSS("dl.meta .status")))
	if shown != ref || status != "neu" {
		t.Fatalf("case page shows %q with status %q", shown, status)
	}
	do(t, ctx, "change the status",
		chromedp.Click(chromedp.CSS(`form[action$="/status"] button`)),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
	)
	notice := get(t, ctx, "notice", chromedp.Text(chromedp.CSS("p.notice")))
	status = get(t, ctx, "status", chromedp.Text(chromedp.CSS("dl.meta .status")))
	if notice != "Der Status wurde geändert." || status != "in Bearbeitung" {
		t.Errorf("after the change: %q, status %q", notice, status)
	}
	if c, _ := f.store.Lookup(f.refs["zweite"]); c.Status != ticket.StatusInProgress {
		t.Errorf("register status %s", c.Status)
	}
	tick()
	do(t, ctx, "log out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#name")),
	)
	if notice := get(t, ctx, "notice", chromedp.Text(chromedp.CSS("p.notice"))); notice != "Sie wurden abgemeldet." {
		t.Errorf("logout notice %q", notice)
	}
	do(t, ctx, "the case after logout",
		chromedp.Navigate(base+"/cases/"+ref),
		chromedp.WaitVisible(chromedp.CSS("#name")),
	)
	if loc := get(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "/login") {
		t.Errorf("after logout at %s", loc)
	}
	entries, _, _ := f.store.AuditLog(ticket.AuditFilter{Actor: "erika"})
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); got != "logout,view,status,view,search,login" {
		t.Errorf("audit %s", got)
	}
}

// withoutCSP removes the Content-Security-Policy of every response: the sanitiser alone
// must hold.
func withoutCSP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(noCSPWriter{w}, r)
	})
}

type noCSPWriter struct{ http.ResponseWriter }

func (w noCSPWriter) WriteHeader(code int) {
	w.Header().Del("Content-Security-Policy")
	w.ResponseWriter.WriteHeader(code)
}

func (w noCSPWriter) Write(b []byte) (int, error) {
	w.Header().Del("Content-Security-Policy")
	return w.ResponseWriter.Write(b)
}

func TestBrowserHostileMail(t *testing.T) {
	for _, tt := range []struct {
		name string
		csp  bool
	}{{"with CSP", true}, {"sanitiser alone", false}} {
		t.Run(tt.name, func(t *testing.T) {
			remote := newRemoteServer(t)
			f := newFixture(t, fixtureOptions{mails: hostileMails(remote.URL)})
			base := f.srv.URL
			if !tt.csp {
				srv := httptest.NewServer(withoutCSP(f.h))
				t.Cleanup(srv.Close)
				base = srv.URL
			}
			ctx := newBrowser(t)
			browserLogin(t, ctx, base, "erika", pwErika)

			hostile, htmlonly := f.ref("hostile"), f.ref("htmlonly")
			pages := []struct {
				name, path, wantText string
			}{
				{"result list", "/", "window.__pwned='subject2'"},
				{"search by subject", "/?q=" + "Hallo", "window.__pwned='subject2'"},
				{"case, text view", "/cases/" + hostile, "<script>window.__pwned='text'</script>"},
				{"case, HTML view", "/cases/" + hostile + "?html=" + uintString(f.seqs["hostile"]), "Hostile HTML text"},
				{"HTML-only mail, text view", "/cases/" + htmlonly, "Gewinn!"},
				{"HTML-only mail, HTML view", "/cases/" + htmlonly + "?html=" + uintString(f.seqs["htmlonly"]), "Gewinn!"},
			}
			for _, p := range pages {
				do(t, ctx, p.name,
					chromedp.Navigate(base+p.path),
					chromedp.WaitReady(chromedp.CSS("footer")),
				)
				// Click every link of the mail that has no http(s) target (the javascript:
				// and data: links, if any survived the sanitiser).
				get(t, ctx, "click links", chromedp.Evaluate[int](`(() => { let n = 0;
					document.querySelectorAll('.mail-html a').forEach(a => {
						if (!/^https?:/i.test(a.getAttribute('href') || '')) { a.click(); n++; } });
					return n; })()`))
				do(t, ctx, "wait", chromedp.Sleep(300*time.Millisecond))
				pwned := get(t, ctx, "flag", chromedp.Evaluate[string](`String(window.__pwned) + (window.top.__pwned ? " (top)" : "")`))
				active := get(t, ctx, "active elements", chromedp.Evaluate[int](
					`document.querySelectorAll('img[src]:not([src=""]), iframe, object, embed, script, svg, video, audio, base, meta[http-equiv]').length`))
				body := get(t, ctx, "text", chromedp.Text(chromedp.CSS("main")))
				loc := get(t, ctx, "location", chromedp.Location())
				if pwned != "undefined" {
					t.Errorf("%s: a script ran: window.__pwned = %s", p.name, pwned)
				}
				if active != 0 {
					t.Errorf("%s: %d active elements in the page", p.name, active)
				}
				if !strings.Contains(body, p.wantText) {
					t.Errorf("%s: the page does not show %q:\n%.2000s", p.name, p.wantText, body)
				}
				if !strings.HasPrefix(loc, base) {
					t.Errorf("%s: the browser left to %s", p.name, loc)
				}
			}
			if n, urls := remote.requests(); n != 0 {
				t.Errorf("the remote host got %d requests: %v", n, urls)
			}

			// The harness can see a script and a remote request: a page without our
			// protection sets the flag and loads from remote.
			control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte(`<!DOCTYPE html><title>control</title><script>window.__pwned='control'</script><img src="` + remote.URL + `/control.png">`))
			}))
			defer control.Close()
			do(t, ctx, "control page", chromedp.Navigate(control.URL), chromedp.Sleep(300*time.Millisecond))
			pwned := get(t, ctx, "control flag", chromedp.Evaluate[string](`String(window.__pwned)`))
			if n, _ := remote.requests(); pwned != "control" || n != 1 {
				t.Errorf("control page: flag %q, %d remote requests; the test cannot see what it looks for", pwned, n)
			}
		})
	}
}
