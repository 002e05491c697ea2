package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

// TestProxyHeaderOnlyFromTrustedPeers: the single-sign-on header logs in the account it
// names only when the TCP peer is a configured trusted proxy (issue 8, finding 5).
func TestProxyHeaderOnlyFromTrustedPeers(t *testing.T) {
	f := newFixture(t, fixtureOptions{proxyHeader: "X-Remote-User", proxies: []string{"10.0.0.0/8", "::1"}})
	tests := []struct {
		name, peer string
		want       int
	}{
		{"untrusted peer", "192.0.2.5:40000", http.StatusSeeOther},
		{"untrusted loopback", "127.0.0.1:40000", http.StatusSeeOther},
		{"trusted network", "10.1.2.3:40000", http.StatusOK},
		{"trusted address", "[::1]:40000", http.StatusOK},
		{"mapped trusted", "[::ffff:10.1.2.3]:40000", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.from(tt.peer, http.MethodGet, "/cases/"+f.ref("antrag"), nil, "X-Remote-User", "admin")
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
			if tt.want != http.StatusOK && strings.Contains(rec.Body.String(), "Baugenehmigung") {
				t.Error("case shown to an untrusted peer")
			}
		})
	}
	// A name the proxy sends that is no valid user name is refused, not looked up.
	if rec := f.from("10.1.2.3:40000", http.MethodGet, "/", nil, "X-Remote-User", strings.Repeat("a", 10000)); rec.Code != http.StatusForbidden {
		t.Errorf("over-long proxy user: %d, want 403", rec.Code)
	}
}

