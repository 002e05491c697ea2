package web

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/intake-office/intake/ticket"
)

// The JSON API uses the field names of package ticket (DESIGN.md § Contracts).

// apiList is the answer of GET /api/cases.
type apiList struct {
	Total      int           `json:"total"` // all hits (messages with full text, else cases)
	Unit       string        `json:"unit"`  // "messages" or "cases"
	Offset     int           `json:"offset"`
	Limit      int           `json:"limit"`
	More       bool          `json:"more"`
	FullText   bool          `json:"full_text"`
	Cases      []ticket.Case `json:"cases"`                  // distinct cases of this page, in hit order
	NotFound   string        `json:"not_found,omitempty"`    // q was a valid reference without a case
	DidYouMean []string      `json:"did_you_mean,omitempty"` // q had a wrong check digit: references one digit away
	CheckDigit bool          `json:"check_digit_wrong,omitempty"`
}

// apiCheckDigit is the 404 of GET /api/cases/{ref} for a reference with a wrong check
// digit: the references the user may see that are one typing error away.
type apiCheckDigit struct {
	Error      string   `json:"error"`
	CheckDigit bool     `json:"check_digit_wrong"`
	DidYouMean []string `json:"did_you_mean"`
}

// apiCaseView is a case with its casework.
type apiCaseView struct {
	ticket.CaseView               // with what was sent on each acknowledgement and the interim notice
	Assignee        string        `json:"assignee,omitempty"`
	Notes           []ticket.Note `json:"notes,omitempty"`
}

// apiCases answers GET /api/cases?q=&sender=&mailbox=&status=&kind=&since=&until=&offset=&limit=.
func (s *server) apiCases(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	q := r.URL.Query()
	p, err := s.parseFind(q)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.audit(r, u, ticket.AuditSearch, ticket.Reference{}, 0, "api "+auditQuery(q)); err != nil {
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	res, err := s.find(u, p)
	if err != nil {
		s.log.Error("api search", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "search failed")
		return
	}
	out := apiList{Offset: p.Offset, Limit: p.Limit, Cases: []ticket.Case{}, NotFound: res.NotFound, CheckDigit: res.CheckDigit}
	vis := s.linkFilter(u)
	switch {
	case res.Exact != nil:
		out.Total, out.Unit, out.Cases = 1, "cases", []ticket.Case{*vis.caseFor(res.Exact)}
	case res.CheckDigit:
		out.Unit = "cases"
		for _, c := range res.DidYouMean {
			out.DidYouMean = append(out.DidYouMean, c.Reference.String())
		}
	default:
		out.Total, out.Unit, out.More, out.FullText = res.Total, res.Unit, res.More, res.FullText
		seen := map[ticket.Reference]bool{}
		for _, row := range res.Rows {
			if !seen[row.Case.Reference] {
				seen[row.Case.Reference] = true
				out.Cases = append(out.Cases, *vis.caseFor(row.Case))
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// apiVisibleCase loads case {ref} for the API: 404 when unknown or not visible.
func (s *server) apiVisibleCase(w http.ResponseWriter, r *http.Request, u *ticket.User) (*ticket.Case, bool) {
	ref, err := ticket.ParseReference(r.PathValue("ref"))
	if errors.Is(err, ticket.ErrCheckDigit) {
		// 404 with the references one typing error away, as the search page offers them.
		cands, err := s.didYouMean(u, r.PathValue("ref"))
		if err != nil {
			s.log.Error("api did you mean", "err", err)
			writeJSONError(w, http.StatusInternalServerError, "internal error")
			return nil, false
		}
		out := apiCheckDigit{Error: "wrong check digit", CheckDigit: true, DidYouMean: []string{}}
		for _, c := range cands {
			out.DidYouMean = append(out.DidYouMean, c.Reference.String())
		}
		writeJSON(w, http.StatusNotFound, out)
		return nil, false
	}
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "not a valid reference")
		return nil, false
	}
	c, err := s.store.Lookup(ref)
	if errors.Is(err, ticket.ErrNotFound) || (err == nil && !u.CanSee(c.Mailbox)) {
		writeJSONError(w, http.StatusNotFound, "case not found")
		return nil, false
	}
	if err != nil {
		s.log.Error("api lookup", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return nil, false
	}
	return c, true
}

// linkFilter answers which linked cases u may see, remembering each answer for one
// request: the API, like the case page, names no reference of a case in a mailbox u
// may not see (that would reveal that it exists).
type linkFilter struct {
	s    *server
	u    *ticket.User
	seen map[ticket.Reference]bool
}

func (s *server) linkFilter(u *ticket.User) *linkFilter {
	return &linkFilter{s: s, u: u, seen: map[ticket.Reference]bool{}}
}

// visible returns the references of links that u may see.
func (f *linkFilter) visible(links []ticket.Reference) []ticket.Reference {
	var out []ticket.Reference
	for _, l := range links {
		ok, known := f.seen[l]
		if !known {
			lc, err := f.s.store.Lookup(l)
			ok = err == nil && f.u.CanSee(lc.Mailbox)
			f.seen[l] = ok
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// caseFor returns c as u may see it: a copy with the visible links only.
func (f *linkFilter) caseFor(c *ticket.Case) *ticket.Case {
	cp := *c
	cp.Links = f.visible(c.Links)
	return &cp
}

func (s *server) writeCase(w http.ResponseWriter, u *ticket.User, c *ticket.Case) {
	c = s.linkFilter(u).caseFor(c)
	work, err := s.store.CaseworkOf(c.Reference)
	if err != nil {
		s.log.Error("casework", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	sent, err := s.store.SentOf(c.Reference)
	if err != nil {
		s.log.Error("what was sent", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, apiCaseView{CaseView: ticket.NewCaseView(c, sent), Assignee: work.Assignee, Notes: work.Notes})
}

// apiCase answers GET /api/cases/{ref}.
func (s *server) apiCase(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	c, ok := s.apiVisibleCase(w, r, u)
	if !ok {
		return
	}
	if err := s.audit(r, u, ticket.AuditView, c.Reference, 0, "api"); err != nil {
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	s.writeCase(w, u, c)
}

// apiStatus answers POST /api/cases/{ref}/status with {"status": "in_progress"}: the
// case as it is afterwards, 409 for a change the workflow does not allow.
func (s *server) apiStatus(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	c, ok := s.apiVisibleCase(w, r, u)
	if !ok {
		return
	}
	var body struct {
		Status ticket.CaseStatus `json:"status"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeJSONError(w, http.StatusBadRequest, "body must be {\"status\": \"new|in_progress|closed\"}")
		return
	}
	switch body.Status {
	case ticket.StatusNew, ticket.StatusInProgress, ticket.StatusClosed:
	default:
		writeJSONError(w, http.StatusBadRequest, "status must be new, in_progress or closed")
		return
	}
	if err := s.setStatus(r, u, c, body.Status); errors.Is(err, ticket.ErrBadTransition) {
		writeJSONError(w, http.StatusConflict, "status change "+string(c.Status)+" -> "+string(body.Status)+" not allowed")
		return
	} else if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	c, err := s.store.Lookup(c.Reference)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	s.writeCase(w, u, c)
}
