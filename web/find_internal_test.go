package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/intake-office/intake/config"
)

// TestParseFindClassifiesErrors: the search page names a bad date by the
// error's type, not by the word "date" in its text (kind=update is no date).
func TestParseFindClassifiesErrors(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, tc := range []struct {
		query     string
		bad, date bool
	}{
		{"since=2026-01-02&until=2026-02-01", false, false},
		{"since=2026-13-01", true, true},
		{"until=gestern", true, true},
		{"kind=update", true, false},
		{"status=outdated", true, false},
		{"limit=date", true, false},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.server.parseFind(q)
			if got := errors.Is(err, errBadParam); got != tc.bad {
				t.Errorf("parseFind(%s) = %v; bad parameter %v, want %v", tc.query, err, got, tc.bad)
			}
			if got := errors.Is(err, errBadDate); got != tc.date {
				t.Errorf("parseFind(%s) = %v; bad date %v, want %v", tc.query, err, got, tc.date)
			}
		})
	}
}

// TestWebFollowsReloadedConfig: with Options.CurrentConfig the pages show
// the configuration in force, not the one of the start.
func TestWebFollowsReloadedConfig(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	reloaded := *f.cfg
	reloaded.Office.Name = "Staatskanzlei nach dem Neuladen"
	reloaded.Mailboxes = append(slices.Clone(f.cfg.Mailboxes), config.Mailbox{Name: "neu", Prefix: "NEU", Address: "neu@stk.example.de"})
	f.server.current = func() *config.Config { return &reloaded }

	resp, body := f.loggedIn("admin").get("/")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, reloaded.Office.Name) {
		t.Errorf("the page does not show the reloaded office name %q", reloaded.Office.Name)
	}
	if got := f.server.prefixes(); !slices.Contains(got, "NEU") {
		t.Errorf("prefixes = %v, want the reloaded mailbox's NEU among them", got)
	}
}
