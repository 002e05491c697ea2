package web

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/ticket"
)

type searchData struct {
	Q, Sender, Since, Until, Status, Mailbox, Kind, Sort string
	Statuses                                             []ticket.CaseStatus
	Kinds                                                []ticket.Kind
	Mailboxes                                            []config.Mailbox // the ones the user may see
	Problem                                              string           // message key
	Res                                                  *resultView
	Work                                                 *worklistData // the worklist, when nothing is searched
}

type resultView struct {
	*findResult
	PrevURL, NextURL string
	Page             int
}

// searchPage is the start page: the search form and, without any input, the worklist
// (worklist.go).
func (s *server) searchPage(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	q := r.URL.Query()
	d := searchData{
		Q: q.Get("q"), Sender: q.Get("sender"), Since: q.Get("since"), Until: q.Get("until"),
		Status: q.Get("status"), Mailbox: q.Get("mailbox"), Kind: q.Get("kind"), Sort: q.Get("sort"),
		Statuses: []ticket.CaseStatus{ticket.StatusNew, ticket.StatusInProgress, ticket.StatusClosed},
		Kinds:    []ticket.Kind{ticket.KindCitizen, ticket.KindAutomated, ticket.KindMalformed},
	}
	for _, m := range s.config().Mailboxes {
		if u.CanSee(m.Name) {
			d.Mailboxes = append(d.Mailboxes, m)
		}
	}
	p, err := s.parseFind(q)
	if err != nil {
		d.Problem = "err.search"
		if errors.Is(err, errBadDate) {
			d.Problem = "err.date"
		}
		s.render(w, r, u, http.StatusBadRequest, "search", "search.title", d)
		return
	}
	if searched(q) {
		if err := s.audit(r, u, ticket.AuditSearch, ticket.Reference{}, 0, auditQuery(q)); err != nil {
			s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
			return
		}
	} else {
		if d.Work, err = s.worklist(q, u); err != nil {
			s.log.Error("worklist", "err", err)
			s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
			return
		}
		s.render(w, r, u, http.StatusOK, "search", "work.title", d)
		return
	}
	res, err := s.find(u, p)
	if err != nil {
		s.log.Error("search", "err", err)
		d.Problem = "err.search"
		s.render(w, r, u, http.StatusInternalServerError, "search", "search.title", d)
		return
	}
	if res.Exact != nil {
		http.Redirect(w, r, "/cases/"+res.Exact.Reference.String(), http.StatusSeeOther)
		return
	}
	rv := &resultView{findResult: res, Page: p.Offset/p.Limit + 1}
	page := func(offset int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "offset" && k != "lang" && k != "done" && len(vs) > 0 && vs[0] != "" {
				v.Set(k, vs[0])
			}
		}
		if offset > 0 {
			v.Set("offset", strconv.Itoa(offset))
		}
		return "/?" + v.Encode()
	}
	if p.Offset > 0 {
		rv.PrevURL = page(max(0, p.Offset-p.Limit))
	}
	if res.More {
		rv.NextURL = page(p.Offset + p.Limit)
	}
	d.Res = rv
	s.render(w, r, u, http.StatusOK, "search", "search.title", d)
}

// searched reports whether the query asks for anything (not the bare start page).
func searched(q url.Values) bool {
	for _, k := range []string{"q", "sender", "since", "until", "status", "mailbox", "kind"} {
		if strings.TrimSpace(q.Get(k)) != "" {
			return true
		}
	}
	return false
}

// auditQuery is the search as the audit log records it.
func auditQuery(q url.Values) string {
	v := url.Values{}
	for _, k := range []string{"q", "sender", "since", "until", "status", "mailbox", "kind", "offset"} {
		if s := q.Get(k); s != "" {
			v.Set(k, s)
		}
	}
	s, _ := url.QueryUnescape(v.Encode())
	return s
}

