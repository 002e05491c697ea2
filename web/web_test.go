package web

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/ticket"
)

func TestUnauthenticated(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.client()
	ref := f.ref("antrag")
	pages := []struct {
		method, path string
		want         string // Location prefix
	}{
		{"GET", "/", "/login"},
		{"GET", "/?q=Baugenehmigung", "/login?next=%2F%3Fq%3DBaugenehmigung"},
		{"GET", "/cases/" + ref, "/login?next=%2Fcases%2F" + ref},
		{"GET", "/cases/" + ref + "/messages/1/raw", "/login"},
		{"GET", "/cases/" + ref + "/messages/1/attachments/0", "/login"},
		{"GET", "/admin/audit", "/login"},
		{"GET", "/nonexistent", "/login"},
		{"POST", "/cases/" + ref + "/status", "/login"},
		{"POST", "/cases/" + ref + "/note", "/login"},
		{"POST", "/cases/" + ref + "/assign", "/login"},
	}
	for _, tt := range pages {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := c.do(tt.method, tt.path, strings.NewReader("status=in_progress&note=x&assignee=erika"))
			wantRedirect(t, resp, body, tt.want)
			if strings.Contains(body, "Antrag auf Baugenehmigung") || strings.Contains(body, "hans.mueller") {
				t.Errorf("case data without login:\n%s", body)
			}
		})
	}
	if cs, _ := f.store.Lookup(f.refs["antrag"]); cs.Status != ticket.StatusNew {
		t.Errorf("status changed without login: %s", cs.Status)
	}
	if w, _ := f.store.CaseworkOf(f.refs["antrag"]); len(w.Notes) != 0 || w.Assignee != "" {
		t.Errorf("casework changed without login: %+v", w)
	}
	apis := []struct {
		method, path, auth string
	}{
		{"GET", "/api/cases", ""},
		{"GET", "/api/cases/" + ref, ""},
		{"POST", "/api/cases/" + ref + "/status", ""},
		{"GET", "/api/nothing", ""},
		{"GET", "/api/cases", "Bearer itk_wrong"},
		{"GET", "/api/cases", "Basic YWRtaW46eA=="},
		{"GET", "/api/cases", "Bearer "},
	}
	for _, tt := range apis {
		t.Run("api "+tt.method+" "+tt.path+" "+tt.auth, func(t *testing.T) {
			resp, body := c.do(tt.method, tt.path, strings.NewReader(`{"status":"in_progress"}`), "Authorization", tt.auth)
			wantStatus(t, resp, body, http.StatusUnauthorized)
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			if !strings.Contains(body, `"error"`) || strings.Contains(body, "Baugenehmigung") {
				t.Errorf("body %s", body)
			}
		})
	}
	// What is served without login: the login page and the style sheet.
	for _, p := range []string{"/login", "/static/style.css"} {
		resp, body := c.get(p)
		wantStatus(t, resp, body, http.StatusOK)
	}
	resp, body := c.get("/static/")
	wantStatus(t, resp, body, http.StatusNotFound)
}

func TestLoginLogout(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.client()

	fails := []struct{ name, user, pw string }{
		{"wrong password", "erika", "falsch-falsch-falsch"},
		{"unknown user", "niemand", pwErika},
		{"disabled user", "gesperrt", pwAdmin},
		{"empty", "", ""},
	}
	for _, tt := range fails {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := c.post("/login", url.Values{"name": {tt.user}, "password": {tt.pw}})
			wantStatus(t, resp, body, http.StatusOK)
			if !strings.Contains(body, "Benutzername oder Passwort ist falsch.") {
				t.Errorf("no error message:\n%s", body)
			}
			if len(resp.Cookies()) != 0 && resp.Cookies()[0].Value != "" {
				t.Errorf("cookie set on failed login: %v", resp.Cookies())
			}
		})
	}

	resp, body := c.post("/login", url.Values{"name": {"Erika"}, "password": {pwErika}, "next": {"/cases/" + f.ref("zweite")}})
	wantRedirect(t, resp, body, "/cases/"+f.ref("zweite"))
	var sc *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "intake_session" {
			sc = ck
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/" || len(sc.Value) < 43 {
		t.Fatalf("session cookie %+v", sc)
	}
	resp, body = c.get("/")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "<strong>erika</strong>") || !strings.Contains(body, "Antrag auf Baugenehmigung") {
		t.Errorf("start page:\n%s", body)
	}
	// The login page of a logged-in user goes on to next.
	resp, body = c.get("/login?next=/admin/audit")
	wantRedirect(t, resp, body, "/admin/audit")

	resp, body = c.post("/logout", nil)
	wantRedirect(t, resp, body, "/login?done=logout")
	if f.sessions() != 0 {
		t.Errorf("%d sessions after logout", f.sessions())
	}
	resp, body = c.get("/")
	wantRedirect(t, resp, body, "/login")
	// The old cookie is dead even when replayed.
	c2 := f.client()
	resp, body = c2.get("/", "Cookie", "intake_session="+sc.Value)
	wantRedirect(t, resp, body, "/login")

	entries, _, _ := f.store.AuditLog(ticket.AuditFilter{})
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Actor+" "+e.Action)
	}
	for _, want := range []string{"erika login", "erika logout", "erika login_failed", "niemand login_failed", "gesperrt login_failed"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit log lacks %q: %q", want, actions)
		}
	}
}

// sessions counts the sessions of the fixture's server.
func (f *fixture) sessions() int { return f.server.sessions.count() }

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/cases/STK-2026-000001-4", "/cases/STK-2026-000001-4"},
		{"/?q=a&status=new", "/?q=a&status=new"},
		{"//evil.example/x", "/"},
		{`/\evil.example`, "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"/login?next=/x", "/"},
		{"/ok\r\nSet-Cookie: x=1", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := safeNext(tt.in); got != tt.want {
				t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	f := newFixture(t, fixtureOptions{noStandard: true})
	resp, body := f.client().post("/login", url.Values{"name": {"erika"}, "password": {pwErika}, "next": {"//evil.example/"}})
	wantRedirect(t, resp, body, "/")
	if loc := resp.Header.Get("Location"); loc != "/" {
		t.Errorf("Location %q", loc)
	}
}

func TestSessionTimeouts(t *testing.T) {
	tests := []struct {
		name  string
		steps []time.Duration // requests after these pauses; the last must fail
	}{
		{"idle", []time.Duration{29 * time.Minute, 30 * time.Minute}},
		{"absolute", append(slices.Repeat([]time.Duration{25 * time.Minute}, 28), 25*time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{noStandard: true})
			c := f.loggedIn("erika")
			for i, d := range tt.steps {
				f.clock.Advance(d)
				resp, body := c.get("/")
				last := i == len(tt.steps)-1
				if last {
					wantRedirect(t, resp, body, "/login")
				} else {
					wantStatus(t, resp, body, http.StatusOK)
				}
			}
		})
	}
}

func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true})
	c := f.client()
	for i := range userThreshold {
		resp, body := c.post("/login", url.Values{"name": {"erika"}, "password": {"falsch-falsch-" + string(rune('a'+i))}})
		wantStatus(t, resp, body, http.StatusOK)
	}
	// Now even the right password waits 1 s, then 2 s after the next failure.
	resp, body := c.post("/login", url.Values{"name": {"erika"}, "password": {pwErika}})
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") != "1" || !strings.Contains(body, "Zu viele fehlgeschlagene Anmeldungen") {
		t.Errorf("Retry-After %q\n%s", resp.Header.Get("Retry-After"), body)
	}
	// Another user name is not affected.
	c.login("paul", pwPaul)
	f.clock.Advance(time.Second)
	resp, body = c.post("/login", url.Values{"name": {"erika"}, "password": {"noch-einmal-falsch"}})
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = c.post("/login", url.Values{"name": {"erika"}, "password": {pwErika}})
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q after 6 failures", resp.Header.Get("Retry-After"))
	}
	f.clock.Advance(2 * time.Second)
	c.login("erika", pwErika)
	// The success reset the count.
	resp, body = c.post("/login", url.Values{"name": {"erika"}, "password": {"wieder-falsch-123"}})
	wantStatus(t, resp, body, http.StatusOK)

	// Per address: 20 failures with changing names block the address.
	f.addRaters(ipThreshold)
	for i := range ipThreshold {
		c.post("/login", url.Values{"name": {fmt.Sprintf("rater%02d", i)}, "password": {"x-x-x-x-x-x-x"}})
	}
	resp, body = c.post("/login", url.Values{"name": {"admin"}, "password": {pwAdmin}})
	wantStatus(t, resp, body, http.StatusTooManyRequests)
}

