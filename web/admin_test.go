package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

// TestAPITokenScopeAndExpiry: a read token cannot change a case (403), an expired token
// is refused (401), a read-write token within its time works.
func TestAPITokenScopeAndExpiry(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	now := f.clock.Now()
	admin := ticket.Actor{Name: "admin", At: now}
	mk := func(scope string, expires time.Time) string {
		tok, _, err := f.store.AdminCreateToken(admin, "erika", ticket.TokenOptions{Scope: scope, Expires: expires})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	read := mk(ticket.ScopeRead, time.Time{})
	rw := mk(ticket.ScopeReadWrite, now.Add(time.Hour))
	soon := mk(ticket.ScopeReadWrite, now.Add(time.Minute))
	f.clock.Advance(2 * time.Minute) // soon has expired, rw has not
	ref := f.ref("zweite")
	c := f.client()
	body := `{"status":"in_progress"}`
	tests := []struct {
		name, method, path, token string
		want                      int
		wwwAuth                   string
	}{
		{"read token reads", http.MethodGet, "/api/cases/" + ref, read, http.StatusOK, ""},
		{"read token may not change", http.MethodPost, "/api/cases/" + ref + "/status", read, http.StatusForbidden, "insufficient_scope"},
		{"expired token may not read", http.MethodGet, "/api/cases/" + ref, soon, http.StatusUnauthorized, "token expired"},
		{"expired token may not change", http.MethodPost, "/api/cases/" + ref + "/status", soon, http.StatusUnauthorized, "invalid_token"},
		{"read-write token changes", http.MethodPost, "/api/cases/" + ref + "/status", rw, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := c.do(tt.method, tt.path, strings.NewReader(body), "Authorization", "Bearer "+tt.token, "Content-Type", "application/json")
			wantStatus(t, resp, b, tt.want)
			if got := resp.Header.Get("WWW-Authenticate"); tt.wwwAuth != "" && !strings.Contains(got, tt.wwwAuth) {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", got, tt.wwwAuth)
			}
		})
	}
	c2, err := f.store.Lookup(f.refs["zweite"])
	if err != nil || c2.Status != ticket.StatusInProgress {
		t.Errorf("status after the read-write token: %v, %v", c2.Status, err)
	}
}

// secretOf returns the one-time secret of an admin_secret page.
func secretOf(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `<output class="mono" id="secret">`)
	secret, _, ok2 := strings.Cut(rest, "</output>")
	if !ok || !ok2 || secret == "" {
		t.Fatalf("no secret on the page:\n%.3000s", body)
	}
	return secret
}

// adminFixture is a fixture whose admin pages hash cheaply.
func adminFixture(t *testing.T) *fixture {
	f := newFixture(t, fixtureOptions{})
	f.server.argon = fastArgon2
	return f
}

// TestAdminAddsClerkWhoCanLogIn: an admin adds a clerk through the web while the server
// runs; the generated password is shown once, and the clerk logs in with it and sees the
// granted mailbox only. The change is audited under the admin.
func TestAdminAddsClerkWhoCanLogIn(t *testing.T) {
	f := adminFixture(t)
	a := f.loggedIn("admin")
	resp, body := a.get("/admin/users")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `action="/admin/users"`) {
		t.Fatalf("no add form:\n%s", body)
	}
	resp, body = a.post("/admin/users", url.Values{"name": {"Neu.Kollegin"}, "role": {"clerk"}, "mailbox": {"presse"}})
	wantStatus(t, resp, body, http.StatusOK)
	pw := secretOf(t, body)

	c := f.client()
	c.login("neu.kollegin", pw)
	resp, body = c.get("/cases/" + f.ref("presse"))
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = c.get("/cases/" + f.ref("antrag"))
	wantStatus(t, resp, body, http.StatusNotFound)
	// The page of the user shows no password.
	resp, body = a.get("/admin/users/neu.kollegin")
	wantStatus(t, resp, body, http.StatusOK)
	if strings.Contains(body, pw) {
		t.Error("the password is shown again")
	}
	entries, _, err := f.store.AuditLog(ticket.AuditFilter{Actor: "admin", Action: ticket.AuditUserAdd})
	if err != nil || len(entries) != 1 || entries[0].Detail != "neu.kollegin role=clerk mailboxes=presse" || entries[0].Remote == "" {
		t.Errorf("audit: %+v, %v", entries, err)
	}
}

