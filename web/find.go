package web

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/ticket"
)

// findParams is one search, as the search page and GET /api/cases take it.
type findParams struct {
	Q       string // reference, or sender / name / words
	Sender  string
	Mailbox string
	Status  ticket.CaseStatus
	Kind    ticket.Kind
	Since   time.Time // received >= Since
	Until   time.Time // received < Until
	Offset  int
	Limit   int
	ByScore bool
}

// findResult is its answer.
type findResult struct {
	Exact      *ticket.Case  // Q is the reference of a case the user may see
	NotFound   string        // Q is a valid reference without a (visible) case
	CheckDigit bool          // Q is a reference with a wrong check digit
	DidYouMean []ticket.Case // then: the visible cases one digit away
	Rows       []row         // one per hit, newest first (or by relevance)
	Total      int           // all hits, not only this page
	Unit       string        // "messages" (full text) or "cases" (register)
	FullText   bool          // the search index answered
	Truncated  bool          // register fallback: only the newest cases were scanned
	AtLeast    bool          // register fallback: Total is a lower bound (the walk stopped)
	More       bool          // there is a next page
	IndexLag   uint64        // full text: registered messages the search index does not hold yet
}

// indexLag is how many registered messages the search index does not hold
// yet (0 when it cannot tell): the indexer catches up after a drain.
func (s *server) indexLag() uint64 {
	ls, ok := s.search.(interface{ LastSeq() uint64 })
	if !ok {
		return 0
	}
	last, err := s.store.LastSeq()
	if err != nil {
		return 0
	}
	if indexed := ls.LastSeq(); last > indexed {
		return last - indexed
	}
	return 0
}

// row is one search hit: a message and its case.
type row struct {
	Case *ticket.Case
	Msg  *ticket.Message
}

// errBadParam is a malformed query parameter; errBadDate, which wraps it, a
// malformed date (the search page names that case).
var (
	errBadParam = errors.New("bad parameter")
	errBadDate  = fmt.Errorf("bad date: %w", errBadParam)
)

// parseFind reads findParams from query parameters; dates are YYYY-MM-DD in the office
// time zone (Until inclusive: the whole day) or RFC 3339.
func (s *server) parseFind(q url.Values) (findParams, error) {
	p := findParams{
		Q:       strings.TrimSpace(q.Get("q")),
		Sender:  strings.TrimSpace(q.Get("sender")),
		Mailbox: strings.TrimSpace(q.Get("mailbox")),
		Status:  ticket.CaseStatus(q.Get("status")),
		Kind:    ticket.Kind(q.Get("kind")),
		Limit:   pageSizeDefault,
		ByScore: q.Get("sort") == "relevance",
	}
	switch p.Status {
	case "", ticket.StatusNew, ticket.StatusInProgress, ticket.StatusClosed:
	default:
		return p, fmt.Errorf("status %q: %w", p.Status, errBadParam)
	}
	switch p.Kind {
	case "", ticket.KindCitizen, ticket.KindAutomated, ticket.KindMalformed:
	default:
		return p, fmt.Errorf("kind %q: %w", p.Kind, errBadParam)
	}
	var err error
	if p.Since, err = s.parseDate(q.Get("since"), false); err != nil {
		return p, err
	}
	if p.Until, err = s.parseDate(q.Get("until"), true); err != nil {
		return p, err
	}
	for _, f := range []struct {
		name string
		dst  *int
		max  int
	}{{"offset", &p.Offset, search.MaxOffset}, {"limit", &p.Limit, pageSizeMax}} {
		if v := q.Get(f.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > f.max {
				return p, fmt.Errorf("%s %q (0-%d): %w", f.name, v, f.max, errBadParam)
			}
			*f.dst = n
		}
	}
	if p.Limit == 0 {
		p.Limit = pageSizeDefault
	}
	return p, nil
}

// parseDate reads YYYY-MM-DD (office time zone; endOfDay gives the next midnight) or
// RFC 3339; "" is the zero time.
func (s *server) parseDate(v string, endOfDay bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, s.loc); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("date %q (want YYYY-MM-DD): %w", v, errBadDate)
}

// find runs p for user u.
func (s *server) find(u *ticket.User, p findParams) (*findResult, error) {
	res := &findResult{}
	if p.Q != "" {
		ref, err := ticket.ParseReference(p.Q)
		switch {
		case err == nil:
			c, err := s.store.Lookup(ref)
			if err == nil && u.CanSee(c.Mailbox) {
				res.Exact = c
				return res, nil
			}
			if err != nil && !errors.Is(err, ticket.ErrNotFound) {
				return nil, err
			}
			// Not (visibly) there: say so, and search the text for mentions of it.
			res.NotFound = ref.String()
		case errors.Is(err, ticket.ErrCheckDigit) && ticket.HasOwnPrefix(p.Q, s.prefixes()):
			// Only a reference of one of our prefixes is a mistyped reference:
			// a phrase like "meine 1539,97" has the shape too and is searched.
			res.CheckDigit = true
			res.DidYouMean, err = s.didYouMean(u, p.Q)
			return res, err
		}
	}
	if s.search != nil {
		return res, s.findFullText(u, p, res)
	}
	return res, s.findRegister(u, p, res)
}