func TestDelay(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{{0, 0}, {4, 0}, {5, time.Second}, {6, 2 * time.Second}, {9, 16 * time.Second}, {14, 512 * time.Second}, {15, maxDelay}, {100, maxDelay}}
	for _, tt := range tests {
		if got := delay(tt.n, 5); got != tt.want {
			t.Errorf("delay(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestDisabledUserLosesSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true})
	c := f.loggedIn("erika")
	resp, body := c.get("/")
	wantStatus(t, resp, body, http.StatusOK)
	if err := f.store.SetDisabled("erika", true); err != nil {
		t.Fatal(err)
	}
	resp, body = c.get("/")
	wantRedirect(t, resp, body, "/login")
}

func TestAccessRules(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	post, presse := f.ref("antrag"), f.ref("presse")
	tests := []struct {
		user        string
		see, notSee []string
		audit       int
	}{
		{"erika", []string{post}, []string{presse}, http.StatusForbidden},
		{"paul", []string{presse}, []string{post}, http.StatusForbidden},
		{"admin", []string{post, presse}, nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			c := f.loggedIn(tt.user)
			_, list := c.get("/")
			tok := f.token(tt.user)
			_, apiList := c.get("/api/cases", "Authorization", "Bearer "+tok)
			for _, ref := range tt.see {
				resp, body := c.get("/cases/" + ref)
				wantStatus(t, resp, body, http.StatusOK)
				if !strings.Contains(list, ref) || !strings.Contains(apiList, ref) {
					t.Errorf("%s not listed for %s", ref, tt.user)
				}
				resp, body = c.get("/api/cases/"+ref, "Authorization", "Bearer "+tok)
				wantStatus(t, resp, body, http.StatusOK)
			}
			for _, ref := range tt.notSee {
				for _, p := range []string{"/cases/" + ref, "/cases/" + ref + "/messages/4/raw", "/?q=" + ref} {
					resp, body := c.get(p)
					if p[1] == '?' {
						wantStatus(t, resp, body, http.StatusOK)
						if strings.Contains(body, `href="/cases/`+ref) {
							t.Errorf("%s finds %s", tt.user, ref)
						}
						continue
					}
					wantStatus(t, resp, body, http.StatusNotFound)
				}
				resp, body := c.post("/cases/"+ref+"/status", url.Values{"status": {"in_progress"}})
				wantStatus(t, resp, body, http.StatusNotFound)
				if strings.Contains(list, ref) || strings.Contains(apiList, ref) {
					t.Errorf("%s listed for %s", ref, tt.user)
				}
				resp, body = c.get("/api/cases/"+ref, "Authorization", "Bearer "+tok)
				wantStatus(t, resp, body, http.StatusNotFound)
				resp, body = c.do("POST", "/api/cases/"+ref+"/status", strings.NewReader(`{"status":"in_progress"}`), "Authorization", "Bearer "+tok)
				wantStatus(t, resp, body, http.StatusNotFound)
			}
			resp, body := c.get("/admin/audit")
			wantStatus(t, resp, body, tt.audit)
			// A mailbox filter outside the grants shows nothing.
			if tt.user == "erika" {
				_, body := c.get("/?mailbox=presse")
				if strings.Contains(body, presse) {
					t.Errorf("mailbox filter leaks %s", presse)
				}
			}
		})
	}
	for _, ref := range []string{post, presse} {
		if cs, _ := f.store.Lookup(mustRef(t, ref)); cs.Status != ticket.StatusNew {
			t.Errorf("%s changed by a user who may not see it", ref)
		}
	}
}

func mustRef(t testing.TB, s string) ticket.Reference {
	t.Helper()
	r, err := ticket.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCrossOriginPostRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.loggedIn("erika")
	ref := f.ref("antrag")
	tok := f.token("erika")
	tests := []struct {
		name string
		hdr  []string
	}{
		{"fetch metadata cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"fetch metadata same-site", []string{"Sec-Fetch-Site", "same-site"}},
		{"origin of another host", []string{"Origin", "http://evil.example"}},
		{"origin null", []string{"Origin", "null"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := c.post("/cases/"+ref+"/status", url.Values{"status": {"in_progress"}}, tt.hdr...)
			wantStatus(t, resp, body, http.StatusForbidden)
			resp, body = c.post("/cases/"+ref+"/note", url.Values{"note": {"csrf"}}, tt.hdr...)
			wantStatus(t, resp, body, http.StatusForbidden)
			resp, body = c.post("/logout", nil, tt.hdr...)
			wantStatus(t, resp, body, http.StatusForbidden)
			resp, body = c.do("POST", "/api/cases/"+ref+"/status", strings.NewReader(`{"status":"in_progress"}`),
				append([]string{"Authorization", "Bearer " + tok}, tt.hdr...)...)
			wantStatus(t, resp, body, http.StatusForbidden)
			// A login form posted from another site is refused too (login CSRF).
			resp, body = f.client().post("/login", url.Values{"name": {"erika"}, "password": {pwErika}}, tt.hdr...)
			wantStatus(t, resp, body, http.StatusForbidden)
		})
	}
	if cs, _ := f.store.Lookup(f.refs["antrag"]); cs.Status != ticket.StatusNew {
		t.Fatalf("cross-origin POST changed the status to %s", cs.Status)
	}
	if w, _ := f.store.CaseworkOf(f.refs["antrag"]); len(w.Notes) != 0 {
		t.Fatalf("cross-origin POST added a note")
	}
	// The same request from the same origin works.
	resp, body := c.post("/cases/"+ref+"/status", url.Values{"status": {"in_progress"}}, "Sec-Fetch-Site", "same-origin", "Origin", f.srv.URL)
	wantRedirect(t, resp, body, "/cases/"+ref+"?done=status")
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.loggedIn("erika")
	tok := f.token("erika")
	ref := f.ref("antrag")
	paths := []struct {
		path  string
		hdr   []string
		cache string
	}{
		{"/login", nil, "no-store"},
		{"/", nil, "no-store"},
		{"/cases/" + ref, nil, "no-store"},
		{"/nonexistent", nil, "no-store"},
		{"/api/cases", []string{"Authorization", "Bearer " + tok}, "no-store"},
		{"/api/cases", nil, "no-store"},
		{"/static/style.css", nil, "no-cache"},
	}
	for _, tt := range paths {
		t.Run(tt.path, func(t *testing.T) {
			resp, _ := c.get(tt.path, tt.hdr...)
			h := resp.Header
			want := map[string]string{
				"Content-Security-Policy":      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
				"X-Content-Type-Options":       "nosniff",
				"X-Frame-Options":              "DENY",
				"Referrer-Policy":              "no-referrer",
				"Cross-Origin-Opener-Policy":   "same-origin",
				"Cross-Origin-Resource-Policy": "same-origin",
				"Cache-Control":                tt.cache,
			}
			for k, v := range want {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			if h.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS on plain HTTP without an https base_url")
			}
		})
	}
	_, page := c.get("/")
	if strings.Contains(page, "<script") || strings.Contains(page, " style=") || strings.Contains(page, " on") && regexp.MustCompile(` on[a-z]+=`).MatchString(page) {
		t.Error("the page itself uses script or inline style, which the CSP forbids")
	}
}

func TestSecureCookie(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true, secure: true})
	resp, body := f.client().post("/login", url.Values{"name": {"erika"}, "password": {pwErika}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	var sc *http.Cookie
	for _, ck := range resp.Cookies() {
		sc = ck
	}
	if sc == nil || sc.Name != "__Host-intake_session" || !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Domain != "" {
		t.Errorf("cookie %+v", sc)
	}
}

func TestDidYouMean(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	// A few more cases so that candidates have neighbours that exist.
	for i := range 12 {
		f.register(testMail{name: "extra" + string(rune('a'+i)), mailbox: "poststelle", received: t0.Add(time.Duration(10+i) * time.Hour),
			raw: "From: a@example.org\nTo: poststelle@stk.example.de\nSubject: Extra\nMessage-ID: <extra-" + string(rune('a'+i)) + "@x>\n\nx\n"})
	}
	c := f.loggedIn("erika")
	ref := f.refs["zweite"] // STK-2026-000002-?
	canon := ref.String()
	digits := canon[4:8] + canon[9:15] + canon[16:]
	mk := func(d string) string { return "STK-" + d[:4] + "-" + d[4:10] + "-" + d[10:] }
	swap := func(d string, i int) string { b := []byte(d); b[i], b[i+1] = b[i+1], b[i]; return string(b) }
	set := func(d string, i int, c byte) string { b := []byte(d); b[i] = c; return string(b) }
	wrongCheck := set(digits, 10, "0123456789"[(int(digits[10]-'0')+1)%10])
	tests := []struct {
		name, q string
	}{
		{"wrong check digit", mk(wrongCheck)},
		{"wrong digit in number", mk(set(digits, 9, '7'))},
		{"swapped digits", mk(swap(digits, 8))},
		{"sloppy spelling", strings.ToLower(strings.ReplaceAll(mk(wrongCheck), "-", " "))},
		{"no separators", strings.ReplaceAll(mk(set(digits, 9, '9')), "-", "")},
		{"short number", "stk 2026 2 " + wrongCheck[10:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ticket.ParseReference(tt.q); err == nil {
				// The fixture is deterministic: a valid query here means the
				// test data is wrong, not that the case may be skipped.
				t.Fatalf("test query %q is a valid reference; each query must carry one error", tt.q)
			}
			resp, body := c.get("/?q=" + url.QueryEscape(tt.q))
			wantStatus(t, resp, body, http.StatusOK)
			if !strings.Contains(body, "Meinten Sie") || !strings.Contains(body, `href="/cases/`+canon+`"`) {
				t.Fatalf("no suggestion %s for %q:\n%s", canon, tt.q, body)
			}
			// Every suggestion exists, is visible and is one error away.
			for _, m := range regexp.MustCompile(`<li><a href="/cases/([^"]+)"`).FindAllStringSubmatch(body, -1) {
				r := mustRef(t, m[1])
				cs, err := f.store.Lookup(r)
				if err != nil || cs.Mailbox != "poststelle" {
					t.Errorf("suggestion %s: %v", m[1], err)
				}
			}
			// The API says the same.
			resp, body = c.get("/api/cases?q="+url.QueryEscape(tt.q), "Authorization", "Bearer "+f.token("erika"))
			wantStatus(t, resp, body, http.StatusOK)
			var out apiList
			if err := json.Unmarshal([]byte(body), &out); err != nil || !out.CheckDigit || !slices.Contains(out.DidYouMean, canon) {
				t.Errorf("api: %v %+v", err, out)
			}
		})
	}
	t.Run("exact sloppy reference opens the case", func(t *testing.T) {
		resp, body := c.get("/?q=" + url.QueryEscape(" "+strings.ToLower(strings.ReplaceAll(canon, "-", " "))+" "))
		wantRedirect(t, resp, body, "/cases/"+canon)
	})
	t.Run("valid reference without case", func(t *testing.T) {
		missing := ticket.Reference{Prefix: "STK", Year: 2026, Number: 999}
		_, body := c.get("/?q=" + missing.String())
		if !strings.Contains(body, "Kein Vorgang mit der Vorgangsnummer "+missing.String()) {
			t.Errorf("no not-found notice:\n%s", body)
		}
	})
	t.Run("no suggestion of an invisible case", func(t *testing.T) {
		pr := f.refs["presse"].String()
		bad := pr[:len(pr)-1] + string("0123456789"[(int(pr[len(pr)-1]-'0')+1)%10])
		_, body := c.get("/?q=" + bad)
		if !strings.Contains(body, "Prüfziffer") || strings.Contains(body, pr) {
			t.Errorf("erika is offered %s:\n%s", pr, body)
		}
		_, body = f.loggedIn("paul").get("/?q=" + bad)
		if !strings.Contains(body, `href="/cases/`+pr+`"`) {
			t.Errorf("paul is not offered %s", pr)
		}
	})
}

func TestReferenceCandidates(t *testing.T) {
	// For every single-digit error and adjacent swap of many references, the original
	// is among the candidates, and every candidate is valid and one error away.
	for _, n := range []uint64{1, 2, 42, 999, 123456, 987654, 1234567} {
		ref := ticket.Reference{Prefix: "STK", Year: 2026, Number: n}
		canon := ref.String()
		digits := strings.ReplaceAll(canon[4:], "-", "")
		var typos []string
		for i := range digits {
			for c := byte('0'); c <= '9'; c++ {
				if c != digits[i] {
					typos = append(typos, digits[:i]+string(c)+digits[i+1:])
				}
			}
			if i+1 < len(digits) && digits[i] != digits[i+1] {
				typos = append(typos, digits[:i]+string(digits[i+1])+string(digits[i])+digits[i+2:])
			}
		}
		for _, typo := range typos {
			in := "STK" + typo
			if _, err := ticket.ParseReference(in); err == nil {
				t.Fatalf("%s: typo %s passes the check digit", canon, in)
			}
			cands := referenceCandidates(in, []string{"STK", "PR"})
			found := false
			for _, c := range cands {
				found = found || c == ref
				if c.String()[:3] != "STK" {
					t.Errorf("candidate %s of %s has another prefix", c, in)
				}
			}
			if !found {
				t.Errorf("%s: candidates of %s lack it: %v", canon, in, cands)
			}
		}
	}
	tests := []struct {
		in   string
		none bool
	}{
		{"", true}, {"STK", true}, {"2026000042", true}, {"Müller-2026-1-2", true}, {"stk-2026-000042-1", false},
		{"A1-2026-000001-0", false},
	}
	for _, tt := range tests {
		if got := referenceCandidates(tt.in, []string{"STK", "A1"}); (len(got) == 0) != tt.none {
			t.Errorf("candidates of %q = %v", tt.in, got)
		}
	}
}

func TestStatusChangeWritesAudit(t *testing.T) {
	idx := &fakeIndex{}
	f := newFixture(t, fixtureOptions{search: idx})
	c := f.loggedIn("erika")
	ref := f.ref("antrag")
	steps := []struct {
		to      string
		wantLoc string
		status  ticket.CaseStatus
	}{
		{"closed", "?err=transition", ticket.StatusNew}, // new -> closed is not allowed
		{"in_progress", "?done=status", ticket.StatusInProgress},
		{"closed", "?done=status", ticket.StatusClosed},
		{"in_progress", "?done=status", ticket.StatusInProgress}, // reopen
		{"bogus", "?err=transition", ticket.StatusInProgress},
	}
	for _, st := range steps {
		resp, body := c.post("/cases/"+ref+"/status", url.Values{"status": {st.to}})
		wantRedirect(t, resp, body, "/cases/"+ref+st.wantLoc)
		if cs, _ := f.store.Lookup(f.refs["antrag"]); cs.Status != st.status {
			t.Fatalf("after %s: status %s, want %s", st.to, cs.Status, st.status)
		}
	}
	_, body := c.get("/cases/" + ref + "?done=status")
	if !strings.Contains(body, "Der Status wurde geändert.") || !strings.Contains(body, "in Bearbeitung") || !strings.Contains(body, "Abschließen") {
		t.Errorf("case page after change:\n%s", body)
	}
	entries, _, err := f.store.AuditLog(ticket.AuditFilter{Case: f.refs["antrag"], Action: ticket.AuditStatus})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Detail)
		if e.Actor != "erika" || e.Remote != "127.0.0.1" || !e.At.Equal(f.clock.Now()) {
			t.Errorf("entry %+v", e)
		}
	}
	want := []string{"closed -> in_progress", "in_progress -> closed", "new -> in_progress"}
	if !slices.Equal(got, want) {
		t.Errorf("audit %q, want %q", got, want)
	}
	if views, _, _ := f.store.AuditLog(ticket.AuditFilter{Case: f.refs["antrag"], Action: ticket.AuditView}); len(views) != 1 {
		t.Errorf("%d view entries, want 1", len(views))
	}
	seq := f.seqs["antrag"]
	wantUpdates := []string{itoaStatus(seq, "in_progress"), itoaStatus(seq, "closed"), itoaStatus(seq, "in_progress")}
	if !slices.Equal(idx.updates, wantUpdates) {
		t.Errorf("index updates %q, want %q", idx.updates, wantUpdates)
	}
	// The admin sees it in the audit log page.
	_, body = f.loggedIn("admin").get("/admin/audit?case=" + url.QueryEscape(strings.ToLower(ref)))
	if !strings.Contains(body, "new -&gt; in_progress") || !strings.Contains(body, "Statuswechsel") {
		t.Errorf("audit page:\n%s", body)
	}
}

func itoaStatus(seq uint64, s string) string { return uintString(seq) + ":" + s }

func uintString(n uint64) string { return strconv.FormatUint(n, 10) }

func TestNoteAndAssign(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.loggedIn("erika")
	ref := f.ref("antrag")
	resp, body := c.post("/cases/"+ref+"/note", url.Values{"note": {"Rückruf <b>morgen</b>"}})
	wantRedirect(t, resp, body, "/cases/"+ref+"?done=note")
	resp, body = c.post("/cases/"+ref+"/note", url.Values{"note": {"   "}})
	wantRedirect(t, resp, body, "/cases/"+ref+"?err=note")
	tests := []struct {
		assignee, loc, want string
	}{
		{"paul", "?err=assignee", ""}, // paul may not see poststelle
		{"gesperrt", "?err=assignee", ""},
		{"niemand", "?err=assignee", ""},
		{"erika", "?done=assign", "erika"},
		{"admin", "?done=assign", "admin"},
		{"", "?done=assign", ""},
	}
	for _, tt := range tests {
		resp, body := c.post("/cases/"+ref+"/assign", url.Values{"assignee": {tt.assignee}})
		wantRedirect(t, resp, body, "/cases/"+ref+tt.loc)
		if w, _ := f.store.CaseworkOf(f.refs["antrag"]); w.Assignee != tt.want && tt.loc == "?done=assign" {
			t.Errorf("assignee %q, want %q", w.Assignee, tt.want)
		}
	}
	c.post("/cases/"+ref+"/assign", url.Values{"assignee": {"erika"}})
	_, body = c.get("/cases/" + ref)
	if !strings.Contains(body, "Rückruf &lt;b&gt;morgen&lt;/b&gt;") {
		t.Errorf("note not shown escaped:\n%s", body)
	}
	if !strings.Contains(body, `<option value="erika" selected>`) || strings.Contains(body, `<option value="paul"`) {
		t.Errorf("assignee select wrong")
	}
	entries, _, _ := f.store.AuditLog(ticket.AuditFilter{Case: f.refs["antrag"]})
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if strings.Count(strings.Join(actions, ","), "assign") != 4 || !slices.Contains(actions, "note") {
		t.Errorf("audit actions %q", actions)
	}
}

func TestCaseView(t *testing.T) {
	rs := newRemoteServer(t)
	f := newFixture(t, fixtureOptions{mails: hostileMails(rs.URL)})
	c := f.loggedIn("erika")
	_, body := c.get("/cases/" + f.ref("antrag"))
	for _, want := range []string{
		"Antrag auf Baugenehmigung", "Hans Müller", "&lt;hans.mueller@example.org&gt;", "poststelle@stk.example.de",
		"anbei mein Antrag für die Garage.", "bauantrag.pdf", "gesendet", "250 2.0.0 Ok: queued as 4XyZ",
		`/messages/` + uintString(f.seqs["antrag"]) + `/raw`, "HTML (bereinigt, ohne Bilder)", `lang="de"`,
		`<a class="skip" href="#main">`, `<main id="main"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("case page lacks %q", want)
		}
	}
	_, body = c.get("/cases/" + f.ref("abwesend"))
	if !strings.Contains(body, "unterdrückt") || !strings.Contains(body, "AUTO_SUBMITTED") || !strings.Contains(body, "Automatisch erzeugte Nachricht (Auto-Submitted).") {
		t.Errorf("suppressed ack not explained:\n%s", body)
	}
	_, body = c.get("/cases/" + f.ref("abwesend") + "?lang=en")
	if !strings.Contains(body, "Automatically generated message (Auto-Submitted).") || !strings.Contains(body, `lang="en"`) {
		t.Errorf("English explanation missing")
	}

	hostile := f.ref("hostile")
	seq := uintString(f.seqs["hostile"])
	for _, view := range []string{"", "?html=" + seq} {
		t.Run("hostile"+view, func(t *testing.T) {
			_, body := c.get("/cases/" + hostile + view)
			checkNoActiveContent(t, body, rs.URL)
			for _, want := range []string{"&lt;script&gt;window.__pwned=", "bild.svg", "evil"} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if view != "" && (!strings.Contains(body, "Hostile HTML text") || !strings.Contains(body, "Klick mich")) {
				t.Errorf("sanitised HTML not shown")
			}
		})
	}
	_, body = c.get("/cases/" + f.ref("htmlonly") + "?html=" + uintString(f.seqs["htmlonly"]))
	checkNoActiveContent(t, body, rs.URL)
	if !strings.Contains(body, "Gewinn!") {
		t.Errorf("html-only mail not shown")
	}
	if n, urls := rs.requests(); n != 0 {
		t.Errorf("remote server got %d requests: %v", n, urls)
	}
}

// checkNoActiveContent fails when page contains markup that could run script or load a
// resource from another origin: it tokenises the page as a browser would (x/net/html) and
// checks every element and attribute.
func checkNoActiveContent(t testing.TB, page, remote string) {
	t.Helper()
	never := map[string]bool{"script": true, "iframe": true, "object": true, "embed": true, "video": true, "audio": true,
		"base": true, "style": true, "svg": true, "math": true, "input": true, "frame": true, "frameset": true,
		"applet": true, "source": true, "track": true, "portal": true, "noscript": true, "template": true}
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Fatal(z.Err())
			}
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		name := tok.Data
		attr := map[string]string{}
		for _, a := range tok.Attr {
			attr[a.Key] = a.Val
		}
		bad := never[name]
		switch name {
		case "link":
			bad = attr["href"] != "/static/style.css" || attr["rel"] != "stylesheet"
		case "meta":
			_, eq := attr["http-equiv"]
			bad = eq
		case "form":
			bad = !strings.HasPrefix(attr["action"], "/") || strings.HasPrefix(attr["action"], "//")
		case "img":
			bad = attr["src"] != "" || attr["srcset"] != ""
		case "input": // the hidden fields of the page's own forms
			bad = attr["type"] != "hidden" || (attr["name"] != "status" && attr["name"] != "next")
		}
		for _, v := range tok.Attr {
			key, val := strings.ToLower(v.Key), strings.ToLower(strings.TrimSpace(v.Val))
			switch {
			case strings.HasPrefix(key, "on"), key == "style", key == "srcdoc", key == "background", key == "poster",
				key == "srcset", key == "formaction", key == "xlink:href":
				bad = true
			case key == "href" || key == "src" || key == "action" || key == "data" || key == "cite":
				if strings.HasPrefix(val, "javascript:") || strings.HasPrefix(val, "data:") || strings.HasPrefix(val, "vbscript:") ||
					(key != "href" && strings.HasPrefix(val, strings.ToLower(remote))) {
					bad = true
				}
			}
		}
		if bad {
			t.Errorf("active content: %s", tok.String())
		}
	}
}

func TestDownloads(t *testing.T) {
	rs := newRemoteServer(t)
	f := newFixture(t, fixtureOptions{mails: hostileMails(rs.URL)})
	c := f.loggedIn("erika")
	ref, seq := f.ref("antrag"), uintString(f.seqs["antrag"])
	pdf, _ := base64.StdEncoding.DecodeString("JVBERi0xLjQKJcOkw7zDtsOfCg==")
	hseq := uintString(f.seqs["hostile"])
	tests := []struct {
		name, path   string
		filename     string // expected ASCII fallback
		body         []byte
		disallowName []string
	}{
		{"pdf", "/cases/" + ref + "/messages/" + seq + "/attachments/0", "bauantrag.pdf", pdf, nil},
		{"svg with script", "/cases/" + f.ref("hostile") + "/messages/" + hseq + "/attachments/0", "bild.svg", nil, nil},
		{"path and control characters", "/cases/" + f.ref("hostile") + "/messages/" + hseq + "/attachments/1", "", nil, []string{"/", "\x01", "\x1b", "..", "\\"}},
		{"backslashes and tab", "/cases/" + f.ref("hostile") + "/messages/" + hseq + "/attachments/2", "evilname.exe", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), []string{"\\", "\t", "Windows"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := c.get(tt.path)
			wantStatus(t, resp, body, http.StatusOK)
			h := resp.Header
			if h.Get("Content-Type") != "application/octet-stream" || h.Get("X-Content-Type-Options") != "nosniff" ||
				!strings.HasSuffix(h.Get("Content-Security-Policy"), "; sandbox") {
				t.Errorf("headers %v", h)
			}
			cd := h.Get("Content-Disposition")
			if !strings.HasPrefix(cd, "attachment; filename=\"") || !strings.Contains(cd, "filename*=UTF-8''") {
				t.Errorf("Content-Disposition %q", cd)
			}
			if tt.filename != "" && !strings.Contains(cd, `filename="`+tt.filename+`"`) {
				t.Errorf("Content-Disposition %q, want filename %q", cd, tt.filename)
			}
			for _, s := range tt.disallowName {
				if strings.Contains(cd, s) {
					t.Errorf("Content-Disposition %q contains %q", cd, s)
				}
			}
			for _, r := range cd {
				if r < 0x20 || r > 0x7e {
					t.Errorf("Content-Disposition %q has a byte outside printable ASCII", cd)
					break
				}
			}
			if tt.body != nil && body != string(tt.body) {
				t.Errorf("body %q, want %q", body, tt.body)
			}
		})
	}
	resp, body := c.get("/cases/" + ref + "/messages/" + seq + "/raw")
	wantStatus(t, resp, body, http.StatusOK)
	m, _, _ := f.store.MessageBySeq(f.seqs["antrag"])
	rf, _ := f.store.OpenRaw(m.RawSHA256)
	raw, _ := io.ReadAll(rf)
	rf.Close()
	if body != string(raw) || resp.Header.Get("Content-Type") != "application/octet-stream" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="`+ref+`_`+seq+`.eml"; filename*=UTF-8''`+ref+`_`+seq+`.eml` {
		t.Errorf("raw download: %v, %d bytes", resp.Header, len(body))
	}
	for _, p := range []string{"/attachments/9", "/attachments/-1", "/attachments/x"} {
		resp, body := c.get("/cases/" + ref + "/messages/" + seq + p)
		wantStatus(t, resp, body, http.StatusNotFound)
	}
	// A message of another case is not served under this case.
	resp, body = c.get("/cases/" + f.ref("zweite") + "/messages/" + seq + "/raw")
	wantStatus(t, resp, body, http.StatusNotFound)
	entries, _, _ := f.store.AuditLog(ticket.AuditFilter{Actor: "erika"})
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if strings.Count(strings.Join(actions, ","), "download_attachment") != 4 || !slices.Contains(actions, "download_raw") {
		t.Errorf("audit %q", actions)
	}
}

func TestContentDisposition(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bericht.pdf", `attachment; filename="bericht.pdf"; filename*=UTF-8''bericht.pdf`},
		{"Grüße; \"x\".txt", `attachment; filename="Gr__e_ _x_.txt"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%3B%20%22x%22.txt`},
		{"../../etc/passwd", `attachment; filename="passwd"; filename*=UTF-8''passwd`},
		{"..", `attachment; filename="download"; filename*=UTF-8''download`},
		{".htaccess", `attachment; filename="htaccess"; filename*=UTF-8''htaccess`},
		{"a\r\nSet-Cookie: x", `attachment; filename="aSet-Cookie_ x"; filename*=UTF-8''aSet-Cookie_%20x`},
	}
	for _, tt := range tests {
		if got := contentDisposition(tt.in); got != tt.want {
			t.Errorf("contentDisposition(%q) =\n %s\nwant\n %s", tt.in, got, tt.want)
		}
	}
}

func TestLanguageSwitch(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true})
	c := f.client()
	_, body := c.get("/login")
	if !strings.Contains(body, `<html lang="de">`) || !strings.Contains(body, "Benutzername") || !strings.Contains(body, `href="/login?lang=en"`) {
		t.Errorf("German login page:\n%s", body)
	}
	_, body = c.get("/login?lang=en")
	if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "User name") {
		t.Errorf("English login page:\n%s", body)
	}
	c.login("erika", pwErika)
	_, body = c.get("/") // the cookie keeps English
	if !strings.Contains(body, "Find cases") || !strings.Contains(body, `href="/?lang=de"`) {
		t.Errorf("English start page:\n%s", body)
	}
	_, body = c.get("/?lang=de")
	if !strings.Contains(body, "Vorgänge suchen") {
		t.Errorf("back to German failed")
	}
}

