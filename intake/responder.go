package intake

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
	"golang.org/x/oauth2"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/internal/clerkgate"
	"github.com/intake-office/intake/ticket"
)

// ackBatch is how many due acknowledgements are sent over one connection
// before the outbox is read again, and how many sends one batch of records
// (ticket.AckBatch) holds at most: what a power failure can make intake repeat.
const ackBatch = 100

// burstMax bounds the acknowledgements one pipelined burst takes from the outbox
// (ackPipeline.topUp), committing its batch every ackBatch sends; then the
// responder reads the outbox afresh.
const burstMax = 10 * ackBatch

// AckConnections is how many SMTP connections a burst of acknowledgements
// uses at once on a server that does not offer PIPELINING: the server's
// per-message work (queue file fsync) and ours (recording the result) overlap
// instead of adding up. Two measured best on the 2-core benchmark machine
// (BENCHMARKS.md). A server that offers PIPELINING gets one connection with
// the next envelope behind each end of data (ackPipeline), which overlaps
// the same work with less of both sides' CPU. On every connection at most one
// message is between the server's 250 and our record of it, across the
// connections too (responder.window), so a crash repeats at most one
// acknowledgement, with its stable Message-ID (invariant 3).
const AckConnections = 2

// defaultSMTPTimeout bounds each SMTP command (Options.SMTPTimeout); it is
// re-armed before every message.
const defaultSMTPTimeout = 30 * time.Second

// outbox is what a responder needs of the register (ticket.Store): the
// due acknowledgements of its mailbox and the record of each attempt.
type outbox interface {
	NextAckDue(mailbox string) (time.Time, bool, error)
	MakeAcksDue(mailbox string, now time.Time) (int, error)
	DueAcks(mailbox string, now time.Time, limit int) ([]ticket.OutboxEntry, error)
	// DueAcksExcept lets a pipelined burst take more as it goes (ackPipeline.topUp).
	DueAcksExcept(mailbox string, now time.Time, limit int, skip func(seq uint64) bool) ([]ticket.OutboxEntry, error)
	// NewAckBatch records the marks and results of one round of sends; its Commit
	// makes them durable in one transaction (issue 12).
	NewAckBatch() *ticket.AckBatch
}

// hourlyCap is the daemon-wide limit a responder asks before every
// acknowledgement (ackCap).
type hourlyCap interface {
	// allow and allowUnverified count pending acks, let through but not yet
	// recorded, as sent.
	allow(pending int) (bool, error)
	allowUnverified(limit, pending int) (bool, error)
	// sent counts a send the register recorded as sent at at.
	sent(at time.Time, unverified bool)
}

// responder sends the due acknowledgements of one mailbox.
type responder struct {
	mb      *mailbox
	log     *slog.Logger
	snap    *snapshot // the configuration the responder was started with
	outbox  outbox
	cap     hourlyCap
	now     func() time.Time // the clock
	tune    tuning
	metrics *metrics

	capped atomic.Bool // the hourly cap held the last burst back
	// down: the last attempt could not reach the SMTP server (run's
	// goroutine only). While down, the responder probes the server on the
	// reconnect schedule; when an attempt connects again, the whole
	// outbox is made due at once (issue 9, finding 4).
	down bool
	// window serialises, across the mailbox's SMTP connections, the span
	// from marking an ack in flight to recording its result: a crash then
	// finds at most one ack that the server may have accepted unrecorded,
	// so at most one ack is repeated per crash (issue 9, finding 5).
	window sync.Mutex

	// health counts a batch the register could not commit (a full disk) like
	// the watcher's failed writes (issue 9, finding 7).
	health *registerHealth
	// uncommitted is a batch whose Commit failed: nothing more is sent until
	// it is committed, or its acks would go out twice (run's goroutine only).
	uncommitted *ticket.AckBatch

	idleMu sync.Mutex
	idle   []*smtpConn // connections kept open between bursts (tune.SMTPKeepOpen)

	clerks *clerkgate.Gate // nil: never steps aside
}

