package web

import (
	"net/http"
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
