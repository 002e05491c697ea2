package main

import (
	"testing"
	"time"
)

func TestStatsOf(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(100 - i) // 100 ms … 1 ms, unsorted
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want latStats
	}{
		{"none", nil, latStats{}},
		{"one", []time.Duration{ms(7)}, latStats{N: 1, P50: ms(7), P95: ms(7), P99: ms(7), Max: ms(7)}},
		// Nearest rank: p50 of 1..100 is the 50th value, p95 the 95th, p99 the 99th.
		{"hundred", hundred, latStats{N: 100, P50: ms(50), P95: ms(95), P99: ms(99), Max: ms(100)}},
		// Of 20 values p95 is the 19th and p99 the 20th (ceil(0.99*20) = 20).
		{"twenty", hundred[80:], latStats{N: 20, P50: ms(10), P95: ms(19), P99: ms(20), Max: ms(20)}},
		{"two", []time.Duration{ms(3), ms(1)}, latStats{N: 2, P50: ms(1), P95: ms(3), P99: ms(3), Max: ms(3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := append([]time.Duration(nil), tc.in...)
			if got := statsOf(tc.in); got != tc.want {
				t.Errorf("statsOf = %+v, want %+v", got, tc.want)
			}
			for i := range before {
				if tc.in[i] != before[i] {
					t.Fatal("statsOf changed its input")
				}
			}
		})
	}
}

func TestPhaseOf(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	samples := []sdSample{
		{fullText: true, class: "word", start: ms(0), took: ms(40)},
		{fullText: false, class: "lookup", start: ms(50), took: ms(2)},
		{fullText: true, class: "phrase", start: ms(99), took: ms(300)}, // starts inside, ends outside: inside
		{fullText: true, class: "word", start: ms(100), took: ms(5)},    // the next phase
		{fullText: true, class: "word", start: ms(60), took: ms(1), failed: true},
		{class: sdPausedLookup, start: ms(70), took: ms(9), server: ms(3)}, // the clerk who pauses: apart
	}
	p := phaseOf("drain", 0, ms(100), samples)
	if p.FullText.N != 2 || p.FullText.Max != ms(300) || p.Lookup.N != 1 || p.Lookup.Max != ms(2) || p.Failed != 1 {
		t.Errorf("phase = %+v", p)
	}
	if p.PausedLookup.N != 1 || p.PausedLookup.Max != ms(9) || p.PausedLookupServer.Max != ms(3) {
		t.Errorf("paused lookups = %+v / %+v", p.PausedLookup, p.PausedLookupServer)
	}
	if p.ByClass["word"].N != 1 || p.ByClass["phrase"].N != 1 {
		t.Errorf("by class = %+v", p.ByClass)
	}
	if q := phaseOf("idle", ms(100), ms(200), samples); q.FullText.N != 1 || q.FullText.P50 != ms(5) {
		t.Errorf("next phase = %+v", q)
	}
}

func TestServerTimes(t *testing.T) {
	for _, tt := range []struct {
		header    string
		app, wake time.Duration
	}{
		{"app;dur=1.250", 1250 * time.Microsecond, 0},
		{"app;dur=1.250, wake;dur=0.300", 1250 * time.Microsecond, 300 * time.Microsecond},
		{"wake;dur=2,app;dur=0.5", 500 * time.Microsecond, 2 * time.Millisecond},
		{"app;dur=0.000", 0, 0},
		{"", 0, 0},
		{"db;dur=3", 0, 0},
		{"app;dur=x", 0, 0},
	} {
		if app, wake := serverTimes(tt.header); app != tt.app || wake != tt.wake {
			t.Errorf("serverTimes(%q) = %v, %v, want %v, %v", tt.header, app, wake, tt.app, tt.wake)
		}
	}
}

func TestParseVoluntarySwitches(t *testing.T) {
	status := "Name:\tintake\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t12345\nnonvoluntary_ctxt_switches:\t67\n"
	for _, tt := range []struct {
		name, status string
		want         int64
		wantErr      bool
	}{
		{"status", status, 12345, false},
		{"missing", "Name:\tintake\nnonvoluntary_ctxt_switches:\t67\n", 0, true},
		{"garbled", "voluntary_ctxt_switches:\tmany\n", 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVoluntarySwitches(tt.status)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseVoluntarySwitches = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