func TestAdminAddRefused(t *testing.T) {
	f := adminFixture(t)
	a := f.loggedIn("admin")
	tests := []struct {
		name string
		form url.Values
		want int
		msg  string
	}{
		{"taken name", url.Values{"name": {"erika"}, "role": {"clerk"}}, http.StatusConflict, "gibt es schon"},
		{"bad name", url.Values{"name": {"Max Mustermann"}, "role": {"clerk"}}, http.StatusBadRequest, "Ungültiger Benutzername"},
		{"bad role", url.Values{"name": {"max"}, "role": {"root"}}, http.StatusBadRequest, "Rolle"},
		{"unknown mailbox", url.Values{"name": {"max"}, "role": {"clerk"}, "mailbox": {"buchhaltung"}}, http.StatusBadRequest, "Unbekanntes Postfach"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := a.post("/admin/users", tt.form)
			wantStatus(t, resp, body, tt.want)
			if !strings.Contains(body, tt.msg) || strings.Contains(body, `id="secret"`) {
				t.Errorf("page lacks %q or shows a secret:\n%.2000s", tt.msg, body)
			}
		})
	}
	if _, err := f.store.User("max"); err == nil {
		t.Error("a refused user was added")
	}
}

// TestAdminPagesForbidden: a clerk gets 403 on every admin page and action, and a
// cross-origin POST of an admin is refused too.
func TestAdminPagesForbidden(t *testing.T) {
	f := adminFixture(t)
	e := f.loggedIn("erika")
	a := f.loggedIn("admin")
	tok, rec, err := f.store.AdminCreateToken(ticket.Actor{Name: "admin", At: f.clock.Now()}, "paul", ticket.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reqs := []struct{ method, path string }{
		{http.MethodGet, "/admin/users"},
		{http.MethodGet, "/admin/users/paul"},
		{http.MethodPost, "/admin/users"},
		{http.MethodPost, "/admin/users/erika/grants"},
		{http.MethodPost, "/admin/users/paul/disable"},
		{http.MethodPost, "/admin/users/paul/enable"},
		{http.MethodPost, "/admin/users/paul/password"},
		{http.MethodPost, "/admin/users/erika/tokens"},
		{http.MethodPost, "/admin/users/paul/tokens/" + rec.ID + "/revoke"},
	}
	form := url.Values{"name": {"x"}, "role": {"admin"}, "mailbox": {"presse"}, "scope": {"read-write"}, "expires": {"never"}}
	for _, rq := range reqs {
		t.Run("clerk "+rq.method+" "+rq.path, func(t *testing.T) {
			resp, body := e.do(rq.method, rq.path, strings.NewReader(form.Encode()))
			wantStatus(t, resp, body, http.StatusForbidden)
		})
		if rq.method == http.MethodPost {
			t.Run("cross-origin "+rq.path, func(t *testing.T) {
				resp, body := a.do(rq.method, rq.path, strings.NewReader(form.Encode()), "Sec-Fetch-Site", "cross-site")
				wantStatus(t, resp, body, http.StatusForbidden)
			})
		}
	}
	if u, _ := f.store.User("erika"); u.IsAdmin() {
		t.Error("erika made herself admin")
	}
	if u, _ := f.store.User("paul"); u.Disabled {
		t.Error("paul was disabled")
	}
	if _, err := f.store.AuthenticateToken(tok); err != nil {
		t.Errorf("paul's token was revoked: %v", err)
	}
	if n, _, _ := f.store.AuditLog(ticket.AuditFilter{Action: ticket.AuditUserAdd}); len(n) != 0 {
		t.Errorf("refused requests changed accounts: %+v", n)
	}
}

// TestAdminUserActions: grants, disable, enable, password reset, token create and
// revoke through the admin pages, each in effect at once and audited.
func TestAdminUserActions(t *testing.T) {
	f := adminFixture(t)
	a := f.loggedIn("admin")
	e := f.loggedIn("erika")
	tests := []struct {
		name   string
		path   string
		form   url.Values
		want   int
		action string // audit action written
		check  func(t *testing.T, body string)
	}{
		{"grant presse", "/admin/users/erika/grants", url.Values{"role": {"clerk"}, "mailbox": {"poststelle", "presse"}}, http.StatusSeeOther, ticket.AuditUserGrant,
			func(t *testing.T, _ string) {
				resp, body := e.get("/cases/" + f.ref("presse"))
				wantStatus(t, resp, body, http.StatusOK)
			}},
		{"grant unknown mailbox", "/admin/users/erika/grants", url.Values{"role": {"clerk"}, "mailbox": {"x"}}, http.StatusBadRequest, "", nil},
		{"no self demotion", "/admin/users/admin/grants", url.Values{"role": {"clerk"}}, http.StatusConflict, "", nil},
		{"no self disable", "/admin/users/admin/disable", nil, http.StatusConflict, "", nil},
		{"disable", "/admin/users/erika/disable", nil, http.StatusSeeOther, ticket.AuditUserDisable,
			func(t *testing.T, _ string) {
				resp, body := e.get("/")
				wantRedirect(t, resp, body, "/login")
			}},
		{"no token for a disabled user", "/admin/users/erika/tokens", url.Values{"scope": {"read"}, "expires": {"30d"}}, http.StatusConflict, "", nil},
		{"enable", "/admin/users/erika/enable", nil, http.StatusSeeOther, ticket.AuditUserEnable, nil},
		{"reset password", "/admin/users/erika/password", nil, http.StatusOK, ticket.AuditUserPassword,
			func(t *testing.T, body string) {
				pw := secretOf(t, body)
				resp, b := f.client().post("/login", url.Values{"name": {"erika"}, "password": {pwErika}})
				if resp.StatusCode == http.StatusSeeOther {
					t.Errorf("the old password still works: %s", b)
				}
				f.client().login("erika", pw)
			}},
		{"token with unknown scope", "/admin/users/paul/tokens", url.Values{"scope": {"admin"}, "expires": {"30d"}}, http.StatusBadRequest, "", nil},
		{"token with unknown expiry", "/admin/users/paul/tokens", url.Values{"scope": {"read"}, "expires": {"1000d"}}, http.StatusBadRequest, "", nil},
		{"read token", "/admin/users/paul/tokens", url.Values{"scope": {"read"}, "expires": {"30d"}, "label": {"Pressespiegel"}}, http.StatusOK, ticket.AuditTokenCreate,
			func(t *testing.T, body string) {
				tok := secretOf(t, body)
				c := f.client()
				resp, b := c.get("/api/cases/"+f.ref("presse"), "Authorization", "Bearer "+tok)
				wantStatus(t, resp, b, http.StatusOK)
				resp, b = c.do(http.MethodPost, "/api/cases/"+f.ref("presse")+"/status", strings.NewReader(`{"status":"closed"}`),
					"Authorization", "Bearer "+tok, "Content-Type", "application/json")
				wantStatus(t, resp, b, http.StatusForbidden)
				f.clock.Advance(31 * 24 * time.Hour)
				resp, b = c.get("/api/cases/"+f.ref("presse"), "Authorization", "Bearer "+tok)
				wantStatus(t, resp, b, http.StatusUnauthorized)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _, _ := f.store.AuditLog(ticket.AuditFilter{Actor: "admin", Limit: ticket.MaxAuditLimit})
			resp, body := a.post(tt.path, tt.form)
			wantStatus(t, resp, body, tt.want)
			after, _, _ := f.store.AuditLog(ticket.AuditFilter{Actor: "admin", Limit: ticket.MaxAuditLimit})
			var added []string
			for _, e := range after[:len(after)-len(before)] {
				if e.Action != ticket.AuditView && e.Action != ticket.AuditSearch {
					added = append(added, e.Action)
				}
			}
			if want := tt.action; (want == "" && len(added) != 0) || (want != "" && (len(added) != 1 || added[0] != want)) {
				t.Errorf("audited %v, want %q", added, want)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
	// Revoke paul's token from the list.
	list, err := f.store.Tokens("paul")
	if err != nil || len(list) != 1 {
		t.Fatalf("tokens %+v, %v", list, err)
	}
	a = f.loggedIn("admin") // the clock went on: a new session
	resp, body := a.get("/admin/users")
	wantStatus(t, resp, body, http.StatusOK)
	revoke := "/admin/users/paul/tokens/" + list[0].ID + "/revoke"
	if !strings.Contains(body, revoke) || !strings.Contains(body, "Pressespiegel") {
		t.Fatalf("the token list lacks paul's token:\n%s", body)
	}
	resp, body = a.post(revoke, nil)
	wantRedirect(t, resp, body, "/admin/users/paul?done=revoked")
	if list, _ := f.store.Tokens("paul"); len(list) != 0 {
		t.Errorf("token not revoked: %+v", list)
	}
	resp, body = a.post(revoke, nil)
	wantStatus(t, resp, body, http.StatusNotFound)
}

// TestAdminPagesTexts: every text of the admin pages exists in German and English (an
// unknown key would be shown as the key itself).
func TestAdminPagesTexts(t *testing.T) {
	f := adminFixture(t)
	if _, _, err := f.store.AdminCreateToken(ticket.Actor{Name: "admin", At: f.clock.Now()}, "paul", ticket.TokenOptions{Scope: ticket.ScopeRead, Expires: f.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	a := f.loggedIn("admin")
	for _, lang := range []string{"de", "en"} {
		for _, path := range []string{"/admin/users", "/admin/users/paul", "/admin/users/admin"} {
			resp, body := a.get(path + "?lang=" + lang)
			wantStatus(t, resp, body, http.StatusOK)
			for _, k := range []string{"admin.", "err.", "role.", "nav."} {
				if strings.Contains(body, ">"+k) || strings.Contains(body, `"`+k) {
					t.Errorf("%s (%s) shows a message key %q:\n%s", path, lang, k, body)
				}
			}
		}
		resp, body := a.post("/admin/users/paul/tokens?lang="+lang, url.Values{"scope": {"read-write"}, "expires": {"never"}})
		wantStatus(t, resp, body, http.StatusOK)
		if strings.Contains(body, ">admin.") {
			t.Errorf("secret page (%s) shows a message key:\n%s", lang, body)
		}
	}
}

// TestAPIDidYouMean: GET /api/cases/REF with a wrong check digit answers 404 with the
// references one typing error away that the token's user may see, as the search page.
func TestAPIDidYouMean(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	wrong := func(ref string) string {
		for d := '0'; d <= '9'; d++ {
			if s := ref[:len(ref)-1] + string(d); s != ref {
				if _, err := ticket.ParseReference(s); err != nil {
					return s
				}
			}
		}
		t.Fatalf("no wrong check digit for %s", ref)
		return ""
	}
	c := f.client()
	tests := []struct {
		name, user, input string
		want              []string
	}{
		{"own mailbox", "erika", wrong(f.ref("zweite")), []string{f.ref("zweite")}},
		{"admin sees all", "admin", wrong(f.ref("presse")), []string{f.ref("presse")}},
		{"other mailbox stays hidden", "erika", wrong(f.ref("presse")), []string{}},
		{"nothing near", "erika", wrong("STK-2026-000900-0"), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := c.get("/api/cases/"+url.PathEscape(tt.input), "Authorization", "Bearer "+f.token(tt.user))
			wantStatus(t, resp, body, http.StatusNotFound)
			var got apiCheckDigit
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if !got.CheckDigit || !slices.Equal(got.DidYouMean, tt.want) {
				t.Errorf("answer %s, want did_you_mean %v", body, tt.want)
			}
		})
	}
}