// TestTexts: every text key the templates use exists in both languages.
func TestTexts(t *testing.T) {
	cat := withInterimTexts(newCatalog())
	for k, v := range cat {
		if v[0] == "" || v[1] == "" {
			t.Errorf("%s lacks a language: %q", k, v)
		}
		if strings.Count(v[0], "%") != strings.Count(v[1], "%") {
			t.Errorf("%s: German and English differ in placeholders", k)
		}
	}
	re := regexp.MustCompile(`\{\{tf? [$.]*Lang "([^"]+)"`)
	entries, _ := templateFS.ReadDir("templates")
	for _, e := range entries {
		b, _ := templateFS.ReadFile("templates/" + e.Name())
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if !cat.has(m[1]) {
				t.Errorf("%s uses unknown text %q", e.Name(), m[1])
			}
		}
	}
	var dynamic []string
	for _, s := range []string{"new", "in_progress", "closed"} {
		dynamic = append(dynamic, "status."+s)
	}
	for _, s := range []string{"citizen", "automated", "malformed"} {
		dynamic = append(dynamic, "kind."+s)
	}
	for _, s := range []string{"pending", "sent", "suppressed", "failed", "bounced"} {
		dynamic = append(dynamic, "ack."+s)
	}
	dynamic = append(dynamic, "role.clerk", "role.admin", "search.count.messages", "search.count.cases", "search.count.atleast",
		"case.start", "case.close", "case.reopen", "case.notext", "case.noraw", "case.unreadable")
	for _, a := range ticket.AuditActions() {
		dynamic = append(dynamic, "audit.a."+a)
	}
	for _, k := range dynamic {
		if !cat.has(k) {
			t.Errorf("missing text %q", k)
		}
	}
}

