package web

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
)

// clerkRecorder is a ClerkActivity that counts the requests it is told of.
type clerkRecorder struct {
	mu                     sync.Mutex
	begun, ended, inFlight int
	inFlightDuringSearch   []int
}

func (c *clerkRecorder) Begin() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.begun++
	c.inFlight++
}

func (c *clerkRecorder) End() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended++
	c.inFlight--
}

func (c *clerkRecorder) searched() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlightDuringSearch = append(c.inFlightDuringSearch, c.inFlight)
}

// TestClerksRequestsStepTheMailWorkAside: every authenticated request is counted in
// flight while its handler runs, and ended; a request without a valid login or token
// is not, so that nobody without an account can make the drain wait (clerkgate), and
// neither is a download, which lasts as long as the clerk's connection.
func TestClerksRequestsStepTheMailWorkAside(t *testing.T) {
	rec := &clerkRecorder{}
	ix := &fakeIndex{during: rec.searched}
	f := newFixture(t, fixtureOptions{search: ix, clerks: rec})
	erika := f.loggedIn("erika") // the login itself is not a clerk's request yet
	tok := f.token("erika")
	ref := f.ref("antrag")

	tests := []struct {
		name    string
		do      func() (*http.Response, string)
		status  int
		counted bool
		search  bool // the handler asks the search index
	}{
		{"API search with a token", func() (*http.Response, string) {
			return f.client().get("/api/cases?q=Antrag", "Authorization", "Bearer "+tok)
		}, http.StatusOK, true, true},
		{"API lookup with a token", func() (*http.Response, string) {
			return f.client().get("/api/cases/"+ref, "Authorization", "Bearer "+tok)
		}, http.StatusOK, true, false},
		{"search page with a session", func() (*http.Response, string) { return erika.get("/?q=Antrag") }, http.StatusOK, true, true},
		{"raw mail download", func() (*http.Response, string) {
			return erika.get(fmt.Sprintf("/cases/%s/messages/%d/raw", ref, f.seqs["antrag"]))
		}, http.StatusOK, false, false},
		{"API without a token", func() (*http.Response, string) { return f.client().get("/api/cases/" + ref) }, http.StatusUnauthorized, false, false},
		{"API with a wrong token", func() (*http.Response, string) {
			return f.client().get("/api/cases/"+ref, "Authorization", "Bearer intake_wrong")
		}, http.StatusUnauthorized, false, false},
		{"page without a session", func() (*http.Response, string) { return f.client().get("/?q=Antrag") }, http.StatusSeeOther, false, false},
		{"login page", func() (*http.Response, string) { return f.client().get("/login") }, http.StatusOK, false, false},
		{"failed login", func() (*http.Response, string) {
			return f.client().post("/login", url.Values{"name": {"erika"}, "password": {"falsch"}})
		}, 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			before := rec.begun
			rec.inFlightDuringSearch = nil
			rec.mu.Unlock()
			resp, body := tc.do()
			if tc.status != 0 {
				wantStatus(t, resp, body, tc.status)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if got := rec.begun - before; (got == 1) != tc.counted || got > 1 {
				t.Errorf("counted %d times, want counted=%v", got, tc.counted)
			}
			if rec.begun != rec.ended || rec.inFlight != 0 {
				t.Errorf("begun %d, ended %d, in flight %d after the answer", rec.begun, rec.ended, rec.inFlight)
			}
			for _, n := range rec.inFlightDuringSearch {
				if n != 1 {
					t.Errorf("%d requests in flight while the search ran, want 1", n)
				}
			}
			if tc.search && len(rec.inFlightDuringSearch) == 0 {
				t.Errorf("the search index was not asked: the test proves nothing")
			}
		})
	}
}
