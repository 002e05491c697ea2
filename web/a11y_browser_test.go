package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/intake-office/intake/ticket"
)

// axeSource returns axe.min.js of the npm package axe-core, whose path scripts/test.sh
// passes in $INTAKE_AXE_JS. Without it the accessibility test skips, except under CI
// ($CI=true) or with $INTAKE_REQUIRE_REAL_SERVERS, where it fails.
func axeSource(t *testing.T) string {
	t.Helper()
	p := os.Getenv("INTAKE_AXE_JS")
	b, err := os.ReadFile(p)
	if p == "" || err != nil {
		msg := fmt.Sprintf("axe-core not found (INTAKE_AXE_JS=%q: %v); scripts/test.sh fetches it with npm", p, err)
		if os.Getenv("CI") != "" || os.Getenv("INTAKE_REQUIRE_REAL_SERVERS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return string(b)
}

// axeViolation is the part of an axe-core result the test prints.
type axeViolation struct {
	ID    string `json:"id"`
	Help  string `json:"help"`
	Nodes []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// runAxe injects axe-core into the page (through the DevTools protocol, which the
// page's CSP does not govern) and runs the WCAG 2.0/2.1 A and AA rules.
func runAxe(t *testing.T, ctx context.Context, src string) []axeViolation {
	t.Helper()
	if ok := get(t, ctx, "inject axe", chromedp.Evaluate[bool](src+";\ntypeof axe === 'object'")); !ok {
		t.Fatal("axe-core did not load into the page")
	}
	res := get(t, ctx, "run axe", chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: 'tag',
		values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})
		.then(r => JSON.stringify({violations: r.violations, passes: r.passes.length}))`, chromedp.EvalAwaitPromise))
	var out struct {
		Violations []axeViolation `json:"violations"`
		Passes     int            `json:"passes"`
	}
	if err := json.Unmarshal([]byte(res), &out); err != nil {
		t.Fatalf("axe result: %v", err)
	}
	if out.Passes == 0 {
		t.Fatal("axe-core checked nothing")
	}
	return out.Violations
}

// layoutProblems checks the reflow of the current page (WCAG 2.1 SC 1.4.10): no
// horizontal scrolling, and no status badge, reference, count or mailbox name whose
// text is broken over lines (the text's line boxes have more than one top).
const layoutProblems = `(() => {
	const p = [];
	const de = document.documentElement;
	if (de.scrollWidth > window.innerWidth) {
		let widest = '';
		document.querySelectorAll('body *').forEach(el => { const b = el.getBoundingClientRect();
			if (b.right > window.innerWidth + 1 && !widest) widest = el.tagName + '.' + el.className + '#' + el.id + ' right ' + Math.round(b.right); });
		p.push('scroll width ' + de.scrollWidth + ' > viewport ' + window.innerWidth + ' (first too wide: ' + widest + ')');
	}
	document.querySelectorAll('.status, .ack, .ref, .nobreak, .count').forEach(el => {
		if (el.getClientRects().length === 0) return; // not rendered (visually hidden header)
		const r = document.createRange();
		r.selectNodeContents(el);
		const tops = new Set();
		for (const rect of r.getClientRects()) if (rect.width > 0) tops.add(Math.round(rect.top));
		if (tops.size > 1) p.push('broken over ' + tops.size + ' lines: ' + el.className + ' "' + el.textContent + '"');
		const box = el.getBoundingClientRect();
		if (box.right > window.innerWidth + 1) p.push('outside the viewport: ' + el.className + ' "' + el.textContent + '"');
	});
	return p;
})()`

// a11yFixture is the fixture with more to show: a hostile long subject and sender, an
// assigned case, a case in progress, a note.
func a11yFixture(t *testing.T) *fixture {
	long := strings.Repeat("Donaudampfschifffahrtsgesellschaftskapitän", 4)
	f := newFixture(t, fixtureOptions{mails: []testMail{
		{name: "lang", mailbox: "poststelle", received: t0.Add(4 * time.Hour), raw: "From: " + strings.Repeat("x", 60) +
			"@" + strings.Repeat("sehr-lange-domain", 4) + ".example\nTo: poststelle@stk.example.de\nSubject: " + long +
			"\nMessage-ID: <lang@x>\n\n" + long + "\n"},
	}})
	a := ticket.Actor{Name: "admin", At: t0.Add(5 * time.Hour)}
	if err := f.store.Assign(f.refs["antrag"], "admin", a); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetStatus(f.refs["zweite"], ticket.StatusInProgress, a.At); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AddNote(f.refs["antrag"], "Rückruf vereinbart", a); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestBrowserAccessibility opens every page — login (also after a failed login), each
// worklist tab, search results, the did-you-mean answer, a case (text and HTML view),
// the audit log, an error page, in German and English — at 320×640 (a phone, or 400 %
// zoom of 1280 px) and 1280×800, checks the reflow, and runs axe-core on it: no
// violation of the WCAG 2.0/2.1 A and AA rules.
func TestBrowserAccessibility(t *testing.T) {
	axe := axeSource(t)
	f := a11yFixture(t)
	base := f.srv.URL
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><html><title>control</title><body><input type="text">` +
			`<p style="width:10px"><span class="status">in Bearbeitung</span></p><div style="width:3000px">x</div></body></html>`))
	}))
	defer control.Close()
	antrag, lang := f.ref("antrag"), f.ref("lang")
	typo := antrag[:len(antrag)-1] + string("0123456789"[(int(antrag[len(antrag)-1]-'0')+1)%10])

	type page struct{ name, path string }
	var pages []page
	for _, l := range []string{"de", "en"} {
		for _, tab := range tabOrder {
			pages = append(pages, page{l + " worklist " + tab, "/?tab=" + tab + "&lang=" + l})
		}
		pages = append(pages,
			page{l + " worklist oldest first", "/?tab=all&order=oldest&lang=" + l},
			page{l + " search results", "/?q=Antrag&lang=" + l},
			page{l + " search filters", "/?status=new&kind=citizen&lang=" + l},
			page{l + " search did-you-mean", "/?q=" + typo + "&lang=" + l},
			page{l + " case", "/cases/" + antrag + "?lang=" + l},
			page{l + " case, HTML view", "/cases/" + antrag + "?html=" + uintString(f.seqs["antrag"]) + "&lang=" + l},
			page{l + " case with long words", "/cases/" + lang + "?lang=" + l},
			page{l + " audit log", "/admin/audit?lang=" + l},
			page{l + " users", "/admin/users?lang=" + l},
			page{l + " user and tokens", "/admin/users/erika?lang=" + l},
			page{l + " not found", "/cases/STK-2026-999999-0?lang=" + l},
		)
	}
	for _, vp := range []struct{ w, h int64 }{{320, 640}, {1280, 800}} {
		t.Run(fmt.Sprintf("%dx%d", vp.w, vp.h), func(t *testing.T) {
			ctx := newBrowser(t)
			do(t, ctx, "viewport", chromedp.EmulateViewport(vp.w, vp.h))
			// The harness sees what it looks for: a page with an unlabelled field, a broken
			// badge and a too wide element.
			do(t, ctx, "control page", chromedp.Navigate(control.URL), chromedp.WaitReady(chromedp.CSS("body")))
			if v := runAxe(t, ctx, axe); len(v) == 0 {
				t.Error("control page: axe found no violation")
			}
			if p := get(t, ctx, "layout", chromedp.Evaluate[[]string](layoutProblems)); len(p) != 2 {
				t.Errorf("control page: layout problems %q, want 2", p)
			}
			check := func(name string) {
				t.Helper()
				if p := get(t, ctx, "layout", chromedp.Evaluate[[]string](layoutProblems)); len(p) > 0 {
					t.Errorf("%s: reflow:\n  %s", name, strings.Join(p, "\n  "))
				}
				for _, v := range runAxe(t, ctx, axe) {
					var where []string
					for _, n := range v.Nodes {
						where = append(where, fmt.Sprintf("%v: %s", n.Target, n.Summary))
					}
					t.Errorf("%s: axe %s: %s\n  %s", name, v.ID, v.Help, strings.Join(where, "\n  "))
				}
			}
			// Not logged in: the login page, then a failed login.
			do(t, ctx, "login page", chromedp.Navigate(base+"/login?lang=de"), chromedp.WaitVisible(chromedp.CSS("#name")))
			check("login")
			do(t, ctx, "failed login",
				chromedp.SendKeys(chromedp.CSS("#name"), "erika"),
				chromedp.SendKeys(chromedp.CSS("#password"), "falsch"+kb.Enter),
				chromedp.WaitVisible(chromedp.CSS("#login-error")))
			if id := get(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); id != "login-error" {
				t.Errorf("after a failed login the focus is on %q, want the error (#login-error)", id)
			}
			check("failed login")
			browserLogin(t, ctx, base, "admin", pwAdmin)
			for _, p := range pages {
				do(t, ctx, p.name, chromedp.Navigate(base+p.path), chromedp.WaitReady(chromedp.CSS("footer")))
				check(p.name)
			}
		})
	}
}