func TestTrustedProxyHeader(t *testing.T) {
	f := newFixture(t, fixtureOptions{proxyHeader: "X-Remote-User", proxies: []string{"127.0.0.1/32"}})
	c := f.client()
	tests := []struct {
		user string
		want int
	}{
		{"erika", http.StatusOK},
		{"ERIKA", http.StatusOK},
		{"gesperrt", http.StatusForbidden},
		{"niemand", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			resp, body := c.get("/cases/"+f.ref("antrag"), "X-Remote-User", tt.user)
			wantStatus(t, resp, body, tt.want)
			if tt.want == http.StatusOK && strings.Contains(body, `action="/logout"`) {
				t.Error("logout offered to a proxy-authenticated user")
			}
		})
	}
	resp, body := c.get("/")
	wantRedirect(t, resp, body, "/login")
	// Without the setting the header means nothing.
	g := newFixture(t, fixtureOptions{noStandard: true})
	resp, body = g.client().get("/", "X-Remote-User", "admin")
	wantRedirect(t, resp, body, "/login")
}

func TestAPI(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.client()
	tok := f.token("erika")
	auth := []string{"Authorization", "Bearer " + tok}
	ref := f.ref("antrag")

	resp, body := c.get("/api/cases?limit=2", auth...)
	wantStatus(t, resp, body, http.StatusOK)
	if resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	var list struct {
		Total int              `json:"total"`
		More  bool             `json:"more"`
		Cases []map[string]any `json:"cases"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Cases) != 2 || !list.More || list.Cases[0]["reference"] != f.ref("abwesend") {
		t.Errorf("list %s", body)
	}
	// The public contract of a case's JSON (DESIGN.md § Contracts).
	for _, k := range []string{"reference", "mailbox", "status", "created", "messages"} {
		if _, ok := list.Cases[0][k]; !ok {
			t.Errorf("case JSON lacks %q", k)
		}
	}
	msg := list.Cases[0]["messages"].([]any)[0].(map[string]any)
	for _, k := range []string{"from", "subject", "received", "message_id", "ack"} {
		if _, ok := msg[k]; !ok {
			t.Errorf("message JSON lacks %q", k)
		}
	}
	if a := msg["ack"].(map[string]any); a["status"] != "suppressed" || a["reason"] != "AUTO_SUBMITTED" {
		t.Errorf("ack %v", a)
	}

	filters := []struct {
		query string
		want  []string
	}{
		{"status=new&kind=citizen", []string{"zweite", "antrag"}},
		{"kind=automated", []string{"abwesend"}},
		{"sender=hans.mueller@example.org", []string{"antrag"}},
		{"sender=Schmidt", []string{"zweite"}},
		{"q=Grundsteuer", []string{"zweite"}},
		{"q=bauantrag.pdf", []string{"antrag"}},
		{"since=2026-03-02&until=2026-03-02", []string{"abwesend", "zweite", "antrag"}},
		{"since=" + url.QueryEscape(t0.Add(30*time.Minute).Format(time.RFC3339)), []string{"abwesend", "zweite"}},
		{"mailbox=presse", nil},
		{"q=" + strings.ToLower(ref), []string{"antrag"}},
		{"offset=1&limit=1", []string{"zweite"}},
	}
	for _, tt := range filters {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := c.get("/api/cases?"+tt.query, auth...)
			wantStatus(t, resp, body, http.StatusOK)
			var l apiList
			if err := json.Unmarshal([]byte(body), &l); err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, cs := range l.Cases {
				got = append(got, cs.Reference.String())
			}
			for _, n := range tt.want {
				want = append(want, f.ref(n))
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
	for _, q := range []string{"status=archived", "kind=x", "since=gestern", "limit=1000", "offset=-1"} {
		resp, body := c.get("/api/cases?"+q, auth...)
		wantStatus(t, resp, body, http.StatusBadRequest)
	}

	resp, body = c.get("/api/cases/"+strings.ToLower(strings.ReplaceAll(ref, "-", " ")), auth...)
	wantStatus(t, resp, body, http.StatusOK)
	var one apiCaseView
	if err := json.Unmarshal([]byte(body), &one); err != nil || one.Reference.String() != ref || len(one.Messages) != 1 {
		t.Errorf("case: %v %s", err, body)
	}
	bad := ref[:len(ref)-1] + string("0123456789"[(int(ref[len(ref)-1]-'0')+1)%10])
	resp, body = c.get("/api/cases/"+bad, auth...)
	wantStatus(t, resp, body, http.StatusNotFound)

	statuses := []struct {
		body string
		want int
		st   ticket.CaseStatus
	}{
		{`{"status":"closed"}`, http.StatusConflict, ticket.StatusNew},
		{`{"status":"in_progress"}`, http.StatusOK, ticket.StatusInProgress},
		{`{"status":"in_progress"}`, http.StatusConflict, ticket.StatusInProgress},
		{`{"status":"done"}`, http.StatusBadRequest, ticket.StatusInProgress},
		{`{"state":"closed"}`, http.StatusBadRequest, ticket.StatusInProgress},
		{`not json`, http.StatusBadRequest, ticket.StatusInProgress},
		{`{"status":"closed"}`, http.StatusOK, ticket.StatusClosed},
	}
	for _, st := range statuses {
		resp, body := c.do("POST", "/api/cases/"+ref+"/status", strings.NewReader(st.body), append(auth, "Content-Type", "application/json")...)
		wantStatus(t, resp, body, st.want)
		if cs, _ := f.store.Lookup(f.refs["antrag"]); cs.Status != st.st {
			t.Fatalf("after %s: %s", st.body, cs.Status)
		}
		if st.want == http.StatusOK && !strings.Contains(body, `"status": "`+string(st.st)+`"`) {
			t.Errorf("answer %s", body)
		}
	}
	if e, _, _ := f.store.AuditLog(ticket.AuditFilter{Case: f.refs["antrag"], Action: ticket.AuditStatus}); len(e) != 2 {
		t.Errorf("%d status audit entries, want 2", len(e))
	}
	// A disabled user's token stops working.
	if err := f.store.SetDisabled("erika", true); err != nil {
		t.Fatal(err)
	}
	resp, body = c.get("/api/cases", auth...)
	wantStatus(t, resp, body, http.StatusUnauthorized)
}

func TestRegisterFallbackWithoutIndex(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.loggedIn("erika")
	_, body := c.get("/?q=Grundsteuer")
	if !strings.Contains(body, f.ref("zweite")) || strings.Contains(body, `href="/cases/`+f.ref("antrag")) ||
		!strings.Contains(body, "Volltextsuche nicht verfügbar") {
		t.Errorf("fallback search:\n%s", body)
	}
	_, body = c.get("/?sender=M%C3%BCller")
	if !strings.Contains(body, `href="/cases/`+f.ref("antrag")) || strings.Contains(body, `href="/cases/`+f.ref("zweite")) {
		t.Errorf("sender name search:\n%s", body)
	}
	_, body = c.get("/?since=morgen")
	if !strings.Contains(body, "Bitte ein Datum im Format JJJJ-MM-TT angeben.") {
		t.Errorf("bad date not reported")
	}
}

func TestPaging(t *testing.T) {
	var mails []testMail
	for i := range 45 {
		mails = append(mails, testMail{name: "m" + uintString(uint64(i)) + string(rune('a'+i/10)), mailbox: "poststelle", received: t0.Add(time.Duration(i) * time.Minute),
			raw: "From: p@example.org\nTo: poststelle@stk.example.de\nSubject: Seite\nMessage-ID: <p" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@x>\n\nx\n"})
	}
	f := newFixture(t, fixtureOptions{noStandard: true, mails: mails})
	c := f.loggedIn("erika")
	seen := map[string]bool{}
	next := "/?status=new"
	for page := 1; next != ""; page++ {
		_, body := c.get(next)
		refs := regexp.MustCompile(`<td class="ref"><a href="/cases/([^"]+)">`).FindAllStringSubmatch(body, -1)
		for _, r := range refs {
			if seen[r[1]] {
				t.Errorf("page %d repeats %s", page, r[1])
			}
			seen[r[1]] = true
		}
		m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(body)
		next = ""
		if m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 45 {
		t.Errorf("%d cases over all pages, want 45", len(seen))
	}
}

func TestFullTextWithSearchIndex(t *testing.T) {
	var store *ticket.Store
	idx, err := search.OpenWith(t.TempDir(), search.Options{Source: func(seq uint64) (search.Doc, error) {
		return docOf(store, seq)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	f := newFixture(t, fixtureOptions{search: idx})
	store = f.store
	for _, seq := range f.seqs {
		d, err := docOf(store, seq)
		if err != nil {
			t.Fatal(err)
		}
		if err := idx.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	c := f.loggedIn("erika")
	_, body := c.get("/?q=Garage") // a word of the body only
	if !strings.Contains(body, `href="/cases/`+f.ref("antrag")) || !strings.Contains(body, "Gefundene Nachrichten: 1") {
		t.Errorf("full-text search:\n%s", body)
	}
	_, body = c.get("/?q=Stellungnahme") // presse: not visible to erika
	if strings.Contains(body, f.ref("presse")) {
		t.Errorf("full-text search shows an invisible case")
	}
	c.post("/cases/"+f.ref("antrag")+"/status", url.Values{"status": {"in_progress"}})
	_, body = c.get("/?status=in_progress")
	if !strings.Contains(body, `href="/cases/`+f.ref("antrag")) || strings.Contains(body, `href="/cases/`+f.ref("zweite")) {
		t.Errorf("status filter after change:\n%s", body)
	}
}

// docOf builds the search document of message seq as the daemon's feed would.
func docOf(store *ticket.Store, seq uint64) (search.Doc, error) {
	m, ref, err := store.MessageBySeq(seq)
	if err != nil {
		return search.Doc{}, err
	}
	c, err := store.Lookup(ref)
	if err != nil {
		return search.Doc{}, err
	}
	d := search.Doc{Seq: seq, Reference: ref.String(), Mailbox: m.Mailbox, Kind: string(c.Kind), Status: string(c.Status),
		From: m.From, FromName: m.FromName, Subject: m.Subject, Attachments: m.Attachments, Received: m.Received}
	if rf, err := store.OpenRaw(m.RawSHA256); err == nil {
		defer rf.Close()
		if pm, err := mailparse.Parse(rf, mailparse.Limits{}); err == nil {
			d.Body = pm.Text
		}
	}
	return d, nil
}

func TestURL(t *testing.T) {
	tests := []struct {
		listen, base string
		want         string
	}{
		{"", "", ""},
		{"127.0.0.1:8080", "", "http://127.0.0.1:8080"},
		{":8080", "", "http://127.0.0.1:8080"},
		{"[::1]:8080", "", "http://[::1]:8080"},
		{"127.0.0.1:8080", "https://intake.example.de/", "https://intake.example.de"},
	}
	for _, tt := range tests {
		cfg := testConfig(false, "")
		cfg.Web.Listen, cfg.Web.BaseURL = tt.listen, tt.base
		if got := URL(cfg); got != tt.want {
			t.Errorf("URL(%q, %q) = %q, want %q", tt.listen, tt.base, got, tt.want)
		}
	}
}

func TestNewRequiresStore(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without store accepted")
	}
	var nilIndex *search.Index
	f := newFixture(t, fixtureOptions{noStandard: true})
	h, err := New(Options{Store: f.store, Config: f.cfg, Search: nilIndex})
	if err != nil || h == nil {
		t.Fatalf("New with a nil *search.Index: %v", err)
	}
}

// TestConcurrentUse runs logins, views, searches, changes and API calls in parallel, for
// the race detector.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t, fixtureOptions{search: &fakeIndex{}})
	tok := f.token("admin")
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			c := f.loggedIn([]string{"erika", "admin"}[i%2])
			for range 5 {
				c.get("/cases/" + f.ref("antrag"))
				c.get("/?q=Antrag")
				c.post("/cases/"+f.ref("antrag")+"/note", url.Values{"note": {"parallel"}})
				c.get("/api/cases", "Authorization", "Bearer "+tok)
			}
			c.post("/logout", nil)
		}()
	}
	for range 8 {
		<-done
	}
	if w, _ := f.store.CaseworkOf(f.refs["antrag"]); len(w.Notes) != 40 {
		t.Errorf("%d notes, want 40", len(w.Notes))
	}
	if n := f.sessions(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
}

// TestCaseSenderVerification: the case page marks each message's From and the case's
// sender address as verified (with how) only when a trusted SPF/DKIM/DMARC result
// proved it (ticket.Message.VerifiedSender); a From header alone is "not verified".
func TestCaseSenderVerification(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true, mails: []testMail{
		{name: "geprueft", mailbox: "poststelle", received: t0, verified: "dkim", raw: "From: Vera <vera@example.org>\nTo: poststelle@stk.example.de\nSubject: Geprüft\nMessage-ID: <v@example.org>\n\nText\n"},
		{name: "offen", mailbox: "poststelle", received: t0.Add(time.Hour), raw: "From: Otto <otto@example.org>\nTo: poststelle@stk.example.de\nSubject: Offen\nMessage-ID: <o@example.org>\n\nText\n"},
	}})
	c := f.loggedIn("erika")
	for _, tt := range []struct {
		lang, mail, want, not string
	}{
		{"de", "geprueft", "geprüft (dkim)", "nicht geprüft"},
		{"de", "offen", "nicht geprüft", "geprüft (dkim)"},
		{"en", "geprueft", "verified (dkim)", "not verified"},
		{"en", "offen", "not verified", "verified (dkim)"},
	} {
		t.Run(tt.lang+" "+tt.mail, func(t *testing.T) {
			resp, body := c.get("/cases/" + f.ref(tt.mail) + "?lang=" + tt.lang)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d\n%s", resp.StatusCode, body)
			}
			// once beside the message's From, once beside the case's sender address
			if n := strings.Count(body, `<span class="muted sender-check">(`+tt.want+`)</span>`); n != 2 {
				t.Errorf("marker %q shown %d times, want 2\n%s", tt.want, n, body)
			}
			if strings.Contains(body, tt.not) {
				t.Errorf("page shows %q", tt.not)
			}
		})
	}
}

// TestPhraseShapedLikeAReference: text of the shape "word digits" (an amount in a subject,
// "meine 1539,97") parses as a reference with a wrong check digit; unless the word is one
// of our prefixes it is searched as text, not answered with "did you mean" (issue 12's
// search benchmark found such queries swallowed).
func TestPhraseShapedLikeAReference(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true, mails: []testMail{
		{name: "betrag", mailbox: "poststelle", received: t0,
			raw: "From: a@example.org\nTo: poststelle@stk.example.de\nSubject: Erstattung meine 1539,97 Euro\nMessage-ID: <betrag@x>\n\nBitte erstatten Sie den Betrag.\n"},
	}})
	const q = "meine 1539,97"
	if _, err := ticket.ParseReference(q); !errors.Is(err, ticket.ErrCheckDigit) {
		t.Fatalf("ParseReference(%q) = %v; the test needs a query shaped like a reference", q, err)
	}
	c := f.loggedIn("erika")
	resp, body := c.get("/api/cases?q="+url.QueryEscape(q), "Authorization", "Bearer "+f.token("erika"))
	wantStatus(t, resp, body, http.StatusOK)
	var out apiList
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if out.CheckDigit || len(out.DidYouMean) > 0 {
		t.Errorf("%q answered as a mistyped reference: %s", q, body)
	}
	if len(out.Cases) != 1 || out.Cases[0].Reference.String() != f.ref("betrag") {
		t.Errorf("%q found %d cases, want the letter that says it: %s", q, len(out.Cases), body)
	}
}