// defaultSMTPKeepOpen is how long an SMTP connection stays open after a burst
// of acknowledgements, for the next burst (Options.SMTPKeepOpen): during a
// drain they follow each other within milliseconds, and a new connection
// costs a TLS handshake and AUTH. Postfix closes an idle client after 300 s
// (smtpd_timeout); the NOOP before reusing a connection idle for more than a
// second finds one a server closed earlier.
const defaultSMTPKeepOpen = 5 * time.Second

// smtpConn is an open, authenticated SMTP connection.
type smtpConn struct {
	client   *gomail.Client
	sc       *gosmtp.Client
	lastUsed time.Time
}

// close ends the connection with QUIT, or without when QUIT fails (a dead
// connection, or one whose deadline the stop set).
func (c *smtpConn) close(log *slog.Logger) {
	if err := c.client.CloseWithSMTPClient(c.sc); err != nil {
		log.Debug("close smtp connection", "err", err)
		_ = c.sc.Close()
	}
}

// capRecheck is how often a capped responder looks whether the hour has
// passed.
const capRecheck = 30 * time.Second

func (r *responder) run(stop, hard context.Context) {
	probe := newReconnectBackoff(r.tune.ReconnectMin, r.tune.ReconnectMax, rand.Float64)
	for stop.Err() == nil {
		if r.down && r.probe(hard) {
			r.recovered()
		}
		r.sendDue(stop, hard)
		wait := time.Hour
		if next, ok, err := r.outbox.NextAckDue(r.mb.cfg.Name); err != nil {
			r.log.Error("read outbox", "err", err)
			wait = time.Minute
		} else if ok {
			wait = max(next.Sub(r.now()), 0)
		}
		if r.capped.Load() {
			// Due entries wait; look again later (or when an admin resumes).
			wait = capRecheck
		}
		if r.down {
			// Try the server again soon, whatever the entries' own times.
			wait = min(wait, probe.next(time.Now()))
		} else {
			probe.reset()
		}
		if expiry, ok := r.closeIdle(time.Now()); ok {
			wait = min(wait, expiry)
		}
		t := time.NewTimer(wait)
		select {
		case <-stop.Done():
		case <-r.mb.wakeSender:
		case <-t.C:
		}
		t.Stop()
	}
	r.closeIdle(time.Time{})
}

// takeIdle returns a connection kept open from an earlier burst, or nil.
func (r *responder) takeIdle() *smtpConn {
	r.idleMu.Lock()
	defer r.idleMu.Unlock()
	if n := len(r.idle); n > 0 {
		c := r.idle[n-1]
		r.idle = r.idle[:n-1]
		return c
	}
	return nil
}

// putIdle keeps c open for the next burst.
func (r *responder) putIdle(c *smtpConn) {
	c.lastUsed = time.Now()
	r.idleMu.Lock()
	r.idle = append(r.idle, c)
	r.idleMu.Unlock()
}

// closeIdle closes the kept connections unused for SMTPKeepOpen before now (all
// of them for a zero now) and returns how long until the next one expires.
func (r *responder) closeIdle(now time.Time) (time.Duration, bool) {
	r.idleMu.Lock()
	var expired []*smtpConn
	kept := r.idle[:0]
	next, found := time.Duration(0), false
	for _, c := range r.idle {
		left := c.lastUsed.Add(r.tune.SMTPKeepOpen).Sub(now)
		if now.IsZero() || left <= 0 {
			expired = append(expired, c)
			continue
		}
		if !found || left < next {
			next, found = left, true
		}
		kept = append(kept, c)
	}
	clear(r.idle[len(kept):])
	r.idle = kept
	r.idleMu.Unlock()
	for _, c := range expired {
		c.close(r.log)
	}
	return next, found
}

