package search

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/intake-office/intake/ticket"
)

// Query is one search of a clerk.
type Query struct {
	// Text is free text: words, all of which must occur (each in subject, body, attachment
	// names or the sender's name or address), and "quoted phrases" (also „German quotes“).
	// Words are analysed like the indexed text (doc.go): stop words are dropped, umlauts
	// folded, endings stemmed. A word, or the whole Text, that is a case reference (any
	// spelling ticket.ParseReference accepts, e.g. "stk 2026 42 7") also finds the case's
	// messages and the messages that mention it. Empty = all messages.
	Text string
	// Sender: an address (exact, any case) or words of an address or name (all must occur in
	// From or FromName, umlauts folded, no stemming: "mueller", "Müller", "example.org").
	Sender string
	// Mailboxes the clerk may see (access control); nil = all. An empty, non-nil slice
	// allows none: the result is empty.
	Mailboxes []string
	Kind      string    // "" = any
	Status    string    // "" = any
	Since     time.Time // Received >= Since (zero = no bound)
	Until     time.Time // Received < Until (zero = no bound)
	Offset    int       // paging: hits to skip (<= MaxOffset)
	Limit     int       // 0 = 20, at most MaxLimit
	// SortByScore sorts by relevance (then newest first) when Text is set; otherwise, and by
	// default, hits are sorted newest first by Received, then by Seq descending.
	SortByScore bool
}

// Paging bounds: bleve keeps Offset+Limit hits in memory while it searches.
const (
	DefaultLimit = 20
	MaxLimit     = 1000
	MaxOffset    = 100_000
)

// Hit is one matching message.
type Hit struct {
	Seq       uint64
	Reference string
	Received  time.Time // in UTC
	Score     float64   // 0 unless sorted by score
}

// Result of Search.
type Result struct {
	// Total counts all matches, not only this page; but see TotalAtLeast.
	Total uint64
	// TotalAtLeast: Total is a lower bound. A newest-first search that would have to
	// examine very many messages (see defaultExpensive) searches the newest messages first (the
	// last week, 4 weeks, 16 weeks, ...) and stops at the first period with more matches
	// than Offset+Limit; Total then counts the matches of that period only (so Total >
	// Offset+len(Hits) still tells that more pages follow). The hits are exact either way.
	TotalAtLeast bool
	Hits         []Hit
	Took         time.Duration
}

// Cost model of a query, in postings a query would walk (see defaultExpensive). A phrase costs
// more per candidate document than a term, because each candidate's positions are read
// and compared: on the benchmark corpus about 2.5 µs against 0.13 µs (BENCHMARKS.md).
const (
	phraseWeight = 20
	// defaultExpensive is the cost above which a newest-first search goes by periods:
	// about 30 ms of term postings on the benchmark machine.
	defaultExpensive = 200_000
)

// periods are the lower bounds, back from the newest message, of the periods a windowed
// search tries before it searches everything: 1, 4, 16, 64 and 256 weeks.
func periods(newest time.Time) []time.Time {
	var out []time.Time
	for w := 1; w <= 256; w *= 4 {
		out = append(out, newest.AddDate(0, 0, -7*w))
	}
	return out
}

