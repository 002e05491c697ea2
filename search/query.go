package search

import (
	"fmt"
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
	Total uint64 // all matches, not only this page
	Hits  []Hit
	Took  time.Duration
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
	qb := queryBuilder{analyzers: ix.analyzers}
	text, filters, err := qb.build(q)
	if err != nil {
		return Result{}, err
	}
	byScore := q.SortByScore && len(text) > 0
	var bq query.Query
	switch {
	case len(text) == 0 && len(filters) == 0:
		bq = bleve.NewMatchAllQuery()
	case byScore && len(filters) > 0:
		b := bleve.NewBooleanQuery()
		b.AddMust(conjunction(text))
		b.AddFilter(conjunction(filters))
		bq = b
	default:
		bq = conjunction(append(text, filters...))
	}
	req := bleve.NewSearchRequestOptions(bq, q.Limit, q.Offset, false)
	req.Fields = []string{fReference, fReceived}
	newest := &search.SortField{Field: fOrder, Type: search.SortFieldAsString, Desc: true}
	if byScore {
		req.SortByCustom(search.SortOrder{&search.SortScore{Desc: true}, newest})
	} else {
		req.Score = bleve.ScoreNone
		req.SortByCustom(search.SortOrder{newest})
	}
	sr, err := protect(func() (*bleve.SearchResult, error) { return ix.idx.Search(req) })
	if err != nil {
		return Result{}, fmt.Errorf("search %q: %w", q.Text, err)
	}
	res := Result{Total: sr.Total, Hits: make([]Hit, 0, len(sr.Hits))}
	for _, h := range sr.Hits {
		seq, err := parseDocID(h.ID)
		if err != nil {
			return Result{}, fmt.Errorf("search %q: %w", q.Text, err)
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
				return Result{}, fmt.Errorf("search %q: received of seq %d: %w", q.Text, seq, err)
			}
		}
		res.Hits = append(res.Hits, hit)
	}
	res.Took = time.Since(start)
	return res, nil
}

// queryBuilder turns a Query into bleve queries, analysing words with the analyzers of the
// index mapping.
type queryBuilder struct {
	analyzers map[string]analysis.Analyzer // by name
}

// build returns the clauses of q.Text (all must match) and the filters.
func (qb queryBuilder) build(q Query) (text, filters []query.Query, err error) {
	text = qb.text(q.Text)
	if s := strings.TrimSpace(q.Sender); s != "" {
		f, err := qb.senderQuery(s)
		if err != nil {
			return nil, nil, err
		}
		filters = append(filters, f)
	}
	if len(q.Mailboxes) > 0 {
		ms := make([]query.Query, 0, len(q.Mailboxes))
		for _, m := range q.Mailboxes {
			ms = append(ms, term(fMailbox, m))
		}
		filters = append(filters, disjunction(ms))
	}
	if q.Kind != "" {
		filters = append(filters, term(fKind, q.Kind))
	}
	if q.Status != "" {
		filters = append(filters, term(fStatus, q.Status))
	}
	if !q.Since.IsZero() || !q.Until.IsZero() {
		var since, until time.Time
		if !q.Since.IsZero() {
			since = clampTime(q.Since)
		}
		if !q.Until.IsZero() {
			until = clampTime(q.Until)
		}
		incl, excl := true, false
		r := bleve.NewDateRangeInclusiveQuery(since, until, &incl, &excl)
		r.SetField(fReceived)
		filters = append(filters, r)
	}
	return text, filters, nil
}

// text returns one query per word or phrase of s. When the whole of s is a reference, the
// result is a single query: that reference, or else the words.
func (qb queryBuilder) text(s string) []query.Query {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	var clauses []query.Query
	for _, p := range splitText(s) {
		if c := qb.part(p); c != nil {
			clauses = append(clauses, c)
		}
	}
	if canon, ok := reference(s); ok && len(strings.Fields(s)) > 1 {
		alt := []query.Query{qb.referenceQuery(canon)}
		if len(clauses) > 0 {
			alt = append(alt, conjunction(clauses))
		}
		return []query.Query{disjunction(alt)}
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

// part returns the query of one word or phrase, nil when it has nothing to search for (only
// stop words or punctuation).
func (qb queryBuilder) part(p textPart) query.Query {
	var alt []query.Query
	for _, f := range textFields() {
		switch terms := analyze(qb.analyzers[fieldAnalyzer(f)], p.s); {
		case len(terms) == 1:
			alt = append(alt, term(f, terms[0]))
		case len(terms) > 1:
			// "Müller-Lüdenscheidt" or a phrase: the words in this order, in one field.
			alt = append(alt, phrase(f, p.s))
		}
	}
	if !p.phrase && len(alt) > 0 {
		// A word also matches the words of the sender's address and name (unless it is
		// only stop words, which must not turn into a filter on the sender).
		if senderTerms := analyze(qb.analyzers[senderAnalyzer], p.s); len(senderTerms) > 0 {
			ts := make([]query.Query, 0, len(senderTerms))
			for _, t := range senderTerms {
				ts = append(ts, term(fSender, t))
			}
			alt = append(alt, conjunction(ts))
		}
	}
	if !p.phrase {
		if addr, ok := address(p.s); ok {
			alt = append(alt, term(fFrom, addr))
		}
		if canon, ok := reference(p.s); ok {
			alt = append(alt, qb.referenceQuery(canon))
		}
	}
	if len(alt) == 0 {
		return nil
	}
	return disjunction(alt)
}

// referenceQuery finds the messages of the case canon and the messages whose subject or
// body mention it.
func (qb queryBuilder) referenceQuery(canon string) query.Query {
	return disjunction([]query.Query{
		term(fReference, canon),
		phrase(fSubject, canon),
		phrase(fBody, canon),
	})
}

// senderQuery is the filter of Query.Sender s (trimmed, not empty).
func (qb queryBuilder) senderQuery(s string) (query.Query, error) {
	if addr, ok := address(s); ok {
		return term(fFrom, addr), nil
	}
	terms := analyze(qb.analyzers[senderAnalyzer], s)
	if len(terms) == 0 {
		return nil, fmt.Errorf("search: sender %q has no letters or digits: %w", s, ErrBadQuery)
	}
	ts := make([]query.Query, 0, len(terms))
	for _, t := range terms {
		ts = append(ts, term(fSender, t))
	}
	return conjunction(ts), nil
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

func term(field, t string) query.Query {
	q := bleve.NewTermQuery(t)
	q.SetField(field)
	return q
}

func phrase(field, s string) query.Query {
	q := bleve.NewMatchPhraseQuery(s)
	q.SetField(field)
	return q
}

func conjunction(qs []query.Query) query.Query {
	if len(qs) == 1 {
		return qs[0]
	}
	return bleve.NewConjunctionQuery(qs...)
}

func disjunction(qs []query.Query) query.Query {
	if len(qs) == 1 {
		return qs[0]
	}
	return bleve.NewDisjunctionQuery(qs...)
}