// probe reports whether the SMTP server takes a connection again
// (greeting, EHLO, TLS and AUTH), without sending anything.
func (r *responder) probe(hard context.Context) bool {
	client, err := newSMTPClient(r.mb.cfg, r.mb.smtpTokens, r.tune.SMTPTimeout, hard)
	if err != nil {
		return false
	}
	sc, err := client.DialToSMTPClientWithContext(hard)
	if err != nil {
		r.log.Debug("smtp server still unreachable", "err", err)
		return false
	}
	if err := client.CloseWithSMTPClient(sc); err != nil {
		_ = sc.Close()
	}
	return true
}

// recovered ends an outage: every pending acknowledgement is due now.
func (r *responder) recovered() {
	r.down = false
	n, err := r.outbox.MakeAcksDue(r.mb.cfg.Name, r.now())
	if err != nil {
		r.log.Error("make deferred acknowledgements due", "err", err)
		return
	}
	if n > 0 {
		r.log.Info("smtp server reachable again: sending the deferred acknowledgements now", "count", n)
	}
}

// sendDue sends until the outbox holds nothing due or the server fails.
func (r *responder) sendDue(stop, hard context.Context) {
	// While it returns to wait, registration need not wait for it (ackflow.go).
	defer r.mb.flow.setSending(false)
	for stop.Err() == nil {
		if r.uncommitted != nil && !r.commit(r.uncommitted) {
			return
		}
		due, err := r.outbox.DueAcks(r.mb.cfg.Name, r.now(), ackBatch)
		if err != nil {
			r.log.Error("read outbox", "err", err)
			return
		}
		if len(due) == 0 {
			r.mb.flow.recorded(0, true)
			return
		}
		r.mb.flow.setSending(!r.down)
		// Every connection records into one batch: one commit for the round (a
		// pipelined burst commits it every ackBatch sends as well), durable before the
		// next round reads the outbox again.
		batch := r.outbox.NewAckBatch()
		ok, connected, unreachable := true, false, false
		for _, res := range r.sendRound(stop, hard, batch, due) {
			ok = ok && res == batchDone
			connected = connected || res != batchUnreachable
			unreachable = unreachable || res == batchUnreachable
		}
		if !r.commit(batch) {
			return
		}
		switch {
		case connected && r.down:
			// An attempt connected after failures: flush the rest.
			r.recovered()
		case unreachable && !connected:
			r.down = true
		}
		if !ok {
			return
		}
	}
}

// commit makes batch durable. When the register cannot be written, the batch
// is kept and retried before anything more is sent.
func (r *responder) commit(batch *ticket.AckBatch) bool {
	results := batch.Results()
	skipped, err := batch.Commit()
	if err != nil {
		r.log.Error("record acknowledgements: nothing more is sent until the register can be written", "err", err)
		if r.health != nil {
			r.health.failed(err)
		}
		r.uncommitted = batch
		return false
	}
	r.uncommitted = nil
	r.mb.flow.recorded(results, false)
	if skipped > 0 {
		// A bounce report or a purge came between the send and its record.
		r.log.Info("acknowledgement results not recorded: the case changed meanwhile", "count", skipped)
	}
	return true
}

// batchResult is how sendBatch ended.
type batchResult int

const (
	batchDone        batchResult = iota // every entry tried
	batchStopped                        // stop, the hourly cap or a register error ended it
	batchUnreachable                    // no connection, or it broke: the rest was deferred
)

