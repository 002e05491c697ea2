package web

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestScreenshots regenerates docs/screenshots/*.png (worklist, case, audit log; German
// and English; desktop and phone width) from a seeded register when
// $INTAKE_SCREENSHOTS names the output directory (scripts/screenshots.sh). It is a tool,
// not a check: without the variable there is nothing to do.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("INTAKE_SCREENSHOTS")
	if dir == "" {
		t.Skip("set INTAKE_SCREENSHOTS=DIR to write screenshots (scripts/screenshots.sh)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := a11yFixture(t)
	base := f.srv.URL
	shots := []struct {
		name, path string
		w, h       int64
	}{
		{"worklist", "/?tab=all", 1280, 800},
		{"case", "/cases/" + f.ref("antrag"), 1280, 800},
		{"admin-audit", "/admin/audit", 1280, 800},
		{"admin-users", "/admin/users", 1280, 800},
		{"worklist-phone", "/?tab=all", 320, 640},
	}
	for _, lang := range []string{"de", "en"} {
		ctx := newBrowser(t)
		browserLogin(t, ctx, base, "admin", pwAdmin)
		for _, s := range shots {
			do(t, ctx, s.name, chromedp.EmulateViewport(s.w, s.h),
				chromedp.Navigate(base+s.path+sepFor(s.path)+"lang="+lang), chromedp.WaitReady(chromedp.CSS("footer")))
			png := get(t, ctx, "screenshot "+s.name, chromedp.FullScreenshot(100))
			out := filepath.Join(dir, s.name+"-"+lang+".png")
			if err := os.WriteFile(out, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d bytes)", out, len(png))
		}
	}
}

func sepFor(path string) string {
	for _, c := range path {
		if c == '?' {
			return "&"
		}
	}
	return "?"
}