// visibleMailboxes returns the mailbox filter for u and the requested mailbox: nil = all
// (an admin without a mailbox filter), an empty slice = none.
func visibleMailboxes(u *ticket.User, mailbox string) []string {
	if mailbox != "" {
		if u.CanSee(mailbox) {
			return []string{mailbox}
		}
		return []string{}
	}
	return u.Visible()
}

// findFullText asks the search index and loads each hit's message and case.
func (s *server) findFullText(u *ticket.User, p findParams, res *findResult) error {
	q := search.Query{
		Text: p.Q, Sender: p.Sender, Mailboxes: visibleMailboxes(u, p.Mailbox),
		Kind: string(p.Kind), Status: string(p.Status), Since: p.Since, Until: p.Until,
		Offset: p.Offset, Limit: p.Limit, SortByScore: p.ByScore,
	}
	sr, err := s.search.Search(q)
	if err != nil {
		return fmt.Errorf("full-text search: %w", err)
	}
	res.FullText, res.Unit = true, "messages"
	res.IndexLag = s.indexLag()
	res.Total, res.AtLeast = int(sr.Total), sr.TotalAtLeast
	res.More = uint64(p.Offset+len(sr.Hits)) < sr.Total && p.Offset+p.Limit <= search.MaxOffset
	cases := map[string]*ticket.Case{}
	for _, h := range sr.Hits {
		msg, ref, err := s.store.MessageBySeq(h.Seq)
		if errors.Is(err, ticket.ErrNotFound) {
			continue // the index is ahead of or behind the register; skip
		}
		if err != nil {
			return err
		}
		c, ok := cases[ref.String()]
		if !ok {
			if c, err = s.store.Lookup(ref); err != nil {
				if errors.Is(err, ticket.ErrNotFound) {
					continue
				}
				return err
			}
			cases[ref.String()] = c
		}
		// The index filters by mailbox already; check again, the register is the truth.
		if !u.CanSee(c.Mailbox) {
			continue
		}
		res.Rows = append(res.Rows, row{Case: c, Msg: msg})
	}
	return nil
}

// registerScanLimit bounds the cases the register fallback reads for a word search.
const registerScanLimit = 5000

// findRegister answers without a search index: the register's filters (List), the
// mailbox grants, and words matched in subject, sender and attachment names.
func (s *server) findRegister(u *ticket.User, p findParams, res *findResult) error {
	res.Unit = "cases"
	boxes := visibleMailboxes(u, p.Mailbox)
	if boxes != nil && len(boxes) == 0 {
		return nil
	}
	f := ticket.Filter{Status: p.Status, Kind: p.Kind, Since: p.Since, Until: p.Until}
	if len(boxes) == 1 {
		f.Mailbox = boxes[0]
	}
	sender := strings.ToLower(p.Sender)
	if strings.Contains(sender, "@") && !strings.ContainsAny(sender, " \t") {
		f.Sender, sender = sender, ""
	}
	words := strings.Fields(strings.ToLower(p.Q))
	if res.NotFound != "" {
		words = []string{strings.ToLower(res.NotFound)}
	}
	filtered := len(boxes) > 1 || sender != "" || len(words) > 0
	f.Limit = p.Offset + p.Limit + 1
	if filtered {
		f.Limit = registerScanLimit
	}
	list, err := s.store.List(f)
	if err != nil {
		return err
	}
	var hits []ticket.Case
	for _, c := range list {
		if (boxes == nil || slices.Contains(boxes, c.Mailbox)) && caseHasWords(&c, sender, words) {
			hits = append(hits, c)
		}
	}
	res.Truncated = filtered && len(list) == registerScanLimit
	res.Total = len(hits)
	res.More = len(hits) > p.Offset+p.Limit
	for i := p.Offset; i < len(hits) && i < p.Offset+p.Limit; i++ {
		c := &hits[i]
		res.Rows = append(res.Rows, row{Case: c, Msg: &c.Messages[0]})
	}
	if !filtered && res.More {
		res.Total, res.AtLeast = p.Offset+p.Limit, true // List stopped after one more
	}
	return nil
}

// caseHasWords reports whether every word occurs in a subject, sender address or name, or
// attachment name of c, and sender in an address or name.
func caseHasWords(c *ticket.Case, sender string, words []string) bool {
	if sender == "" && len(words) == 0 {
		return true
	}
	var senders, all strings.Builder
	for _, m := range c.Messages {
		fmt.Fprintf(&senders, "%s %s\n", m.From, m.FromName)
		fmt.Fprintf(&all, "%s %s %s %s\n", m.Subject, m.From, m.FromName, strings.Join(m.Attachments, " "))
	}
	fmt.Fprintf(&all, "%s\n", c.Reference)
	if sender != "" && !strings.Contains(strings.ToLower(senders.String()), sender) {
		return false
	}
	text := strings.ToLower(all.String())
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// didYouMean returns the cases u may see whose reference is one typing error away from
// the mistyped input (ticket.Store.DidYouMean; the CLI and the API give the same).
func (s *server) didYouMean(u *ticket.User, input string) ([]ticket.Case, error) {
	return s.store.DidYouMean(input, s.prefixes(), u.CanSee)
}

// prefixes returns the configured reference prefixes.
func (s *server) prefixes() []string {
	var p []string
	for _, m := range s.config().Mailboxes {
		p = append(p, m.Prefix)
	}
	return p
}

// referenceCandidates is ticket.ReferenceCandidates.
func referenceCandidates(input string, prefixes []string) []ticket.Reference {
	return ticket.ReferenceCandidates(input, prefixes)
}
