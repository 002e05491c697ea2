package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/textproto"
	"strings"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
	"golang.org/x/oauth2"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/ticket"
)

// ackBatch is how many due acknowledgements are sent over one connection
// before the outbox is read again.
const ackBatch = 100

// AckConnections is how many SMTP connections a burst of acknowledgements
// uses at once: the server's per-message work (queue file fsync) and ours
// (recording the result) overlap instead of adding up. Two measured best on
// the 2-core benchmark machine (BENCHMARKS.md); more took CPU from the
// watcher without sending faster. Each connection has at
// most one message between the server's 250 and our record of it, so a
// crash repeats at most one acknowledgement per connection, each with its
// stable Message-ID (invariant 3).
const AckConnections = 2

// smtpTimeout bounds each SMTP command; it is re-armed before every message.
const smtpTimeout = 30 * time.Second

// responder sends the due acknowledgements of one mailbox.
type responder struct {
	d   *Daemon
	mb  *mailbox
	log *slog.Logger

	capped atomic.Bool // the hourly cap held the last burst back
}

// capRecheck is how often a capped responder looks whether the hour has
// passed.
const capRecheck = 30 * time.Second

func (r *responder) run(stop, hard context.Context) {
	for stop.Err() == nil {
		r.sendDue(stop, hard)
		wait := time.Hour
		if next, ok, err := r.d.store.NextAckDue(r.mb.cfg.Name); err != nil {
			r.log.Error("read outbox", "err", err)
			wait = time.Minute
		} else if ok {
			wait = max(next.Sub(r.d.opts.Now()), 0)
		}
		if r.capped.Load() {
			// Due entries wait; look again later (or when an admin resumes).
			wait = capRecheck
		}
		t := time.NewTimer(wait)
		select {
		case <-stop.Done():
		case <-r.mb.wakeSender:
		case <-t.C:
		}
		t.Stop()
	}
}

// sendDue sends until the outbox holds nothing due or the server fails.
func (r *responder) sendDue(stop, hard context.Context) {
	for stop.Err() == nil {
		due, err := r.d.store.DueAcks(r.mb.cfg.Name, r.d.opts.Now(), ackBatch)
		if err != nil {
			r.log.Error("read outbox", "err", err)
			return
		}
		if len(due) == 0 {
			return
		}
		// Small bursts use one connection; large ones are dealt out.
		n := min(AckConnections, (len(due)+9)/10)
		parts := make([][]ticket.OutboxEntry, n)
		for i, e := range due {
			parts[i%n] = append(parts[i%n], e)
		}
		results := make(chan bool, n)
		for _, part := range parts {
			go func() { results <- r.sendBatch(stop, hard, part) }()
		}
		ok := true
		for range parts {
			ok = <-results && ok
		}
		if !ok {
			return
		}
	}
}

// sendBatch sends entries over one connection. It reports false when the
// connection failed; the entries not sent are rescheduled.
func (r *responder) sendBatch(stop, hard context.Context, entries []ticket.OutboxEntry) bool {
	client, err := newSMTPClient(r.mb.cfg, r.mb.smtpTokens)
	if err != nil {
		r.deferAll(entries, err)
		return false
	}
	sc, err := client.DialToSMTPClientWithContext(hard)
	if err != nil {
		err = fmt.Errorf("connect to %s:%d: %w", r.mb.cfg.SMTP.Host, r.mb.cfg.SMTP.Port, err)
		r.deferAll(entries, err)
		return false
	}
	defer func() {
		if err := client.CloseWithSMTPClient(sc); err != nil {
			r.log.Debug("close smtp connection", "err", err)
		}
	}()
	// RFC 3834 §3.3 / RFC 3461 §4.1: ask for no delivery notifications.
	sc.SetDSNRcptNotifyOption("NEVER")
	for i, e := range entries {
		if stop.Err() != nil {
			return false // the rest stays due and goes out after the restart
		}
		// R3: the daemon-wide hourly cap, checked before every message.
		ok, err := r.d.cap.allow(*r.mb.cfg.Policy.HourlyCap)
		if err != nil {
			r.log.Error("check hourly cap", "err", err)
			return false
		}
		r.capped.Store(!ok)
		if !ok {
			return false // held in the outbox until the cap lifts
		}
		res, connErr := r.sendOne(sc, e)
		if err := r.d.store.RecordAck(e.Message.Seq, res); err != nil {
			r.log.Error("record acknowledgement", "case", e.Reference.String(), "err", err)
			return false
		}
		r.logResult(e, res)
		if connErr != nil {
			r.deferAll(entries[i+1:], connErr)
			return false
		}
	}
	return true
}