// TestAPIServerTiming: every API answer says how long the server took (W3C Server
// Timing), so that a client can tell the server's time from the network's and the
// scheduler's (intake-bench searchdrain reports both).
func TestServerTimingWake(t *testing.T) {
	for _, tt := range []struct {
		wake time.Duration
		want string // after "app;dur=<ms>"
	}{
		{0, ""},
		{1500 * time.Microsecond, ", wake;dur=1.500"},
	} {
		rec := httptest.NewRecorder()
		st := &serverTiming{ResponseWriter: rec, start: time.Now(), wake: tt.wake}
		writeJSON(st, http.StatusOK, map[string]int{"n": 1})
		h := rec.Header().Get("Server-Timing")
		app, rest, _ := strings.Cut(strings.TrimPrefix(h, "app;dur="), ",")
		if _, err := strconv.ParseFloat(app, 64); err != nil || !strings.HasPrefix(h, "app;dur=") {
			t.Errorf("wake %v: Server-Timing %q has no app;dur", tt.wake, h)
		}
		if rest != strings.TrimPrefix(tt.want, ",") {
			t.Errorf("wake %v: Server-Timing %q, want app;dur=…%s", tt.wake, h, tt.want)
		}
	}
}

func TestAPIServerTiming(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.client()
	for _, path := range []string{"/api/cases/" + f.ref("zweite"), "/api/cases?q=Antrag", "/api/cases/STK-2026-999999-0"} {
		resp, body := c.get(path, "Authorization", "Bearer "+f.token("erika"))
		st := resp.Header.Get("Server-Timing")
		dur, ok := strings.CutPrefix(st, "app;dur=")
		if _, err := strconv.ParseFloat(dur, 64); !ok || err != nil {
			t.Errorf("%s: Server-Timing %q\n%s", path, st, body)
		}
		if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
			t.Errorf("%s: Content-Length %q for %d bytes", path, cl, len(body))
		}
	}
}
