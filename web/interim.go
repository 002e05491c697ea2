package web

import (
	"errors"
	"maps"
	"net/http"

	"github.com/intake-office/intake/ticket"
)

// Issue 11 on the case page: what was sent (the acknowledgements' and the interim notice's
// subject and text, exactly as rendered for sending) and the clerk's decisions on the
// interim notice (suppress, send now), each a POST behind the CrossOriginProtection of
// every POST, audited by the register in the same transaction.

// interimTexts are the interface texts of this file; newCatalog merges them.
func interimTexts() catalog {
	return catalog{
		"case.sent":                {"Gesendeter Text", "Text as sent"},
		"case.sent.subject":        {"Betreff", "Subject"},
		"case.sent.truncated":      {"(gekürzt gespeichert)", "(stored shortened)"},
		"case.sent.none":           {"Der Text wurde nicht gespeichert (vor dieser Version gesendet).", "The text was not stored (sent before this version)."},
		"case.interim":             {"Zwischennachricht", "Interim notice"},
		"case.interim.none":        {"Noch keine. Sie wird gesendet, wenn der Vorgang nach der Bearbeitungsfrist noch offen ist und die Eingangsbestätigung zugestellt wurde.", "None yet. It is sent when the case is still open after the handling time and the acknowledgement was delivered."},
		"case.interim.by":          {"Veranlasst von", "Requested by"},
		"case.interim.suppress":    {"Keine Zwischennachricht senden", "Send no interim notice"},
		"case.interim.sendnow":     {"Zwischennachricht jetzt senden", "Send interim notice now"},
		"done.interim_suppress":    {"Für diesen Vorgang wird keine Zwischennachricht gesendet.", "No interim notice will be sent for this case."},
		"done.interim_send_now":    {"Die Zwischennachricht wird gesendet.", "The interim notice is being sent."},
		"err.interim":              {"Das ist für diesen Vorgang nicht möglich (Bestätigung nicht zugestellt, Vorgang abgeschlossen oder Zwischennachricht schon gesendet).", "Not possible for this case (acknowledgement not delivered, case closed or interim notice already sent)."},
		"audit.a.interim_suppress": {"Zwischennachricht unterdrückt", "interim notice suppressed"},
		"audit.a.interim_send_now": {"Zwischennachricht veranlasst", "interim notice requested"},
	}
}

// withInterimTexts adds interimTexts to c.
func withInterimTexts(c catalog) catalog {
	maps.Copy(c, interimTexts())
	return c
}

// sentView is what the case page shows of what was sent.
type sentView struct {
	Acks        map[uint64]ticket.SentText
	Interim     *ticket.Interim
	InterimText *ticket.SentText
	// CanSend and CanSuppress say which of the clerk's buttons apply; Show whether the
	// interim section is shown at all.
	CanSend, CanSuppress, Show bool
}

func (s *server) sentView(c *ticket.Case) *sentView {
	cs, err := s.store.SentOf(c.Reference)
	if err != nil {
		s.log.Warn("read what was sent", "case", c.Reference.String(), "err", err)
		return nil
	}
	v := &sentView{Acks: cs.Acks, Interim: cs.Interim, InterimText: cs.InterimText}
	firstSent := len(c.Messages) > 0 && c.Messages[0].Ack.Status == ticket.AckSent
	open := c.Kind == ticket.KindCitizen && c.Status != ticket.StatusClosed && c.Purged.IsZero()
	st := ticket.AckStatus("")
	if v.Interim != nil {
		st = v.Interim.Status
	}
	ackDue := len(c.Messages) > 0 && (firstSent || c.Messages[0].Ack.Status == ticket.AckPending)
	v.CanSend = open && firstSent && (st == "" || st == ticket.AckSuppressed || st == ticket.AckFailed)
	v.CanSuppress = open && (st == ticket.AckPending || st == "" && ackDue)
	// Only a citizen case can have one; the section is shown for those (and any record).
	v.Show = c.Kind == ticket.KindCitizen || v.Interim != nil
	return v
}

// caseInterim is POST /cases/{ref}/interim with action=suppress or action=send-now.
func (s *server) caseInterim(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	if err := form(w, r); err != nil {
		s.errorPage(w, r, u, http.StatusBadRequest, "err.badrequest")
		return
	}
	c, ok := s.visibleCase(w, r, u)
	if !ok {
		return
	}
	back := "/cases/" + c.Reference.String()
	var err error
	done := ""
	switch r.PostForm.Get("action") {
	case "suppress":
		err, done = s.store.SuppressInterim(c.Reference, s.actor(r, u)), ticket.AuditInterimSuppress
	case "send-now":
		err, done = s.store.SendInterimNow(c.Reference, s.actor(r, u)), ticket.AuditInterimSendNow
	default:
		s.errorPage(w, r, u, http.StatusBadRequest, "err.badrequest")
		return
	}
	switch {
	case errors.Is(err, ticket.ErrInterimNotAllowed), errors.Is(err, ticket.ErrBadTransition):
		http.Redirect(w, r, back+"?err=interim#interim-h", http.StatusSeeOther)
		return
	case err != nil:
		s.log.Error("interim notice", "case", c.Reference.String(), "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	s.log.Info("interim notice decided", "case", c.Reference.String(), "user", u.Name, "action", done)
	http.Redirect(w, r, back+"?done="+done+"#interim-h", http.StatusSeeOther)
}