func TestProxyHeaderNeedsTrustedProxies(t *testing.T) {
	store, err := ticket.Open(t.TempDir(), ticket.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := New(Options{Store: store, Config: testConfig(true, "X-Remote-User")}); err == nil || !strings.Contains(err.Error(), "trusted_proxies") {
		t.Errorf("New with a proxy header and no trusted proxies: %v", err)
	}
}

// TestClientIP: X-Forwarded-For names the client only when the peer is a trusted proxy;
// then the right-most entry that is no trusted proxy is the client.
func TestClientIP(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true, proxies: []string{"10.0.0.0/8"}})
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy", "192.0.2.5:1", nil, "192.0.2.5"},
		{"untrusted peer with XFF", "192.0.2.5:1", []string{"203.0.113.9"}, "192.0.2.5"},
		{"trusted peer without XFF", "10.1.2.3:1", nil, "10.1.2.3"},
		{"trusted peer", "10.1.2.3:1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"client-written entries left of it", "10.1.2.3:1", []string{"1.2.3.4, 198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"two proxies", "10.1.2.3:1", []string{"203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"two headers", "10.1.2.3:1", []string{"1.2.3.4", "203.0.113.9"}, "203.0.113.9"},
		{"garbage", "10.1.2.3:1", []string{"203.0.113.9, nonsense"}, "10.1.2.3"},
		{"ipv6", "10.1.2.3:1", []string{"2001:db8::7"}, "2001:db8::7"},
		{"mapped peer", "[::ffff:192.0.2.5]:1", nil, "192.0.2.5"},
		{"entry with port", "10.1.2.3:1", []string{"203.0.113.9:4711"}, "203.0.113.9"},
		{"ipv6 entry with port", "10.1.2.3:1", []string{"[2001:db8::7]:4711"}, "2001:db8::7"},
		{"all trusted", "10.1.2.3:1", []string{"10.7.7.7, 10.8.8.8"}, "10.7.7.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := f.server.clientIP(r); got != tt.want {
				t.Errorf("clientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestForwardedForInThrottlingAndAudit: behind a trusted proxy the clients are told apart
// by X-Forwarded-For (an attacker behind the proxy does not lock out a clerk behind it);
// from an untrusted peer X-Forwarded-For is ignored, so rotating it evades nothing and
// does not reach the audit log.
func TestForwardedForInThrottlingAndAudit(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true, proxies: []string{"10.0.0.0/8"}})
	const proxy, direct = "10.1.2.3:40000", "192.0.2.5:40000"
	for i := range 3 * userThreshold {
		f.from(proxy, http.MethodPost, "/login", loginForm("erika", fmt.Sprintf("raten-%02d-raten", i)), "X-Forwarded-For", "203.0.113.66")
	}
	if rec := f.from(proxy, http.MethodPost, "/login", loginForm("erika", pwErika), "X-Forwarded-For", "203.0.113.66"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("attacker behind the proxy: %d, want 429", rec.Code)
	}
	if rec := f.from(proxy, http.MethodPost, "/login", loginForm("erika", pwErika), "X-Forwarded-For", "203.0.113.7"); rec.Code != http.StatusSeeOther {
		t.Errorf("clerk behind the same proxy: %d, want 303", rec.Code)
	}

	for i := range 3 * userThreshold {
		f.from(direct, http.MethodPost, "/login", loginForm("paul", fmt.Sprintf("raten-%02d-raten", i)), "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
	}
	if rec := f.from(direct, http.MethodPost, "/login", loginForm("paul", pwPaul), "X-Forwarded-For", "198.51.100.200"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("direct attacker rotating X-Forwarded-For: %d, want 429", rec.Code)
	}
	entries, _, err := f.store.AuditLog(ticket.AuditFilter{Action: ticket.AuditLoginFailed})
	if err != nil {
		t.Fatal(err)
	}
	remotes := map[string]int{}
	for _, e := range entries {
		remotes[e.Remote]++
	}
	if remotes["203.0.113.66"] != userThreshold || remotes["192.0.2.5"] != userThreshold || len(remotes) != 2 {
		t.Errorf("audit remotes %v, want %d × 203.0.113.66 and %d × 192.0.2.5 only", remotes, userThreshold, userThreshold)
	}
}

// TestAPILinksFiltered: the API shows only linked cases of mailboxes the clerk may see,
// like the case page (issue 8, finding 6).
func TestAPILinksFiltered(t *testing.T) {
	f := newFixture(t, fixtureOptions{mails: []testMail{{name: "nachfrage", mailbox: "poststelle", received: t0.Add(4 * time.Hour), linkTo: "presse", raw: `From: Redaktion <redaktion@zeitung.example>
To: poststelle@stk.example.de
Subject: Nachfrage zur Presseanfrage
Message-ID: <nachfrage-5@zeitung.example>

Wie steht es um unsere Anfrage?
`}}})
	own, hidden := f.ref("nachfrage"), f.ref("presse")
	if c, err := f.store.Lookup(f.refs["nachfrage"]); err != nil || len(c.Links) != 1 || c.Links[0].String() != hidden {
		t.Fatalf("fixture: links %v, %v", c, err)
	}
	erika := []string{"Authorization", "Bearer " + f.token("erika")}
	admin := []string{"Authorization", "Bearer " + f.token("admin")}
	c := f.client()
	for _, path := range []string{"/api/cases/" + own, "/api/cases?q=" + own, "/api/cases", "/api/cases?q=Nachfrage"} {
		t.Run(path, func(t *testing.T) {
			resp, body := c.get(path, erika...)
			wantStatus(t, resp, body, http.StatusOK)
			if !strings.Contains(body, own) {
				t.Fatalf("own case missing:\n%s", body)
			}
			if strings.Contains(body, hidden) {
				t.Errorf("reference of a hidden mailbox's case in the answer:\n%s", body)
			}
			resp, body = c.get(path, admin...)
			wantStatus(t, resp, body, http.StatusOK)
			if path == "/api/cases/"+own && !strings.Contains(body, hidden) {
				t.Errorf("admin does not see the link:\n%s", body)
			}
		})
	}
	// The case page, which shares the filter.
	resp, body := f.loggedIn("erika").get("/cases/" + own)
	wantStatus(t, resp, body, http.StatusOK)
	if strings.Contains(body, hidden) {
		t.Errorf("case page reveals the hidden link")
	}
	if _, body := f.loggedIn("admin").get("/cases/" + own); !strings.Contains(body, hidden) {
		t.Errorf("case page hides the link from the admin")
	}
	resp, body = c.do(http.MethodPost, "/api/cases/"+own+"/status", strings.NewReader(`{"status":"in_progress"}`), append(erika, "Content-Type", "application/json")...)
	wantStatus(t, resp, body, http.StatusOK)
	if strings.Contains(body, hidden) {
		t.Errorf("status answer reveals the hidden link:\n%s", body)
	}
}
