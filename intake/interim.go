package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/textproto"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/intake/policy"
	"github.com/intake-office/intake/templates"
	"github.com/intake-office/intake/ticket"
)

// Interim notices (Zwischennachricht, issue 11). Each mailbox with [mailbox.interim]
// enabled runs an interimRunner beside its responder: it enqueues the notices of the cases
// whose handling time has passed (ticket.Store.EnqueueDueInterims, one transaction) and
// sends the pending ones, under the daemon-wide hourly cap, recording each attempt with
// the text sent (ticket.Store.RecordInterim). The schedule lives in the register, so a
// restart neither skips nor doubles a notice.

// defaultInterimPoll is how often the runner looks for notices a clerk asked for ("send
// now") while nothing is scheduled earlier.
const defaultInterimPoll = time.Minute

// interimBatch is how many due notices one run sends over one connection.
const interimBatch = 50

type interimRunner struct {
	mb    *mailbox
	log   *slog.Logger
	snap  *snapshot // the configuration the runner was started with
	store interimStore
	cap   hourlyCap
	now   func() time.Time // the clock
	tune  tuning
	// metrics counts the notices sent and given up (intake_interim_*_total).
	metrics *metrics
}

// interimStore is what the interim runner needs of the register.
type interimStore interface {
	EnqueueDueInterims(mailbox string, cutoff, now time.Time, perRecipient int) (int, error)
	DropDueInterims(mailbox string, cutoff time.Time) (int, error)
	DueInterims(mailbox string, now time.Time, limit int) ([]ticket.InterimEntry, error)
	NextInterimCandidate(mailbox string) (time.Time, bool, error)
	NextInterimDue(mailbox string) (time.Time, bool, error)
	RecordInterim(ref ticket.Reference, res ticket.AckResult) error
}

func (r *interimRunner) poll() time.Duration {
	if r.tune.InterimPoll > 0 {
		return r.tune.InterimPoll
	}
	return defaultInterimPoll
}

