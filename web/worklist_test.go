package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/intake-office/intake/ticket"
)

// tabCounts reads the tab counts of a worklist page.
func tabCounts(t *testing.T, body string) map[string]int {
	t.Helper()
	out := map[string]int{}
	re := regexp.MustCompile(`<a href="/\?tab=(\w+)"[^>]*>[^<]*<span class="count">(\d+)</span>`)
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = n
	}
	if len(out) != len(tabOrder) {
		t.Fatalf("tabs %v in\n%.3000s", out, body)
	}
	return out
}

// rowRefs returns the references of the worklist rows.
func rowRefs(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<input type="checkbox" name="ref" value="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestWorklistPage(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	antrag, zweite, abwesend, presse := f.ref("antrag"), f.ref("zweite"), f.ref("abwesend"), f.ref("presse")
	tests := []struct {
		user   string
		counts map[string]int
		tab    string
		rows   []string // newest first
	}{
		// The clock is 30 days after the mails: with the default 672h every open citizen
		// case is overdue.
		{"admin", map[string]int{"new": 3, "mine": 0, "progress": 0, "overdue": 3, "auto": 1, "all": 4}, "", []string{presse, zweite, antrag}},
		{"admin", nil, "auto", []string{abwesend}},
		{"admin", nil, "all", []string{presse, abwesend, zweite, antrag}},
		{"erika", map[string]int{"new": 2, "mine": 0, "progress": 0, "overdue": 2, "auto": 1, "all": 3}, "new", []string{zweite, antrag}},
		{"erika", nil, "overdue", []string{zweite, antrag}},
		{"paul", map[string]int{"new": 1, "mine": 0, "progress": 0, "overdue": 1, "auto": 0, "all": 1}, "all", []string{presse}},
	}
	for _, tt := range tests {
		t.Run(tt.user+" "+tt.tab, func(t *testing.T) {
			c := f.loggedIn(tt.user)
			resp, body := c.get("/?tab=" + tt.tab)
			wantStatus(t, resp, body, http.StatusOK)
			if tt.counts != nil {
				if got := tabCounts(t, body); !mapsEqual(got, tt.counts) {
					t.Errorf("counts %v, want %v", got, tt.counts)
				}
			}
			if got := rowRefs(body); strings.Join(got, " ") != strings.Join(tt.rows, " ") {
				t.Errorf("rows %v, want %v", got, tt.rows)
			}
		})
	}
	c := f.loggedIn("admin")
	_, body := c.get("/?tab=all")
	for _, want := range []string{`<span class="ack ack-sent">gesendet</span>`,
		`<span class="ack ack-suppressed">nicht gesendet</span> <span class="reason">AUTO_SUBMITTED</span>`,
		`<span class="ack ack-pending">ausstehend</span>`, `aria-current="page">Alle`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Oldest first, by a link.
	_, body = c.get("/?tab=all&order=oldest")
	if got := rowRefs(body); strings.Join(got, " ") != strings.Join([]string{antrag, zweite, abwesend, presse}, " ") {
		t.Errorf("oldest first %v", got)
	}
	// English.
	_, body = c.get("/?lang=en")
	if !strings.Contains(body, `New, unassigned <span class="count">3</span>`) {
		t.Errorf("English worklist:\n%.2000s", body)
	}
	// A search is still answered on the same page, without the worklist.
	_, body = c.get("/?q=Bauantrag&lang=de")
	if strings.Contains(body, `name="ref"`) || !strings.Contains(body, "Ergebnisse") {
		t.Errorf("search shows the worklist:\n%.2000s", body)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestWorklistBulk(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	antrag, zweite, presse := f.ref("antrag"), f.ref("zweite"), f.ref("presse")
	erika := f.loggedIn("erika")

	// Cross-origin: refused, nothing changed.
	resp, body := erika.post("/cases/bulk", url.Values{"ref": {antrag}, "do": {"assign"}, "assignee": {"erika"}},
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	wantStatus(t, resp, body, http.StatusForbidden)
	if w, _ := f.store.CaseworkOf(f.refs["antrag"]); w.Assignee != "" {
		t.Fatalf("cross-origin bulk assigned %q", w.Assignee)
	}

	// Assign two cases to herself: each is audited like a single assignment.
	resp, body = erika.post("/cases/bulk", url.Values{"ref": {antrag, zweite}, "do": {"assign"}, "assignee": {"erika"}, "tab": {"new"}})
	wantRedirect(t, resp, body, "/?done=bulk&tab=new")
	for _, n := range []string{"antrag", "zweite"} {
		if w, _ := f.store.CaseworkOf(f.refs[n]); w.Assignee != "erika" {
			t.Errorf("%s assigned to %q", n, w.Assignee)
		}
	}
	entries, _, _ := f.store.AuditLog(ticket.AuditFilter{Actor: "erika", Action: ticket.AuditAssign})
	if len(entries) != 2 {
		t.Errorf("%d assign audit entries, want 2", len(entries))
	}
	_, body = erika.get("/?tab=mine&done=bulk")
	if got := tabCounts(t, body); got["mine"] != 2 || got["new"] != 0 {
		t.Errorf("after bulk assign: %v", got)
	}
	if !strings.Contains(body, "Die ausgewählten Vorgänge wurden geändert.") {
		t.Error("no notice")
	}

	// A case she may not see is skipped (and not revealed); the others are changed.
	resp, body = erika.post("/cases/bulk", url.Values{"ref": {presse, antrag}, "do": {"status"}, "status": {"closed"}})
	wantRedirect(t, resp, body, "/?err=bulk")
	if c, _ := f.store.Lookup(f.refs["presse"]); c.Status != ticket.StatusNew {
		t.Errorf("invisible case changed to %s", c.Status)
	}
	// A new case is closed through "in progress": two audited changes.
	if c, _ := f.store.Lookup(f.refs["antrag"]); c.Status != ticket.StatusClosed {
		t.Errorf("antrag is %s", c.Status)
	}
	entries, _, _ = f.store.AuditLog(ticket.AuditFilter{Actor: "erika", Action: ticket.AuditStatus})
	if len(entries) != 2 {
		t.Errorf("%d status audit entries, want 2", len(entries))
	}
	_, body = erika.get("/?tab=mine")
	if got := tabCounts(t, body); got["mine"] != 1 || got["overdue"] != 1 || got["all"] != 3 {
		t.Errorf("after bulk close: %v", got)
	}
	// An assignee who may not see the mailbox is refused per case.
	resp, body = erika.post("/cases/bulk", url.Values{"ref": {zweite}, "do": {"assign"}, "assignee": {"paul"}})
	wantRedirect(t, resp, body, "/?err=bulk")
	if w, _ := f.store.CaseworkOf(f.refs["zweite"]); w.Assignee != "erika" {
		t.Errorf("zweite assigned to %q", w.Assignee)
	}
	// Bad input.
	for _, form := range []url.Values{
		{"do": {"assign"}},
		{"ref": {zweite}, "do": {"status"}, "status": {"new"}},
		{"ref": {zweite}, "do": {"assign"}, "assignee": {"gesperrt"}},
	} {
		resp, body = erika.post("/cases/bulk", form)
		wantRedirect(t, resp, body, "/?err=")
	}
	resp, body = erika.post("/cases/bulk", url.Values{"ref": {zweite}, "do": {"delete"}})
	wantStatus(t, resp, body, http.StatusBadRequest)
}
