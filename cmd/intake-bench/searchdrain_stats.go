package main

import (
	"slices"
	"time"
)

// latStats summarises latencies: count, nearest-rank percentiles (pct) and
// the maximum.
type latStats struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// statsOf returns the latStats of ds (not changed); the zero value for none.
func statsOf(ds []time.Duration) latStats {
	if len(ds) == 0 {
		return latStats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return latStats{N: len(s), P50: pct(s, 50), P95: pct(s, 95), P99: pct(s, 99), Max: s[len(s)-1]}
}

// sdPausedLookup is the class of the lookups of the clerk who pauses.
const sdPausedLookup = "paused lookup"

// sdSample is one request of the query loop.
type sdSample struct {
	fullText bool   // a full-text search, else GET /api/cases/REF
	class    string // the query class
	start    time.Duration
	took     time.Duration
	server   time.Duration // intake's own time (Server-Timing); 0 if not said
	wake     time.Duration // from intake's raised thread seeing the request to the handler; 0 if not said
	failed   bool          // not 200, or a search the index did not answer
	err      string        // why it failed
}

// sdPhase is a span of the run, from the start of the daemon.
type sdPhase struct {
	Name     string        `json:"name"`
	From     time.Duration `json:"from_ns"`
	To       time.Duration `json:"to_ns"`
	FullText latStats      `json:"full_text"`
	Lookup   latStats      `json:"lookup"`
	// FullTextServer and LookupServer: the same requests' time in intake itself
	// (Server-Timing: from the request reaching the handler to the answer's header).
	FullTextServer latStats `json:"full_text_server"`
	LookupServer   latStats `json:"lookup_server"`
	// PausedLookup and PausedLookupServer: the lookups of the clerk who pauses
	// (-paused-clerk), at the client and in intake.
	PausedLookup       latStats `json:"paused_lookup,omitzero"`
	PausedLookupServer latStats `json:"paused_lookup_server,omitzero"`
	// LookupWake and PausedLookupWake: from intake's raised thread seeing a lookup arrive
	// to its handler starting (Server-Timing wake), mostly the wait for a Go processor;
	// only lookups that waited for their thread in ppoll(2) (web/raisedconn.go) have one.
	LookupWake       latStats       `json:"lookup_wake,omitzero"`
	PausedLookupWake latStats       `json:"paused_lookup_wake,omitzero"`
	Failed           int            `json:"failed"`
	Errors           map[string]int `json:"errors,omitempty"` // why they failed
	// ByClass: full-text latencies by query class.
	ByClass map[string]latStats `json:"full_text_by_class"`
}

// phaseOf summarises the samples that started in [from, to).
func phaseOf(name string, from, to time.Duration, samples []sdSample) sdPhase {
	p := sdPhase{Name: name, From: from, To: to, ByClass: map[string]latStats{}}
	var ft, lk, fts, lks, pl, pls, lkw, plw []time.Duration
	byClass := map[string][]time.Duration{}
	for _, s := range samples {
		if s.start < from || s.start >= to {
			continue
		}
		switch {
		case s.failed:
			p.Failed++
			if p.Errors == nil {
				p.Errors = map[string]int{}
			}
			p.Errors[s.err]++
		case s.class == sdPausedLookup:
			pl = append(pl, s.took)
			if s.server > 0 {
				pls = append(pls, s.server)
			}
			if s.wake > 0 {
				plw = append(plw, s.wake)
			}
		case s.fullText:
			ft = append(ft, s.took)
			byClass[s.class] = append(byClass[s.class], s.took)
			if s.server > 0 {
				fts = append(fts, s.server)
			}
		default:
			lk = append(lk, s.took)
			if s.server > 0 {
				lks = append(lks, s.server)
			}
			if s.wake > 0 {
				lkw = append(lkw, s.wake)
			}
		}
	}
	p.FullText, p.Lookup = statsOf(ft), statsOf(lk)
	p.FullTextServer, p.LookupServer = statsOf(fts), statsOf(lks)
	p.PausedLookup, p.PausedLookupServer = statsOf(pl), statsOf(pls)
	p.LookupWake, p.PausedLookupWake = statsOf(lkw), statsOf(plw)
	for c, ds := range byClass {
		p.ByClass[c] = statsOf(ds)
	}
	return p
}