func (r *responder) logResult(e ticket.OutboxEntry, res ticket.AckResult) {
	switch res.Status {
	case ticket.AckSent:
		r.mb.update(func(s *MailboxStatus) { s.AcksSent++ })
		r.d.metrics.acksSent.WithLabelValues(r.mb.cfg.Name).Inc()
		r.log.Info("acknowledgement sent", "case", e.Reference.String(), "seq", e.Message.Seq)
	case ticket.AckFailed:
		r.d.metrics.acksFailed.WithLabelValues(r.mb.cfg.Name).Inc()
		r.log.Warn("acknowledgement failed", "case", e.Reference.String(), "seq", e.Message.Seq, "reply", res.Reply)
	default:
		r.log.Info("acknowledgement deferred", "case", e.Reference.String(), "seq", e.Message.Seq, "next_try", res.NextTry, "reply", res.Reply)
	}
}

// deferAll reschedules entries after a failure that was not theirs.
func (r *responder) deferAll(entries []ticket.OutboxEntry, cause error) {
	for _, e := range entries {
		res := r.retryLater(e, cause.Error())
		if err := r.d.store.RecordAck(e.Message.Seq, res); err != nil {
			r.log.Error("record acknowledgement", "case", e.Reference.String(), "err", err)
			return
		}
		if res.Status == ticket.AckFailed {
			r.d.metrics.acksFailed.WithLabelValues(r.mb.cfg.Name).Inc()
		}
	}
	if len(entries) > 0 {
		r.log.Warn("acknowledgements deferred", "count", len(entries), "err", cause)
		r.mb.update(func(s *MailboxStatus) { s.LastError = cause.Error(); s.LastErrorAt = time.Now() })
	}
}

// retryLater is the result for a temporary failure: the next try per the
// backoff schedule, or failed once GiveUpAfter has passed.
func (r *responder) retryLater(e ticket.OutboxEntry, reply string) ticket.AckResult {
	now := r.d.opts.Now()
	if now.Sub(e.Message.Received) > r.d.opts.GiveUpAfter && e.Message.Ack.Attempts > 0 {
		return ticket.AckResult{Status: ticket.AckFailed, Reply: "gave up: " + reply, At: now}
	}
	sched := r.d.opts.RetryBackoff
	wait := sched[min(e.Message.Ack.Attempts, len(sched)-1)]
	return ticket.AckResult{Status: ticket.AckPending, Reply: reply, At: now, NextTry: now.Add(wait)}
}

// sendOne sends one acknowledgement. connErr is set when the connection
// can no longer be used.
func (r *responder) sendOne(sc *gosmtp.Client, e ticket.OutboxEntry) (res ticket.AckResult, connErr error) {
	now := r.d.opts.Now()
	msg, sent, err := r.build(e)
	// What was sent (or tried) is stored with the result (issue 11).
	defer func() { res.Sent = sent }()
	if err != nil {
		// A template or address problem does not go away by retrying.
		return ticket.AckResult{Status: ticket.AckFailed, Reply: "build: " + err.Error(), At: now}, nil
	}
	_ = sc.UpdateDeadline(smtpTimeout)
	from := "<" + EnvelopeFrom(r.mb.cfg) + ">"
	reply, err := func() (string, error) {
		if err := sc.Mail(from); err != nil {
			return "", err
		}
		if err := sc.Rcpt("<" + e.Message.Ack.Recipient + ">"); err != nil {
			return "", err
		}
		w, err := sc.Data()
		if err != nil {
			return "", err
		}
		if _, err := msg.WriteTo(w); err != nil {
			return "", err
		}
		if err := w.Close(); err != nil {
			return "", err
		}
		if dc, ok := w.(*gosmtp.DataCloser); ok {
			return dc.ServerResponse(), nil
		}
		return "", nil
	}()
	if err == nil {
		// RFC 5321 §3.3: the next MAIL may follow a completed transaction
		// without RSET.
		return ticket.AckResult{Status: ticket.AckSent, Reply: "250 " + reply, At: r.d.opts.Now()}, nil
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		reply := fmt.Sprintf("%d %s", te.Code, te.Msg)
		if rerr := sc.Reset(); rerr != nil {
			connErr = rerr
		}
		if te.Code >= 500 {
			// RFC 5321 §4.2.1: 5yz is a permanent failure.
			return ticket.AckResult{Status: ticket.AckFailed, Reply: reply, At: now}, connErr
		}
		return r.retryLater(e, reply), connErr
	}
	// A network error or timeout: the server may even have accepted the
	// message (go-libs.md pitfall 13); a repeat carries the same Message-ID.
	return r.retryLater(e, err.Error()), err
}

// NewSMTPClient configures a go-mail client for a mailbox's SMTP account.
func NewSMTPClient(mb config.Mailbox) (*gomail.Client, error) {
	return newSMTPClient(mb, nil)
}