// visibleCase loads the case named in the path, or answers 404 when it does not exist or
// the user may not see it (the same answer, so that existence does not leak).
func (s *server) visibleCase(w http.ResponseWriter, r *http.Request, u *ticket.User) (*ticket.Case, bool) {
	ref, err := ticket.ParseReference(r.PathValue("ref"))
	if err != nil {
		s.notFound(w, r, u)
		return nil, false
	}
	c, err := s.store.Lookup(ref)
	if errors.Is(err, ticket.ErrNotFound) || (err == nil && !u.CanSee(c.Mailbox)) {
		s.notFound(w, r, u)
		return nil, false
	}
	if err != nil {
		s.log.Error("lookup case", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return nil, false
	}
	return c, true
}

type statusAction struct {
	To  ticket.CaseStatus
	Key string
}

// statusActions are the status changes the workflow offers from status (ticket.SetStatus).
func statusActions(status ticket.CaseStatus) []statusAction {
	switch status {
	case ticket.StatusNew:
		return []statusAction{{ticket.StatusInProgress, "case.start"}}
	case ticket.StatusInProgress:
		return []statusAction{{ticket.StatusClosed, "case.close"}}
	case ticket.StatusClosed:
		return []statusAction{{ticket.StatusInProgress, "case.reopen"}}
	}
	return nil
}

type caseData struct {
	Case      *ticket.Case
	Work      *ticket.Casework
	Messages  []msgView
	Links     []ticket.Reference
	Actions   []statusAction
	Assignees []string
	Error     string
	Sent      *sentView // issue 11: what was sent, the interim notice
	// SenderCheck: whether a trusted authentication result proved the case's sender
	// address, and how; the page says "nicht geprüft" when none did.
	SenderCheck senderCheck
}

type msgView struct {
	Msg         *ticket.Message
	N           int
	Text        string
	NoTextKey   string
	HasHTML     bool
	ShowHTML    bool
	HTML        template.HTML
	Attachments []attachment
	Check       senderCheck // whether a trusted result proved Msg.From
}

// casePage shows a case (GET /cases/{ref}); ?html=SEQ shows message SEQ's HTML body,
// sanitised.
func (s *server) casePage(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	c, ok := s.visibleCase(w, r, u)
	if !ok {
		return
	}
	if err := s.audit(r, u, ticket.AuditView, c.Reference, 0, ""); err != nil {
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	work, err := s.store.CaseworkOf(c.Reference)
	if err != nil {
		s.log.Error("casework", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	htmlSeq, _ := strconv.ParseUint(r.URL.Query().Get("html"), 10, 64)
	d := caseData{Case: c, Work: work, Actions: statusActions(c.Status)}
	if k := "err." + r.URL.Query().Get("err"); s.msgs.has(k) {
		d.Error = k
	}
	for i := range c.Messages {
		d.Messages = append(d.Messages, s.messageView(&c.Messages[i], i+1, htmlSeq))
	}
	d.SenderCheck = senderCheckOf(c)
	d.Links = s.linkFilter(u).visible(c.Links)
	d.Sent = s.sentView(c)
	users, err := s.store.Users()
	if err != nil {
		s.log.Error("list users", "err", err)
	}
	for _, au := range users {
		if au.CanSee(c.Mailbox) {
			d.Assignees = append(d.Assignees, au.Name)
		}
	}
	s.render(w, r, u, http.StatusOK, "case", "case.title", d)
}

// messageView reads what the register does not keep from the raw mail: the text body
// (mailparse, as the register saw it), the attachments and, for message htmlSeq, the
// sanitised HTML body.
func (s *server) messageView(m *ticket.Message, n int, htmlSeq uint64) msgView {
	mv := msgView{Msg: m, N: n, NoTextKey: "case.notext",
		Check: senderCheck{Verified: m.VerifiedSender != "", By: m.VerifiedBy}}
	if m.RawSHA256 == "" {
		mv.NoTextKey = "case.noraw"
		return mv
	}
	f, err := s.store.OpenRaw(m.RawSHA256)
	if err != nil {
		s.log.Warn("open raw mail", "seq", m.Seq, "err", err)
		mv.NoTextKey = "case.noraw"
		return mv
	}
	defer f.Close()
	pm, err := mailparse.Parse(f, mailparse.Limits{})
	if err != nil {
		mv.NoTextKey = "case.unreadable"
		return mv
	}
	mv.Text = pm.Text
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return mv
	}
	mv.ShowHTML = htmlSeq == m.Seq
	mp, err := readParts(f, mv.ShowHTML)
	if err != nil {
		s.log.Debug("walk raw mail", "seq", m.Seq, "err", err)
	}
	mv.Attachments, mv.HasHTML = mp.Attachments, mp.HasHTML
	mv.ShowHTML = mv.ShowHTML && mp.HasHTML
	if mv.ShowHTML {
		mv.HTML = template.HTML(sanitizeHTML(s.html, mp.HTML)) // sanitised and balanced
	}
	return mv
}

// form parses a bounded form body.
func form(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.ParseForm()
}

// caseForm reads the bounded form of a POST to a case the user may see (else it has
// answered) and returns the case and its page, where the handler redirects back to.
func (s *server) caseForm(w http.ResponseWriter, r *http.Request, u *ticket.User) (*ticket.Case, string, bool) {
	if err := form(w, r); err != nil {
		s.errorPage(w, r, u, http.StatusBadRequest, "err.badrequest")
		return nil, "", false
	}
	c, ok := s.visibleCase(w, r, u)
	if !ok {
		return nil, "", false
	}
	return c, "/cases/" + c.Reference.String(), true
}

// caseStatus changes the status (POST /cases/{ref}/status).
func (s *server) caseStatus(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	c, back, ok := s.caseForm(w, r, u)
	if !ok {
		return
	}
	to := ticket.CaseStatus(r.PostForm.Get("status"))
	if err := s.setStatus(r, u, c, to); errors.Is(err, ticket.ErrBadTransition) {
		http.Redirect(w, r, back+"?err=transition", http.StatusSeeOther)
		return
	} else if err != nil {
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	http.Redirect(w, r, back+"?done=status", http.StatusSeeOther)
}

// setStatus changes the status of c, writes the audit entry and tells the search index.
func (s *server) setStatus(r *http.Request, u *ticket.User, c *ticket.Case, to ticket.CaseStatus) error {
	if err := s.store.SetStatus(c.Reference, to, s.now()); err != nil {
		if !errors.Is(err, ticket.ErrBadTransition) {
			s.log.Error("set status", "case", c.Reference.String(), "err", err)
		}
		return err
	}
	if err := s.audit(r, u, ticket.AuditStatus, c.Reference, 0, fmt.Sprintf("%s -> %s", c.Status, to)); err != nil {
		return err
	}
	s.log.Info("status changed", "case", c.Reference.String(), "user", u.Name, "from", c.Status, "to", to)
	if s.search != nil {
		// Derived data: a failure is logged; "intake reindex" repairs it.
		for _, m := range c.Messages {
			if err := s.search.Update(m.Seq, string(to)); err != nil {
				s.log.Warn("update search index", "seq", m.Seq, "err", err)
			}
		}
	}
	return nil
}

// caseNote adds an internal note (POST /cases/{ref}/note).
func (s *server) caseNote(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	c, back, ok := s.caseForm(w, r, u)
	if !ok {
		return
	}
	text := r.PostForm.Get("note")
	if len(text) > ticket.MaxNoteLen || strings.TrimSpace(text) == "" {
		http.Redirect(w, r, back+"?err=note", http.StatusSeeOther)
		return
	}
	if _, err := s.store.AddNote(c.Reference, text, s.actor(r, u)); err != nil {
		if errors.Is(err, ticket.ErrEmptyNote) {
			http.Redirect(w, r, back+"?err=note", http.StatusSeeOther)
			return
		}
		s.log.Error("add note", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	http.Redirect(w, r, back+"?done=note#notes-h", http.StatusSeeOther)
}

// caseAssign assigns the case (POST /cases/{ref}/assign) to a user who may see it, or
// to nobody.
func (s *server) caseAssign(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	c, back, ok := s.caseForm(w, r, u)
	if !ok {
		return
	}
	name := ticket.NormalizeUserName(r.PostForm.Get("assignee"))
	if name != "" {
		au, err := s.store.User(name)
		if err != nil || !au.CanSee(c.Mailbox) {
			http.Redirect(w, r, back+"?err=assignee", http.StatusSeeOther)
			return
		}
	}
	if err := s.store.Assign(c.Reference, name, s.actor(r, u)); err != nil {
		if errors.Is(err, ticket.ErrNotFound) || errors.Is(err, ticket.ErrDisabled) {
			http.Redirect(w, r, back+"?err=assignee", http.StatusSeeOther)
			return
		}
		s.log.Error("assign", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	http.Redirect(w, r, back+"?done=assign", http.StatusSeeOther)
}

// caseMessage finds message {seq} of the visible case {ref}.
func (s *server) caseMessage(w http.ResponseWriter, r *http.Request, u *ticket.User) (*ticket.Case, *ticket.Message, bool) {
	c, ok := s.visibleCase(w, r, u)
	if !ok {
		return nil, nil, false
	}
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err == nil {
		for i := range c.Messages {
			if m := &c.Messages[i]; m.Seq == seq && m.RawSHA256 != "" {
				return c, m, true
			}
		}
	}
	s.notFound(w, r, u)
	return nil, nil, false
}

// downloadHeaders makes a response a download that no browser renders: an opaque type,
// no sniffing (X-Content-Type-Options is set for every response), attachment
// disposition with a safe file name (RFC 6266 §4).
func downloadHeaders(w http.ResponseWriter, name string) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", contentDisposition(name))
	h.Set("X-Content-Type-Options", "nosniff")
	// A sandbox in case a browser renders it anyway (CSP Level 3 sandbox directive).
	h.Set("Content-Security-Policy", contentSecurityPolicy+"; sandbox")
}

// contentDisposition returns "attachment" with an ASCII fallback filename and the UTF-8
// name in filename* (RFC 6266 §4.3, RFC 8187 §3.2.1).
func contentDisposition(name string) string {
	name = mailparse.SanitizeFilename(name)
	name = strings.TrimLeft(name, ".")
	if name == "" {
		name = "download"
	}
	var ascii, ext strings.Builder
	for _, r := range name {
		if r < 0x20 || r > 0x7e || strings.ContainsRune(`"\%;`, r) {
			ascii.WriteByte('_')
		} else {
			ascii.WriteRune(r)
		}
	}
	const attrChars = "!#$&+-.^_`|~"
	for _, b := range []byte(name) {
		if 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(attrChars, b) >= 0 {
			ext.WriteByte(b)
		} else {
			fmt.Fprintf(&ext, "%%%02X", b)
		}
	}
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii.String(), ext.String())
}

// downloadRaw serves the raw mail (GET /cases/{ref}/messages/{seq}/raw).
func (s *server) downloadRaw(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	c, m, ok := s.caseMessage(w, r, u)
	if !ok {
		return
	}
	f, err := s.store.OpenRaw(m.RawSHA256)
	if err != nil {
		s.log.Warn("open raw mail", "seq", m.Seq, "err", err)
		s.notFound(w, r, u)
		return
	}
	defer f.Close()
	if err := s.audit(r, u, ticket.AuditDownloadRaw, c.Reference, m.Seq, ""); err != nil {
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	downloadHeaders(w, fmt.Sprintf("%s_%d.eml", c.Reference, m.Seq))
	if fi, err := f.Stat(); err == nil {
		w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	}
	if _, err := io.Copy(w, f); err != nil {
		s.log.Debug("send raw mail", "err", err)
	}
}

// downloadAttachment serves attachment {n} of a message, decoded from its transfer
// encoding (GET /cases/{ref}/messages/{seq}/attachments/{n}).
func (s *server) downloadAttachment(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	c, m, ok := s.caseMessage(w, r, u)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		s.notFound(w, r, u)
		return
	}
	f, err := s.store.OpenRaw(m.RawSHA256)
	if err != nil {
		s.notFound(w, r, u)
		return
	}
	defer f.Close()
	found, err := openAttachment(f, n, func(l mailparse.Leaf, body io.Reader) error {
		if err := s.audit(r, u, ticket.AuditDownloadAttachment, c.Reference, m.Seq, fmt.Sprintf("%d: %s", n, l.Filename)); err != nil {
			return err
		}
		downloadHeaders(w, l.Filename)
		_, err := io.Copy(w, body)
		return err
	})
	switch {
	case !found:
		if err != nil {
			s.log.Debug("walk raw mail", "seq", m.Seq, "err", err)
		}
		s.notFound(w, r, u)
	case err != nil && w.Header().Get("Content-Disposition") == "":
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
	case err != nil:
		s.log.Debug("send attachment", "err", err)
	}
}

type auditData struct {
	Actor, CaseQ, Action string
	Actions              []string
	Entries              []ticket.AuditEntry
	Error                string
	PrevURL, NextURL     string
}

const auditPageSize = 100

// auditPage shows the audit log to admins (GET /admin/audit).
func (s *server) auditPage(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	if !u.IsAdmin() {
		s.errorPage(w, r, u, http.StatusForbidden, "err.forbidden")
		return
	}
	q := r.URL.Query()
	d := auditData{Actor: q.Get("actor"), CaseQ: q.Get("case"), Action: q.Get("action"),
		Actions: ticket.AuditActions()}
	f := ticket.AuditFilter{Actor: ticket.NormalizeUserName(d.Actor), Action: d.Action, Limit: auditPageSize}
	if d.Actor != "" && f.Actor != d.Actor {
		f.Actor = d.Actor // e.g. "cli:root" is stored as written
	}
	if d.CaseQ != "" {
		ref, err := ticket.ParseReference(d.CaseQ)
		if err != nil {
			d.Error = "err.reference"
			s.render(w, r, u, http.StatusBadRequest, "audit", "audit.title", d)
			return
		}
		f.Case = ref
	}
	f.Offset, _ = strconv.Atoi(q.Get("offset"))
	f.Offset = max(0, f.Offset)
	entries, more, err := s.store.AuditLog(f)
	if err != nil {
		s.log.Error("audit log", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	d.Entries = entries
	page := func(offset int) string {
		v := url.Values{}
		for _, k := range []string{"actor", "case", "action"} {
			if s := q.Get(k); s != "" {
				v.Set(k, s)
			}
		}
		if offset > 0 {
			v.Set("offset", strconv.Itoa(offset))
		}
		return "/admin/audit?" + v.Encode()
	}
	if f.Offset > 0 {
		d.PrevURL = page(max(0, f.Offset-auditPageSize))
	}
	if more {
		d.NextURL = page(f.Offset + auditPageSize)
	}
	s.render(w, r, u, http.StatusOK, "audit", "audit.title", d)
}

// senderCheck is the marker beside the case's sender address.
type senderCheck struct {
	Verified bool
	By       string // e.g. "dkim"; may be empty
}

// senderCheckOf reports whether a trusted authentication result proved c.Sender: the
// first message whose VerifiedSender is c.Sender. A From header alone proves nothing.
func senderCheckOf(c *ticket.Case) senderCheck {
	if c.Sender == "" {
		return senderCheck{}
	}
	for i := range c.Messages {
		if m := &c.Messages[i]; m.VerifiedSender != "" && strings.EqualFold(m.VerifiedSender, c.Sender) {
			return senderCheck{Verified: true, By: m.VerifiedBy}
		}
	}
	return senderCheck{}
}
