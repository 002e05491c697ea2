package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSearchDrainClerk: a clerk process asks until its standard input ends and reports
// every request it timed, its starts counted from the job's CLOCK_MONOTONIC reading.
func TestSearchDrainClerk(t *testing.T) {
	const want = 5 // requests the server waits for before the test ends the clerk's input
	var asked atomic.Int64
	enough := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || !strings.HasPrefix(r.URL.Path, "/api/cases/STK-") {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Server-Timing", "app;dur=0.25, wake;dur=0.05")
		io.WriteString(w, `{"reference":"x"}`)
		if asked.Add(1) == want {
			close(enough)
		}
	}))
	defer srv.Close()

	// The daemon started 10 s before the clerk: every start counts from then.
	const before = 10 * time.Second
	t0 := monotonicNow() - int64(before)
	job := clerkJob{Base: srv.URL, Token: "tok", Data: sdData{Cases: 10, Seed: 1, Years: map[int]uint64{2025: 10}}, Only: "lookup", Seed: [2]uint64{1, 2}, T0: t0}
	in, inW := io.Pipe()
	var out, errs bytes.Buffer
	done := make(chan int)
	go func() { done <- cmdSearchDrainClerk(nil, in, &out, &errs) }()
	if err := json.NewEncoder(inW).Encode(job); err != nil {
		t.Fatal(err)
	}
	select {
	case <-enough:
	case code := <-done:
		t.Fatalf("the clerk ended by itself (exit %d): %s", code, errs.String())
	case <-t.Context().Done():
		t.Fatal("the test ended first")
	}
	inW.Close()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	var res clerkResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("result %q: %v", out.String(), err)
	}
	sinceT0 := time.Duration(monotonicNow() - t0)
	if n := len(res.Samples); n < want-1 || int64(n) > asked.Load() {
		t.Errorf("%d samples of %d requests answered", n, asked.Load())
	}
	if res.Conns != 1 {
		t.Errorf("%d connections, want 1", res.Conns)
	}
	if res.Up < before || res.Up > sinceT0 {
		t.Errorf("up at %v, want between %v and %v after T0", res.Up, before, sinceT0)
	}
	for i, s := range res.Samples {
		if s.Failed || s.Class != "lookup" || s.FullText {
			t.Errorf("sample %d: %+v", i, s)
		}
		if s.Start < res.Up || s.Start+s.Took > sinceT0 || s.Took <= 0 {
			t.Errorf("sample %d starts at %v and took %v: outside T0 … %v", i, s.Start, s.Took, sinceT0)
		}
		if s.Server != 250*time.Microsecond || s.Wake != 50*time.Microsecond {
			t.Errorf("sample %d: server %v, wake %v", i, s.Server, s.Wake)
		}
	}
}

// TestTimeAtMonotonic: a CLOCK_MONOTONIC reading becomes the time.Time it was taken at:
// between the time.Now taken around it, by no more than the reading's own gap.
func TestTimeAtMonotonic(t *testing.T) {
	before := time.Now()
	mono := monotonicNow()
	after := time.Now()
	got := timeAtMonotonic(mono)
	// timeAtMonotonic's own reading of the two clocks may be up to its gap apart
	// (20 µs, or more when the thread was preempted in all ten tries: then the test
	// reports it).
	const gap = 20 * time.Microsecond
	if got.Before(before.Add(-gap)) || got.After(after.Add(gap)) {
		t.Errorf("timeAtMonotonic = %v, taken between %v and %v", got, before, after)
	}
}