// Search runs q.
func (ix *Index) Search(q Query) (Result, error) {
	start := time.Now()
	if q.Limit < 0 || q.Limit > MaxLimit || q.Offset < 0 || q.Offset > MaxOffset {
		return Result{}, fmt.Errorf("search: offset %d, limit %d (want 0-%d, 0-%d): %w", q.Offset, q.Limit, MaxOffset, MaxLimit, ErrBadQuery)
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Mailboxes != nil && len(q.Mailboxes) == 0 {
		return Result{Took: time.Since(start)}, nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return Result{}, fmt.Errorf("search: %w", bleve.ErrorIndexClosed)
	}
	res, err := protect(func() (Result, error) { return ix.search(q) })
	if err != nil {
		return Result{}, fmt.Errorf("search %q: %w", q.Text, err)
	}
	res.Took = time.Since(start)
	return res, nil
}

// search runs q (validated, Limit set) under ix.mu.
func (ix *Index) search(q Query) (Result, error) {
	adv, err := ix.idx.Advanced()
	if err != nil {
		return Result{}, err
	}
	r, err := adv.Reader()
	if err != nil {
		return Result{}, err
	}
	defer r.Close()
	qb := queryBuilder{analyzers: ix.analyzers, freq: func(field, term string) uint64 {
		tfr, err := r.TermFieldReader(context.Background(), []byte(term), field, false, false, false)
		if err != nil {
			return 0
		}
		defer tfr.Close()
		return tfr.Count()
	}}
	text, filters, err := qb.build(q)
	if err != nil {
		return Result{}, err
	}
	byScore := q.SortByScore && len(text) > 0
	all := and(append(slices.Clone(text), filters...))
	if len(text) == 0 && len(filters) == 0 {
		n, err := r.DocCount()
		if err != nil {
			return Result{}, err
		}
		all = node{bleve.NewMatchAllQuery(), float64(n)}
	}
	run := func(since, until time.Time) (Result, error) {
		bq := all.q
		if !since.IsZero() || !until.IsZero() {
			bq = bleve.NewConjunctionQuery(bq, dateRange(since, until))
		}
		if byScore && len(filters) > 0 {
			b := bleve.NewBooleanQuery()
			b.AddMust(and(text).q)
			f := and(filters).q
			if !since.IsZero() || !until.IsZero() {
				f = bleve.NewConjunctionQuery(f, dateRange(since, until))
			}
			b.AddFilter(f)
			bq = b
		}
		return ix.run(bq, q, byScore)
	}
	newest := time.Unix(0, ix.newest.Load())
	if byScore || all.cost <= ix.expensive || ix.newest.Load() == 0 {
		return run(q.Since, q.Until)
	}
	// Expensive and newest first: by periods, newest first (see Result.TotalAtLeast).
	if !q.Until.IsZero() && q.Until.Before(newest) {
		newest = q.Until
	}
	need := uint64(q.Offset + q.Limit)
	for _, lo := range periods(newest) {
		if !q.Since.IsZero() && !lo.After(q.Since) {
			break
		}
		res, err := run(lo, q.Until)
		if err != nil {
			return Result{}, err
		}
		// More than the page: a caller sees from Total alone that more hits follow.
		if res.Total > need {
			res.TotalAtLeast = true
			ix.log.Debug("search by periods", "cost", all.cost, "since", lo, "total", res.Total)
			return res, nil
		}
	}
	return run(q.Since, q.Until)
}

// run runs the bleve query bq with the paging and order of q.
func (ix *Index) run(bq query.Query, q Query, byScore bool) (Result, error) {
	req := bleve.NewSearchRequestOptions(bq, q.Limit, q.Offset, false)
	req.Fields = []string{fReference, fReceived}
	newest := &search.SortField{Field: fOrder, Type: search.SortFieldAsString, Desc: true}
	if byScore {
		req.SortByCustom(search.SortOrder{&search.SortScore{Desc: true}, newest})
	} else {
		req.Score = bleve.ScoreNone
		req.SortByCustom(search.SortOrder{newest})
	}
	sr, err := ix.idx.Search(req)
	if err != nil {
		return Result{}, err
	}
	res := Result{Total: sr.Total, Hits: make([]Hit, 0, len(sr.Hits))}
	for _, h := range sr.Hits {
		seq, err := parseDocID(h.ID)
		if err != nil {
			return Result{}, err
		}
		hit := Hit{Seq: seq}
		if byScore {
			hit.Score = h.Score
		}
		if s, ok := h.Fields[fReference].(string); ok {
			hit.Reference = s
		}
		if s, ok := h.Fields[fReceived].(string); ok {
			if hit.Received, err = time.Parse(time.RFC3339Nano, s); err != nil {
				return Result{}, fmt.Errorf("received of seq %d: %w", seq, err)
			}
		}
		res.Hits = append(res.Hits, hit)
	}
	return res, nil
}

// dateRange matches Received in [since, until); a zero bound is open.
func dateRange(since, until time.Time) query.Query {
	if !since.IsZero() {
		since = clampTime(since)
	}
	if !until.IsZero() {
		until = clampTime(until)
	}
	incl, excl := true, false
	r := bleve.NewDateRangeInclusiveQuery(since, until, &incl, &excl)
	r.SetField(fReceived)
	return r
}

// node is a query with its estimated cost: the postings it walks at most.
type node struct {
	q    query.Query
	cost float64
}

// and matches all of ns: it walks no more than its cheapest part.
func and(ns []node) node {
	if len(ns) == 1 {
		return ns[0]
	}
	qs := make([]query.Query, 0, len(ns))
	cost := math.Inf(1)
	for _, n := range ns {
		qs = append(qs, n.q)
		cost = min(cost, n.cost)
	}
	return node{bleve.NewConjunctionQuery(qs...), cost}
}

// or matches any of ns: it walks all of them.
func or(ns []node) node {
	if len(ns) == 1 {
		return ns[0]
	}
	qs := make([]query.Query, 0, len(ns))
	cost := 0.0
	for _, n := range ns {
		qs = append(qs, n.q)
		cost += n.cost
	}
	return node{bleve.NewDisjunctionQuery(qs...), cost}
}

// queryBuilder turns a Query into bleve queries, analysing words with the analyzers of the
// index mapping, and estimates their cost with freq (the number of documents with a term).
type queryBuilder struct {
	analyzers map[string]analysis.Analyzer // by name
	freq      func(field, term string) uint64
}

// build returns the clauses of q.Text (all must match) and the filters other than the
// dates.
func (qb queryBuilder) build(q Query) (text, filters []node, err error) {
	text = qb.text(q.Text)
	if s := strings.TrimSpace(q.Sender); s != "" {
		f, err := qb.senderQuery(s)
		if err != nil {
			return nil, nil, err
		}
		filters = append(filters, f)
	}
	if len(q.Mailboxes) > 0 {
		ms := make([]node, 0, len(q.Mailboxes))
		for _, m := range q.Mailboxes {
			ms = append(ms, qb.term(fMailbox, m))
		}
		filters = append(filters, or(ms))
	}
	if q.Kind != "" {
		filters = append(filters, qb.term(fKind, q.Kind))
	}
	if q.Status != "" {
		filters = append(filters, qb.term(fStatus, q.Status))
	}
	return text, filters, nil
}

// text returns one query per word or phrase of s. When the whole of s is a reference, the
// result is a single query: that reference, or else the words.
func (qb queryBuilder) text(s string) []node {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	var clauses []node
	for _, p := range splitText(s) {
		if c, ok := qb.part(p); ok {
			clauses = append(clauses, c)
		}
	}
	if canon, ok := reference(s); ok && len(strings.Fields(s)) > 1 {
		alt := []node{qb.referenceQuery(canon)}
		if len(clauses) > 0 {
			alt = append(alt, and(clauses))
		}
		return []node{or(alt)}
	}
	return clauses
}

// textPart is a word or a quoted phrase of Query.Text.
type textPart struct {
	s      string
	phrase bool
}

// isQuote reports whether r opens or closes a phrase: the ASCII quote and the German and
// English typographic double quotes („…“, “…”).
func isQuote(r rune) bool {
	switch r {
	case '"', '„', '“', '”':
		return true
	}
	return false
}

// splitText splits s into words (at white space) and phrases (between quotes; an unclosed
// quote runs to the end).
func splitText(s string) []textPart {
	var parts []textPart
	var b strings.Builder
	inPhrase := false
	flush := func() {
		if w := strings.TrimSpace(b.String()); w != "" {
			parts = append(parts, textPart{s: w, phrase: inPhrase})
		}
		b.Reset()
	}
	for _, r := range s {
		switch {
		case isQuote(r):
			flush()
			inPhrase = !inPhrase
		case unicode.IsSpace(r) && !inPhrase:
			flush()
		default:
			b.WriteRune(r)
		}
	}
	flush()
	return parts
}

// part returns the query of one word or phrase; false when it has nothing to search for
// (only stop words or punctuation).
func (qb queryBuilder) part(p textPart) (node, bool) {
	var alt []node
	for _, f := range textFields() {
		switch terms := analyze(qb.analyzers[fieldAnalyzer(f)], p.s); {
		case len(terms) == 1:
			alt = append(alt, qb.term(f, terms[0]))
		case len(terms) > 1:
			// "Müller-Lüdenscheidt" or a phrase: the words in this order, in one field.
			alt = append(alt, qb.phrase(f, p.s, terms))
		}
	}
	if !p.phrase && len(alt) > 0 {
		// A word also matches the words of the sender's address and name (unless it is
		// only stop words, which must not turn into a filter on the sender).
		if senderTerms := analyze(qb.analyzers[senderAnalyzer], p.s); len(senderTerms) > 0 {
			ts := make([]node, 0, len(senderTerms))
			for _, t := range senderTerms {
				ts = append(ts, qb.term(fSender, t))
			}
			alt = append(alt, and(ts))
		}
	}
	if !p.phrase {
		if addr, ok := address(p.s); ok {
			alt = append(alt, qb.term(fFrom, addr))
		}
		if canon, ok := reference(p.s); ok {
			alt = append(alt, qb.referenceQuery(canon))
		}
	}
	if len(alt) == 0 {
		return node{}, false
	}
	return or(alt), true
}

// referenceQuery finds the messages of the case canon and the messages whose subject or
// body mention it.
func (qb queryBuilder) referenceQuery(canon string) node {
	ns := []node{qb.term(fReference, canon)}
	for _, f := range []string{fSubject, fBody} {
		if terms := analyze(qb.analyzers[fieldAnalyzer(f)], canon); len(terms) > 0 {
			ns = append(ns, qb.phrase(f, canon, terms))
		}
	}
	return or(ns)
}

// senderQuery is the filter of Query.Sender s (trimmed, not empty).
func (qb queryBuilder) senderQuery(s string) (node, error) {
	if addr, ok := address(s); ok {
		return qb.term(fFrom, addr), nil
	}
	terms := analyze(qb.analyzers[senderAnalyzer], s)
	if len(terms) == 0 {
		return node{}, fmt.Errorf("search: sender %q has no letters or digits: %w", s, ErrBadQuery)
	}
	ts := make([]node, 0, len(terms))
	for _, t := range terms {
		ts = append(ts, qb.term(fSender, t))
	}
	return and(ts), nil
}

// term matches the (analysed) term t in field.
func (qb queryBuilder) term(field, t string) node {
	q := bleve.NewTermQuery(t)
	q.SetField(field)
	n := node{q: q}
	if qb.freq != nil {
		n.cost = float64(qb.freq(field, t))
	}
	return n
}

// phrase matches the words of s in this order in field; terms are s analysed for field.
func (qb queryBuilder) phrase(field, s string, terms []string) node {
	q := bleve.NewMatchPhraseQuery(s)
	q.SetField(field)
	n := node{q: q}
	if qb.freq != nil {
		least := uint64(math.MaxUint64)
		for _, t := range terms {
			least = min(least, qb.freq(field, t))
		}
		n.cost = phraseWeight * float64(least)
	}
	return n
}

// reference returns the canonical form of s when s is a case reference whose prefix has a
// letter (so that a bare number is never taken for one).
func reference(s string) (string, bool) {
	r, err := ticket.ParseReference(s)
	if err != nil || strings.IndexFunc(r.Prefix, unicode.IsLetter) < 0 {
		return "", false
	}
	return r.String(), true
}

// address returns s lower-cased when it is a complete mail address (local@domain, no
// spaces), as the from field holds it.
func address(s string) (string, bool) {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsFunc(s, unicode.IsSpace) {
		return "", false
	}
	return strings.ToLower(s), true
}

// analyze returns the terms a analyses s into.
func analyze(a analysis.Analyzer, s string) []string {
	tokens := a.Analyze([]byte(s))
	terms := make([]string, 0, len(tokens))
	for _, t := range tokens {
		terms = append(terms, string(t.Term))
	}
	return terms
}
