package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/intake-office/intake/ticket"
)

// The worklist is the start page: one row per case, in tabs that say what waits for
// whom. Its counts come from the register's counters (ticket.Store.CountWork), so they
// cost the same for a thousand cases as for a million.

// Worklist tabs (?tab=).
const (
	tabNew        = "new"
	tabMine       = "mine"
	tabInProgress = "progress"
	tabOverdue    = "overdue"
	tabAutomated  = "auto"
	tabAll        = "all"
)

var tabOrder = []string{tabNew, tabMine, tabInProgress, tabOverdue, tabAutomated, tabAll}

// maxBulk bounds the cases one bulk action changes (a page holds at most pageSizeMax).
const maxBulk = pageSizeMax

type tabView struct {
	Key     string
	Count   int
	URL     string
	Current bool
}

type workRow struct {
	Case        *ticket.Case
	Assignee    string
	Ack         ticket.Ack // of the case's first message
	Attachments int        // of all its messages
}

type worklistData struct {
	Tab              string
	Tabs             []tabView
	Rows             []workRow
	Oldest           bool
	SortURL          string // the same tab in the other order
	PrevURL, NextURL string
	Page             int
	Assignees        []string // users a bulk action may assign to
	Error            string
}

// overdueCutoffs returns, per configured mailbox, the time before which an open case is
// overdue (now minus the mailbox's handling time).
func (s *server) overdueCutoffs() map[string]time.Time {
	now := s.now()
	out := map[string]time.Time{}
	for _, m := range s.cfg.Mailboxes {
		if m.HandlingTime.Duration > 0 {
			out[m.Name] = now.Add(-m.HandlingTime.Duration)
		}
	}
	return out
}

// tabFilter returns the register filter of tab for user u.
func (s *server) tabFilter(tab string, u *ticket.User) ticket.WorkFilter {
	citizen := []ticket.Kind{ticket.KindCitizen, ticket.KindMalformed}
	open := []ticket.CaseStatus{ticket.StatusNew, ticket.StatusInProgress}
	f := ticket.WorkFilter{Mailboxes: u.Visible()}
	switch tab {
	case tabNew:
		nobody := ""
		f.Kinds, f.Statuses, f.Assignee = citizen, []ticket.CaseStatus{ticket.StatusNew}, &nobody
	case tabMine:
		name := u.Name
		f.Statuses, f.Assignee = open, &name
	case tabInProgress:
		f.Kinds, f.Statuses = citizen, []ticket.CaseStatus{ticket.StatusInProgress}
	case tabOverdue:
		f.Kinds, f.Statuses, f.OverdueAt = citizen, open, s.overdueCutoffs()
	case tabAutomated:
		f.Kinds, f.Statuses = []ticket.Kind{ticket.KindAutomated}, open
	}
	return f
}

func tabCount(c ticket.WorkCounts, tab string) int {
	switch tab {
	case tabNew:
		return c.NewUnassigned
	case tabMine:
		return c.Mine
	case tabInProgress:
		return c.InProgress
	case tabOverdue:
		return c.Overdue
	case tabAutomated:
		return c.Automated
	}
	return c.All
}