// newSMTPClient is NewSMTPClient with the mailbox's long-lived OAuth2 token
// source (nil: a token is fetched for this connection only).
func newSMTPClient(mb config.Mailbox, tokens oauth2.TokenSource) (*gomail.Client, error) {
	sm := mb.SMTP
	tconf, err := tlsConfig(sm.Host, sm.CAFile)
	if err != nil {
		return nil, err
	}
	opts := []gomail.Option{
		gomail.WithPort(sm.Port),
		gomail.WithTimeout(smtpTimeout),
		gomail.WithTLSConfig(tconf),
	}
	if sm.HELO != "" {
		opts = append(opts, gomail.WithHELO(sm.HELO))
	}
	switch sm.TLS {
	case config.TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case config.TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithSSL())
	}
	if sm.OAuth2 != nil {
		tok, err := signInToken(sm.OAuth2, tokens)
		if err != nil {
			return nil, fmt.Errorf("smtp sign-in as %s: %w", sm.Username, err)
		}
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthXOAUTH2),
			gomail.WithUsername(sm.Username), gomail.WithPassword(tok.AccessToken))
	} else if sm.Username != "" {
		pw, err := sm.Resolve()
		if err != nil {
			return nil, fmt.Errorf("smtp password: %w", err)
		}
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(sm.Username), gomail.WithPassword(pw))
	}
	c, err := gomail.NewClient(sm.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client for %s: %w", sm.Host, err)
	}
	return c, nil
}

// build renders the acknowledgement of one outbox entry. Nothing from the
// citizen's mail reaches a header except the decoded subject inside our
// subject and the validated Message-IDs in In-Reply-To/References; go-mail
// encodes CR/LF, so no header can be added (RFC 5322 §2.2). The minimal kind
// (Ack.Echo, decided at registration) keeps only In-Reply-To and References
// to the mail's own Message-ID (RFC 3834 §3.1.6) and no subject.
func (r *responder) build(e ticket.OutboxEntry) (*gomail.Msg, *ticket.SentText, error) {
	mc := r.mb.cfg
	data := r.d.textData(r.mb)
	data.Reference = e.Reference.String()
	data.Received = e.Message.Received.In(r.d.cfg.Location)
	data.Subject = e.Message.Subject
	data.Attachments = e.Message.Attachments
	data.FollowUp = e.FollowUp
	// Only the full kind decided at registration repeats the sender's text; anything
	// else (the minimal kind, a record from before it was stored) does not (issue 8).
	data.Minimal = e.Message.Ack.Echo != ticket.EchoFull
	out, err := r.d.tmpl.Render(mc.Language, data)
	if err != nil {
		return nil, nil, fmt.Errorf("render template: %w", err)
	}
	sent := &ticket.SentText{Subject: out.Subject, Text: out.Text}
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.FromFormat(mc.Ack.FromName, mc.Address); err != nil {
		return nil, nil, fmt.Errorf("from address: %w", err)
	}
	// RFC 3834 §4 / rule A2: the single recipient is the Return-Path.
	if err := m.To(e.Message.Ack.Recipient); err != nil {
		return nil, nil, fmt.Errorf("recipient: %w", err)
	}
	m.Subject(out.Subject)
	m.SetMessageIDWithValue(e.Message.Ack.MessageID)
	m.SetDateWithValue(r.d.opts.Now())
	// RFC 3834 §3.1.6 / RFC 5322 §3.6.4: In-Reply-To is the original
	// Message-ID, References the original References plus it.
	var refs []string
	for _, id := range e.Message.References {
		// The minimal kind does not carry the sender's References list along either.
		if validMsgID(id) && e.Message.Ack.Echo == ticket.EchoFull {
			refs = append(refs, "<"+id+">")
		}
	}
	if id := e.Message.MessageID; validMsgID(id) {
		m.SetGenHeader(gomail.HeaderInReplyTo, "<"+id+">")
		refs = append(refs, "<"+id+">")
	}
	if len(refs) > 0 {
		m.SetGenHeader(gomail.HeaderReferences, strings.Join(refs, " "))
	}
	m.SetGenHeader("Auto-Submitted", "auto-replied")          // RFC 3834 §5
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All") // MS-OXCMAIL §2.1.3.2.20
	m.SetGenHeader(gomail.HeaderPrecedence, "bulk")           // RFC 3834 §3.1.8
	m.SetGenHeader(LoopHeader, r.d.opts.InstanceID)
	m.SetBodyString(gomail.TypeTextPlain, out.Text)
	return m, sent, nil
}

// validMsgID accepts a msg-id body (RFC 5322 §3.6.4, without the angle
// brackets) made of printable ASCII without spaces or brackets.
func validMsgID(id string) bool {
	if id == "" || len(id) > 250 || !strings.Contains(id, "@") {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}