func (r *interimRunner) run(stop, hard context.Context) {
	name, after, enabled := r.mb.cfg.Name, r.mb.cfg.Interim.After.Duration, r.mb.cfg.Interim.IsEnabled()
	for stop.Err() == nil {
		now := r.now()
		if !enabled {
			// No schedule, and no promise in the acks: due cases leave it. A notice a clerk
			// asks for is still sent below.
			if _, err := r.store.DropDueInterims(name, now.Add(-after)); err != nil {
				r.log.Error("drop interim schedule", "err", err)
			}
		} else if !r.anyDue(now.Add(-after)) {
			// Nothing due: no write transaction (and no fsync) for an idle pass.
		} else if n, err := r.store.EnqueueDueInterims(name, now.Add(-after), now, *r.mb.cfg.Policy.PerSenderLimit); err != nil {
			r.log.Error("schedule interim notices", "err", err)
		} else if n > 0 {
			r.log.Info("interim notices due", "count", n)
		}
		r.sendDue(stop, hard)
		wait := r.poll()
		// A candidate already due is one whose ack is still pending: looked at again after
		// the poll interval, not in a busy loop.
		if created, ok, err := r.store.NextInterimCandidate(name); err == nil && ok {
			if due := created.Add(after).Sub(r.now()); due > 0 {
				wait = min(wait, due)
			}
		}
		if next, ok, err := r.store.NextInterimDue(name); err == nil && ok {
			wait = min(wait, max(next.Sub(r.now()), 0))
		}
		t := time.NewTimer(max(wait, 10*time.Millisecond))
		select {
		case <-stop.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// anyDue reports whether the oldest case waiting for its interim decision was received at
// or before cutoff (a read transaction); true on an error, so that Enqueue reports it.
func (r *interimRunner) anyDue(cutoff time.Time) bool {
	created, ok, err := r.store.NextInterimCandidate(r.mb.cfg.Name)
	return err != nil || ok && !created.After(cutoff)
}

// sendDue sends the due notices over one connection.
func (r *interimRunner) sendDue(stop, hard context.Context) {
	due, err := r.store.DueInterims(r.mb.cfg.Name, r.now(), interimBatch)
	if err != nil {
		r.log.Error("read interim outbox", "err", err)
		return
	}
	if len(due) == 0 {
		return
	}
	client, err := newSMTPClient(r.mb.cfg, r.mb.smtpTokens, r.tune.SMTPTimeout, hard)
	if err != nil {
		r.deferAll(due, err)
		return
	}
	sc, err := client.DialToSMTPClientWithContext(hard)
	if err != nil {
		r.deferAll(due, fmt.Errorf("connect to %s:%d: %w", r.mb.cfg.SMTP.Host, r.mb.cfg.SMTP.Port, err))
		return
	}
	defer func() {
		if err := client.CloseWithSMTPClient(sc); err != nil {
			r.log.Debug("close smtp connection", "err", err)
		}
	}()
	sc.SetDSNRcptNotifyOption("NEVER") // RFC 3461 §4.1, as for acks
	for i, e := range due {
		if stop.Err() != nil {
			return
		}
		// R3: the same daemon-wide hourly cap as acknowledgements.
		if ok, err := r.cap.allow(0); err != nil || !ok {
			if err != nil {
				r.log.Error("check hourly cap", "err", err)
			}
			return
		}
		res, connErr := r.sendOne(sc, e)
		if err := r.store.RecordInterim(e.Reference, res); err != nil {
			r.log.Error("record interim notice", "case", e.Reference.String(), "err", err)
			return
		}
		switch res.Status {
		case ticket.AckSent:
			r.cap.sent(res.At, false) // counted like an ack (RecordInterim's sent index)
			if r.metrics != nil {
				r.metrics.interimSent.WithLabelValues(r.mb.cfg.Name).Inc()
			}
			r.log.Info("interim notice sent", "case", e.Reference.String())
		case ticket.AckFailed:
			if r.metrics != nil {
				r.metrics.interimFailed.WithLabelValues(r.mb.cfg.Name).Inc()
			}
			r.log.Warn("interim notice failed", "case", e.Reference.String(), "reply", res.Reply)
		default:
			r.log.Info("interim notice deferred", "case", e.Reference.String(), "next_try", res.NextTry)
		}
		if connErr != nil {
			r.deferAll(due[i+1:], connErr)
			return
		}
	}
}

func (r *interimRunner) deferAll(entries []ticket.InterimEntry, cause error) {
	for _, e := range entries {
		if err := r.store.RecordInterim(e.Reference, r.retryLater(e, cause.Error())); err != nil {
			r.log.Error("record interim notice", "case", e.Reference.String(), "err", err)
			return
		}
	}
	r.log.Warn("interim notices deferred", "count", len(entries), "err", cause)
}

// retryLater is the ack's backoff schedule, giving up GiveUpAfter after the notice fell due.
func (r *interimRunner) retryLater(e ticket.InterimEntry, reply string) ticket.AckResult {
	now := r.now()
	if now.Sub(e.Interim.Due) > r.tune.GiveUpAfter && e.Interim.Attempts > 0 {
		return ticket.AckResult{Status: ticket.AckFailed, Reply: "gave up: " + reply, At: now}
	}
	sched := r.tune.RetryBackoff
	wait := sched[min(e.Interim.Attempts, len(sched)-1)]
	return ticket.AckResult{Status: ticket.AckPending, Reply: reply, At: now, NextTry: now.Add(wait)}
}

func (r *interimRunner) sendOne(sc *gosmtp.Client, e ticket.InterimEntry) (ticket.AckResult, error) {
	now := r.now()
	msg, sent, err := r.build(e)
	if err != nil {
		return ticket.AckResult{Status: ticket.AckFailed, Reply: "build: " + err.Error(), At: now}, nil
	}
	_ = sc.UpdateDeadline(r.tune.SMTPTimeout)
	reply, err := smtpSend(sc, EnvelopeFrom(r.mb.cfg), e.Interim.Recipient, msg, nil)
	if err == nil {
		return ticket.AckResult{Status: ticket.AckSent, Reply: "250 " + reply, At: r.now(), Sent: sent}, nil
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		res := r.retryLater(e, fmt.Sprintf("%d %s", te.Code, te.Msg))
		if te.Code >= 500 { // RFC 5321 §4.2.1
			res = ticket.AckResult{Status: ticket.AckFailed, Reply: fmt.Sprintf("%d %s", te.Code, te.Msg), At: now}
		}
		res.Sent = sent
		return res, sc.Reset()
	}
	res := r.retryLater(e, err.Error())
	res.Sent = sent
	return res, err
}

// textData is the template data the mailbox's acknowledgements and interim notices share:
// the office, the handling time, the legal basis and the signature (issue 11).
func textData(cfg *config.Config, mb *mailbox) templates.Data {
	mc, off := mb.cfg, cfg.Office
	return templates.Data{
		Office: templates.Office{
			Name: off.Name, Phone: off.Phone, PostalAddress: off.PostalAddress,
			ContactURL: off.ContactURL, PrivacyURL: off.PrivacyURL,
		},
		Mailbox:          mc.Ack.FromName,
		Address:          mc.Address,
		HandlingTime:     mc.Interim.After.Duration,
		NoInterimPromise: !mc.Interim.IsEnabled(),
		LegalBasis:       off.LegalBasis,
		Signature:        off.Signature,
	}
}

// build renders the interim notice of e. Like an acknowledgement it repeats the sender's
// subject only when the acknowledgement was the full kind (issue 8). It is a new message,
// not a reply to the citizen's: Auto-Submitted auto-generated (RFC 3834 §5), and it
// refers to the citizen's mail and our acknowledgement (RFC 5322 §3.6.4).
func (r *interimRunner) build(e ticket.InterimEntry) (*gomail.Msg, *ticket.SentText, error) {
	mc := r.mb.cfg
	data := textData(r.snap.cfg, r.mb)
	data.Reference = e.Reference.String()
	data.Received = e.First.Received.In(r.snap.cfg.Location)
	data.Subject = e.First.Subject
	data.Interim = true
	data.Minimal = e.Interim.Echo != ticket.EchoFull
	out, err := r.snap.tmpl.Render(mc.Language, data)
	if err != nil {
		return nil, nil, fmt.Errorf("render template: %w", err)
	}
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.FromFormat(mc.Ack.FromName, mc.Address); err != nil {
		return nil, nil, fmt.Errorf("from address: %w", err)
	}
	if err := m.To(e.Interim.Recipient); err != nil {
		return nil, nil, fmt.Errorf("recipient: %w", err)
	}
	m.Subject(out.Subject)
	m.SetMessageIDWithValue(e.Interim.MessageID)
	m.SetDateWithValue(r.now())
	var refs []string
	for _, id := range []string{e.First.MessageID, e.First.Ack.MessageID} {
		if validMsgID(id) {
			refs = append(refs, "<"+id+">")
		}
	}
	if len(refs) > 0 {
		m.SetGenHeader(gomail.HeaderReferences, refs...)
	}
	m.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834 §5
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetGenHeader(gomail.HeaderPrecedence, "bulk")
	m.SetGenHeader(LoopHeader, r.tune.InstanceID)
	m.SetBodyString(gomail.TypeTextPlain, out.Text)
	return m, &ticket.SentText{Subject: out.Subject, Text: out.Text}, nil
}

// interimRef reads the case out of one of our interim notices' Message-IDs
// ("REF.interim.RANDOM@domain").
func interimRef(id string) (ticket.Reference, bool) {
	i := strings.Index(id, ".interim.")
	if i <= 0 {
		return ticket.Reference{}, false
	}
	ref, err := ticket.ParseReference(id[:i])
	return ref, err == nil
}

// interimBounce threads a delivery failure report of one of our interim notices (id, the
// returned Message-ID) to its case and marks the notice bounced, as thread does for acks:
// the Message-ID must be the notice's own (it is unguessable) and a DSN must name its
// recipient. ok is false when id is not an interim notice's.
func (w *watcher) interimBounce(p *mailparse.Message, id string) (threading, bool, error) {
	var t threading
	ref, ok := interimRef(id)
	if !ok {
		return t, false, nil
	}
	in, err := w.reg.InterimOf(ref)
	if errors.Is(err, ticket.ErrNotFound) || err == nil && (in == nil || !strings.EqualFold(in.MessageID, id)) {
		return t, true, nil
	}
	if err != nil {
		return t, true, err
	}
	status, detail := policy.BounceStatus(p)
	if status == "" || p.DSN != nil && !dsnNames(p.DSN, in.Recipient) {
		return t, true, nil
	}
	t.followUpOf = &ref
	t.bounce = &ticket.BounceMark{Interim: &ref, Status: status, Detail: detail}
	return t, true, nil
}