// sendRound sends one round of due acknowledgements. A server that offers PIPELINING
// (RFC 2920) gets them all over one connection, each ack's end of data and the next one's
// envelope in one write (ackPipeline), and with them those that become due meanwhile, up
// to burstMax, batch by batch. Any other server gets them dealt out over up to
// AckConnections connections, one command at a time on each.
func (r *responder) sendRound(stop, hard context.Context, batch *ticket.AckBatch, due []ticket.OutboxEntry) []batchResult {
	conn, err := r.connect(hard)
	if err != nil {
		r.deferAll(batch, due, err)
		if errors.Is(err, errConfig) {
			return []batchResult{batchStopped}
		}
		return []batchResult{batchUnreachable}
	}
	if ok, _ := conn.sc.Extension("PIPELINING"); ok {
		res, keep := r.sendPipelined(stop, batch, conn.sc, due)
		r.release(stop, conn, keep)
		return []batchResult{res}
	}
	// Small bursts use one connection; large ones are dealt out.
	n := min(AckConnections, (len(due)+9)/10)
	parts := make([][]ticket.OutboxEntry, n)
	for i, e := range due {
		parts[i%n] = append(parts[i%n], e)
	}
	results := make(chan batchResult, n)
	for i, part := range parts {
		c := conn // the first part goes over the connection open already
		if i > 0 {
			c = nil
		}
		go func() { results <- r.sendBatch(stop, hard, batch, c, part) }()
	}
	out := make([]batchResult, 0, n)
	for range parts {
		out = append(out, <-results)
	}
	return out
}

// release keeps conn open for the next burst, or closes it when the responder stops
// (with QUIT). A connection that cannot be used again (!keep) may be in the middle of a
// message's data, where QUIT would be a line of it: it is closed without.
func (r *responder) release(stop context.Context, conn *smtpConn, keep bool) {
	switch {
	case !keep:
		_ = conn.sc.Close()
	case stop.Err() == nil:
		r.putIdle(conn)
	default:
		conn.close(r.log)
	}
}

// sendBatch sends entries one command at a time over conn, or over a connection of its
// own when conn is nil. When the connection fails, the entries not sent are rescheduled.
func (r *responder) sendBatch(stop, hard context.Context, batch *ticket.AckBatch, conn *smtpConn, entries []ticket.OutboxEntry) batchResult {
	if conn == nil {
		var err error
		if conn, err = r.connect(hard); err != nil {
			r.deferAll(batch, entries, err)
			if errors.Is(err, errConfig) {
				return batchStopped
			}
			return batchUnreachable
		}
	}
	keep := true
	defer func() { r.release(stop, conn, keep) }()
	sc := conn.sc
	for i, e := range entries {
		if stop.Err() != nil {
			return batchStopped // the rest stays due and goes out after the restart
		}
		// Clerks first: while a clerk's request is answered, the next ack waits
		// (clerkgate). Never inside the window: nothing is in flight here.
		r.metrics.stepAside(r.mb.cfg.Name, r.clerks.Wait(stop))
		// R3: the daemon-wide hourly cap, checked before every message.
		ok, err := r.cap.allow(0)
		if err != nil {
			r.log.Error("check hourly cap", "err", err)
			return batchStopped
		}
		r.capped.Store(!ok)
		if !ok {
			return batchStopped // held in the outbox until the cap lifts
		}
		if !e.Message.AckVerified() {
			held, err := r.holdUnverified(batch, e, 0)
			if err != nil {
				r.log.Error("check the unverified share of the hourly cap", "err", err)
				return batchStopped
			}
			if held {
				continue
			}
		}
		res, connErr, unlock := r.sendOne(sc, batch, e)
		err = batch.Record(&e.Message, res)
		unlock()
		if err != nil {
			r.log.Error("record acknowledgement", "case", e.Reference.String(), "err", err)
			keep = false
			return batchStopped
		}
		if res.Status == ticket.AckSent {
			// The batch has it, and its Commit the register's sent index: the
			// cap's running count too.
			r.cap.sent(res.At, !e.Message.AckVerified())
		}
		r.logResult(e, res)
		if connErr != nil {
			keep = false
			r.deferAll(batch, entries[i+1:], connErr)
			if i == 0 {
				return batchUnreachable
			}
			return batchStopped // it worked for a while: not an outage
		}
	}
	return batchDone
}

// errConfig marks a failure to set up the SMTP client from the configuration.
var errConfig = errors.New("smtp configuration")