// worklist fills the worklist of the start page from the query (tab, order, offset).
func (s *server) worklist(q url.Values, u *ticket.User) (*worklistData, error) {
	d := &worklistData{Tab: q.Get("tab"), Oldest: q.Get("order") == "oldest"}
	valid := false
	for _, t := range tabOrder {
		valid = valid || t == d.Tab
	}
	if !valid {
		d.Tab = tabNew
	}
	if k := "err." + q.Get("err"); k == "err.bulk" || k == "err.bulkassignee" {
		d.Error = k
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	offset = min(max(0, offset), 1_000_000)
	counts, err := s.store.CountWork(u.Visible(), u.Name, s.overdueCutoffs())
	if err != nil {
		return nil, err
	}
	link := func(tab string, oldest bool, offset int) string {
		v := url.Values{}
		v.Set("tab", tab)
		if oldest {
			v.Set("order", "oldest")
		}
		if offset > 0 {
			v.Set("offset", strconv.Itoa(offset))
		}
		return "/?" + v.Encode()
	}
	for _, t := range tabOrder {
		d.Tabs = append(d.Tabs, tabView{Key: t, Count: tabCount(counts, t), URL: link(t, false, 0), Current: t == d.Tab})
	}
	f := s.tabFilter(d.Tab, u)
	f.Oldest, f.Offset, f.Limit = d.Oldest, offset, pageSizeDefault
	items, more, err := s.store.Worklist(f)
	if err != nil {
		return nil, err
	}
	for i := range items {
		it := &items[i]
		r := workRow{Case: &it.Case, Assignee: it.Assignee}
		for j, m := range it.Case.Messages {
			if j == 0 {
				r.Ack = m.Ack
			}
			r.Attachments += len(m.Attachments)
		}
		d.Rows = append(d.Rows, r)
	}
	d.Page = offset/pageSizeDefault + 1
	d.SortURL = link(d.Tab, !d.Oldest, 0)
	if offset > 0 {
		d.PrevURL = link(d.Tab, d.Oldest, max(0, offset-pageSizeDefault))
	}
	if more {
		d.NextURL = link(d.Tab, d.Oldest, offset+pageSizeDefault)
	}
	users, err := s.store.Users()
	if err != nil {
		return nil, err
	}
	for _, au := range users {
		if !au.Disabled {
			d.Assignees = append(d.Assignees, au.Name)
		}
	}
	return d, nil
}

// bulk applies one action to the selected cases (POST /cases/bulk): "assign" (to
// assignee, "" = nobody) or "status" (to status; a new case is closed through
// "in progress", two audited changes). Each case is checked and audited exactly as a
// single change; cases the user may not see, cannot be changed or cannot get the
// assignee are skipped, and the page says so.
func (s *server) bulk(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	if err := form(w, r); err != nil {
		s.errorPage(w, r, u, http.StatusBadRequest, "err.badrequest")
		return
	}
	tab := r.PostForm.Get("tab")
	back := func(v url.Values) {
		if tab != "" {
			v.Set("tab", tab)
		}
		http.Redirect(w, r, "/?"+v.Encode(), http.StatusSeeOther)
	}
	refs := r.PostForm["ref"]
	if len(refs) == 0 || len(refs) > maxBulk {
		back(url.Values{"err": {"bulk"}})
		return
	}
	action := r.PostForm.Get("do")
	var (
		assignee string
		target   ticket.CaseStatus
	)
	switch action {
	case "assign":
		assignee = ticket.NormalizeUserName(r.PostForm.Get("assignee"))
		if assignee != "" {
			if au, err := s.store.User(assignee); err != nil || au.Disabled {
				back(url.Values{"err": {"bulkassignee"}})
				return
			}
		}
	case "status":
		target = ticket.CaseStatus(r.PostForm.Get("status"))
		if target != ticket.StatusInProgress && target != ticket.StatusClosed {
			back(url.Values{"err": {"bulk"}})
			return
		}
	default:
		s.errorPage(w, r, u, http.StatusBadRequest, "err.badrequest")
		return
	}
	skipped := 0
	for _, raw := range refs {
		ref, err := ticket.ParseReference(raw)
		if err != nil {
			skipped++
			continue
		}
		c, err := s.store.Lookup(ref)
		if errors.Is(err, ticket.ErrNotFound) || (err == nil && !u.CanSee(c.Mailbox)) {
			skipped++
			continue
		}
		if err != nil {
			s.log.Error("lookup case", "err", err)
			s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
			return
		}
		switch action {
		case "assign":
			if assignee != "" {
				if au, err := s.store.User(assignee); err != nil || !au.CanSee(c.Mailbox) {
					skipped++
					continue
				}
			}
			err = s.store.Assign(c.Reference, assignee, s.actor(r, u))
			if errors.Is(err, ticket.ErrNotFound) || errors.Is(err, ticket.ErrDisabled) {
				skipped++
				continue
			}
		case "status":
			if c.Status == target {
				continue // already there: nothing to do, nothing to report
			}
			if c.Status == ticket.StatusNew && target == ticket.StatusClosed {
				if err = s.setStatus(r, u, c, ticket.StatusInProgress); err == nil {
					c.Status = ticket.StatusInProgress
				}
			}
			if err == nil {
				err = s.setStatus(r, u, c, target)
			}
			if errors.Is(err, ticket.ErrBadTransition) {
				skipped++
				continue
			}
		}
		if err != nil {
			s.log.Error("bulk action", "action", action, "err", err)
			s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
			return
		}
	}
	s.log.Info("bulk action", "action", action, "user", u.Name, "cases", len(refs), "skipped", skipped)
	if skipped > 0 {
		back(url.Values{"err": {"bulk"}})
		return
	}
	back(url.Values{"done": {"bulk"}})
}
