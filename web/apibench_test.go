package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkAPICase is one GET /api/cases/REF through the handler (no network): the work a
// lookup costs inside intake, which the drain's CPU then multiplies (issue 12).
func BenchmarkAPICase(b *testing.B) {
	f := newFixture(b, fixtureOptions{})
	path := "/api/cases/" + f.ref("zweite")
	auth := "Bearer " + f.token("erika")
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