// connect returns a connection kept open from an earlier burst that still
// answers, or a new one (greeting, EHLO, STARTTLS, AUTH).
func (r *responder) connect(hard context.Context) (*smtpConn, error) {
	for c := r.takeIdle(); c != nil; c = r.takeIdle() {
		_ = c.sc.UpdateDeadline(r.tune.SMTPTimeout)
		if time.Since(c.lastUsed) < time.Second {
			return c, nil
		}
		// The server may have closed it meanwhile (RFC 5321 §4.5.3.2.7
		// lets it after a while): ask.
		if err := c.sc.Noop(); err == nil {
			return c, nil
		}
		_ = c.sc.Close()
	}
	client, err := newSMTPClient(r.mb.cfg, r.mb.smtpTokens, r.tune.SMTPTimeout, hard)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	sc, err := client.DialToSMTPClientWithContext(hard)
	if err != nil {
		return nil, fmt.Errorf("connect to %s:%d: %w", r.mb.cfg.SMTP.Host, r.mb.cfg.SMTP.Port, err)
	}
	// RFC 3834 §3.3 / RFC 3461 §4.1: ask for no delivery notifications.
	sc.SetDSNRcptNotifyOption("NEVER")
	return &smtpConn{client: client, sc: sc}, nil
}

// unverifiedHold is how long an acknowledgement to an unverified sender waits when the
// unverified share of the hourly cap is used up.
const unverifiedHold = 5 * time.Minute

// holdUnverified applies unverified_hourly_cap at send time (R3): when the acknowledgements
// to unverified senders sent this hour reach it, e - one of them - is rescheduled rather
// than sent, so that unverified mail (a backlog, a flood registered before the limit
// applied) can never use up hourly_cap and stop the acknowledgements to verified senders
// behind it. It is given up like a temporary failure after GiveUpAfter. pending is how many
// acks to unverified senders are let through and not yet recorded (ackCap.allowUnverified).
func (r *responder) holdUnverified(batch *ticket.AckBatch, e ticket.OutboxEntry, pending int) (bool, error) {
	ok, err := r.cap.allowUnverified(*r.mb.cfg.Policy.UnverifiedHourlyCap, pending)
	if err != nil || ok {
		return false, err
	}
	now := r.now()
	const why = "held: hourly share of unverified senders used up (unverified_hourly_cap)"
	res := ticket.AckResult{Status: ticket.AckPending, Reply: why, At: now, NextTry: now.Add(unverifiedHold)}
	if now.Sub(e.Message.Received) > r.tune.GiveUpAfter {
		res = ticket.AckResult{Status: ticket.AckFailed, Reply: "gave up: " + why, At: now}
	}
	if err := batch.Record(&e.Message, res); err != nil {
		return false, err
	}
	r.metrics.acksHeld.WithLabelValues(r.mb.cfg.Name, ticket.ReasonRateUnverified).Inc()
	if res.Status == ticket.AckFailed {
		r.metrics.acksFailed.WithLabelValues(r.mb.cfg.Name).Inc()
	}
	r.log.Info("acknowledgement held: unverified share of the hourly cap used up", "case", e.Reference.String(), "seq", e.Message.Seq)
	return true, nil
}

func (r *responder) logResult(e ticket.OutboxEntry, res ticket.AckResult) {
	switch res.Status {
	case ticket.AckSent:
		r.mb.update(func(s *MailboxStatus) { s.AcksSent++ })
		r.metrics.acksSent.WithLabelValues(r.mb.cfg.Name).Inc()
		r.log.Info("acknowledgement sent", "case", e.Reference.String(), "seq", e.Message.Seq)
	case ticket.AckFailed:
		r.metrics.acksFailed.WithLabelValues(r.mb.cfg.Name).Inc()
		r.log.Warn("acknowledgement failed", "case", e.Reference.String(), "seq", e.Message.Seq, "reply_code", replyCodes(res.Reply))
	default:
		r.log.Info("acknowledgement deferred", "case", e.Reference.String(), "seq", e.Message.Seq, "next_try", res.NextTry, "reply_code", replyCodes(res.Reply))
	}
	if res.Reply != "" {
		// The reply text often names the recipient: debug level only
		// (DESIGN.md invariant 7).
		r.log.Debug("SMTP reply", "case", e.Reference.String(), "seq", e.Message.Seq, "reply", res.Reply)
	}
}

// deferAll reschedules entries after a failure that was not theirs.
func (r *responder) deferAll(batch *ticket.AckBatch, entries []ticket.OutboxEntry, cause error) {
	for _, e := range entries {
		res := r.retryLater(e, cause.Error())
		if err := batch.Record(&e.Message, res); err != nil {
			r.log.Error("record acknowledgement", "case", e.Reference.String(), "err", err)
			return
		}
		if res.Status == ticket.AckFailed {
			r.metrics.acksFailed.WithLabelValues(r.mb.cfg.Name).Inc()
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
	now := r.now()
	if now.Sub(e.Message.Received) > r.tune.GiveUpAfter && e.Message.Ack.Attempts > 0 {
		return ticket.AckResult{Status: ticket.AckFailed, Reply: "gave up: " + reply, At: now}
	}
	sched := r.tune.RetryBackoff
	wait := sched[min(e.Message.Ack.Attempts, len(sched)-1)]
	return ticket.AckResult{Status: ticket.AckPending, Reply: reply, At: now, NextTry: now.Add(wait)}
}

// sendOne sends one acknowledgement. connErr is set when the connection
// can no longer be used. The caller records res and then calls unlock: from
// just before the end of DATA until that record, the ack is in flight
// (AckBatch.MarkSending) and the mailbox's window is held. res.Sent is what was
// sent (or tried), stored with the result (issue 11).
//
//lint:ignore ST1008 connErr is not sendOne's failure but the state of the connection; res is the outcome
func (r *responder) sendOne(sc *gosmtp.Client, batch *ticket.AckBatch, e ticket.OutboxEntry) (res ticket.AckResult, connErr error, unlock func()) {
	unlock = func() {}
	now := r.now()
	msg, sent, err := r.build(e)
	defer func() { res.Sent = sent }()
	if err != nil {
		// A template or address problem does not go away by retrying.
		return ticket.AckResult{Status: ticket.AckFailed, Reply: "build: " + err.Error(), At: now}, nil, unlock
	}
	_ = sc.UpdateDeadline(r.tune.SMTPTimeout)
	// The server can accept the message only from the end of DATA on
	// (RFC 5321 §4.1.1.4): mark it in flight first, in the batch's journal,
	// which a kill -9 does not lose.
	markInFlight := func() error {
		r.window.Lock()
		unlock = r.window.Unlock
		again, err := batch.MarkSending(&e.Message, r.now())
		if err != nil {
			return fmt.Errorf("%w: %w", errRegister, err)
		}
		if again {
			r.log.Warn("acknowledgement was in flight at a crash: sending it once more with the same Message-ID",
				"case", e.Reference.String(), "seq", e.Message.Seq)
		}
		return nil
	}
	reply, err := smtpSend(sc, EnvelopeFrom(r.mb.cfg), e.Message.Ack.Recipient, msg, markInFlight)
	if err == nil {
		// RFC 5321 §3.3: the next MAIL may follow a completed transaction
		// without RSET.
		return ticket.AckResult{Status: ticket.AckSent, Reply: "250 " + reply, At: r.now()}, nil, unlock
	}
	if errors.Is(err, errRegister) {
		// Not the message's fault; the connection is in mid-DATA.
		return r.retryLater(e, err.Error()), err, unlock
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		reply := fmt.Sprintf("%d %s", te.Code, te.Msg)
		if rerr := sc.Reset(); rerr != nil {
			connErr = rerr
		}
		if te.Code >= 500 {
			// RFC 5321 §4.2.1: 5yz is a permanent failure.
			return ticket.AckResult{Status: ticket.AckFailed, Reply: reply, At: now}, connErr, unlock
		}
		return r.retryLater(e, reply), connErr, unlock
	}
	// A network error or timeout: the server may even have accepted the
	// message (go-libs.md pitfall 13); a repeat carries the same Message-ID.
	return r.retryLater(e, err.Error()), err, unlock
}

// errRegister marks an error of the register met while sending.
var errRegister = errors.New("register")

// NewSMTPClient configures a go-mail client for a mailbox's SMTP account.
func NewSMTPClient(mb config.Mailbox) (*gomail.Client, error) {
	return newSMTPClient(mb, nil, defaultSMTPTimeout, nil)
}

// newSMTPClient is NewSMTPClient with the mailbox's long-lived OAuth2 token
// source (nil: a token is fetched for this connection only), the timeout of
// one command and, when hard is not nil, a connection whose deadline is set
// to "now" once hard is done: go-mail holds its client's lock while it
// waits for a reply, so neither the context nor Close can end that wait.
func newSMTPClient(mb config.Mailbox, tokens oauth2.TokenSource, timeout time.Duration, hard context.Context) (*gomail.Client, error) {
	sm := mb.SMTP
	tconf, err := tlsConfig(sm.Host, sm.CAFile)
	if err != nil {
		return nil, err
	}
	opts := []gomail.Option{
		gomail.WithPort(sm.Port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(tconf),
	}
	if sm.HELO != "" {
		opts = append(opts, gomail.WithHELO(sm.HELO))
	}
	switch {
	case sm.TLS == config.TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case sm.TLS == config.TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case hard != nil:
		// Implicit TLS over our own dialer: go-mail then sees a *tls.Conn
		// (its TLS state counts as encrypted for AUTH). The policy only
		// applies when the server offers STARTTLS, which a server does
		// not over implicit TLS (RFC 8314 §3.3).
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithSSL())
	}
	if hard != nil {
		opts = append(opts, gomail.WithDialContextFunc(hardDialer(hard, timeout, sm.TLS != config.TLSNone && sm.TLS != config.TLSStartTLS, tconf)))
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
	data := textData(r.snap.cfg, r.mb)
	data.Reference = e.Reference.String()
	data.Received = e.Message.Received.In(r.snap.cfg.Location)
	data.Subject = e.Message.Subject
	data.Attachments = e.Message.Attachments
	data.FollowUp = e.FollowUp
	// Only the full kind decided at registration repeats the sender's text; anything
	// else (the minimal kind, a record from before it was stored) does not (issue 8).
	data.Minimal = e.Message.Ack.Echo != ticket.EchoFull
	out, err := r.snap.tmpl.Render(mc.Language, data)
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
	m.SetDateWithValue(r.now())
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
	m.SetGenHeader(LoopHeader, r.tune.InstanceID)
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

// hardDialer dials connections whose deadline becomes "now" once hard is
// done, so that a command waiting for a reply ends then (the shutdown
// grace period bounds the exit, issue 9). With implicitTLS the connection
// is wrapped in TLS (RFC 8314 §3.3).
func hardDialer(hard context.Context, timeout time.Duration, implicitTLS bool, tconf *tls.Config) gomail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{Timeout: timeout}
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		hc := &hardConn{Conn: raw, hard: hard}
		hc.stop = context.AfterFunc(hard, func() { _ = raw.SetDeadline(time.Now()) })
		if !implicitTLS {
			return hc, nil
		}
		tc := tls.Client(hc, tconf)
		if err := tc.HandshakeContext(ctx); err != nil {
			tc.Close()
			return nil, err
		}
		return tc, nil
	}
}

// hardConn is a connection that no deadline outlives its hard context.
type hardConn struct {
	net.Conn
	hard context.Context
	stop func() bool
}

func (c *hardConn) clamp(t time.Time) time.Time {
	if c.hard.Err() != nil {
		return time.Now()
	}
	return t
}

func (c *hardConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *hardConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.clamp(t)) }
func (c *hardConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.clamp(t)) }

func (c *hardConn) Close() error {
	c.stop()
	return c.Conn.Close()
}
