package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"
	"golang.org/x/oauth2"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/intake/policy"
	"github.com/intake-office/intake/internal/clerkgate"
	"github.com/intake-office/intake/ticket"
)

// fetchChunk is how many new UIDs are fetched with one command.
const fetchChunk = 64

// register is what a watcher needs of the register (ticket.Store):
// the watermark of its folder, the raw mail files, the one-transaction
// registration and the lookups of the threading step (followup.go).
type register interface {
	Watermark(mailbox string, uidValidity uint32) (uint32, error)
	StoreRawUnsynced(r io.Reader, max int64) (sum string, size int64, err error)
	OpenRaw(sum string) (*os.File, error)
	SyncRaw(sums ...string) error
	RegisterBatch(ins []ticket.Incoming) ([]ticket.Registration, error)
	CaseOfMessage(mailbox, messageID string) (*ticket.Reference, error)
	Lookup(ref ticket.Reference) (*ticket.Case, error)
	CaseHasVerifiedSender(ref ticket.Reference, addr string) (bool, error)
	AckByID(id string) (*ticket.AckID, error)
	InterimOf(ref ticket.Reference) (*ticket.Interim, error)
}

// writeHealth hears whether a register write worked (registerHealth).
type writeHealth interface {
	failed(err error)
	ok()
}

// indexPoker is told that the register has new entries for the search
// index (indexer), with the text the watcher's parse already extracted, by
// Seq, so that the index need not read and parse the raw mail again.
type indexPoker interface {
	registered(texts map[uint64]string)
}

// watcher follows one mailbox's folder over IMAP.
type watcher struct {
	mb      *mailbox
	log     *slog.Logger
	snap    *snapshot // the configuration the watcher was started with
	reg     register
	now     func() time.Time // the clock
	tune    tuning
	health  writeHealth
	metrics *metrics
	index   indexPoker      // nil without a search index
	clerks  *clerkgate.Gate // nil: never steps aside

	lastValidity uint32
	warnedFlags  bool
	// selected: the current session got through login and SELECT.
	selected bool
	// rawKept holds the mail storeRaw stored last, when it was no larger than
	// keptRawMax, for its parse (run's goroutine only).
	rawKept bytes.Buffer
}

// run keeps a session alive until stop is cancelled, reconnecting on the
// schedule of reconnectBackoff.
func (w *watcher) run(stop, hard context.Context) {
	backoff := newReconnectBackoff(w.tune.ReconnectMin, w.tune.ReconnectMax, rand.Float64)
	for stop.Err() == nil {
		w.selected = false
		err := w.session(stop, hard)
		w.mb.update(func(s *MailboxStatus) { s.Connected = false })
		if stop.Err() != nil {
			return
		}
		var rwe *registerWriteError
		unwritable := errors.As(err, &rwe)
		switch {
		case unwritable:
			// Logged once for the whole run of failures, with what to do.
			w.health.failed(err)
		case err != nil:
			w.log.Warn("imap session ended", "err", err)
		}
		if err != nil {
			w.mb.update(func(s *MailboxStatus) { s.LastError = err.Error(); s.LastErrorAt = time.Now() })
		}
		if w.selected && !unwritable {
			// Login and SELECT worked: whatever ended the session, the
			// server was there, so the next attempt is a quick one.
			backoff.reset()
		}
		wait := backoff.next(time.Now())
		select {
		case <-stop.Done():
			return
		case <-time.After(wait):
		}
		w.mb.update(func(s *MailboxStatus) { s.Reconnects++ })
		w.metrics.reconnects.WithLabelValues(w.mb.cfg.Name).Inc()
	}
}

// guard closes the connection when the command it protects runs longer than
// d: go-imap v2 has no reply deadline (go-libs.md pitfall 3). The returned
// func disarms it.
func (w *watcher) guard(c *imapclient.Client, d time.Duration, what string) func() {
	t := time.AfterFunc(d, func() {
		w.log.Warn("imap command timed out, closing connection", "command", what, "after", d)
		c.Close()
	})
	return func() { t.Stop() }
}

// DialIMAP connects and logs in to a mailbox's IMAP server. events, when
// not nil, receives a signal whenever the server reports a new message count
// (EXISTS); the handler never blocks and never issues commands (pitfall 2).
func DialIMAP(mc config.Mailbox, events chan<- struct{}) (*imapclient.Client, error) {
	return dialIMAP(mc, events, nil)
}

// dialIMAP is DialIMAP with the mailbox's long-lived OAuth2 token source
// (nil: a token is fetched for this sign-in only).
func dialIMAP(mc config.Mailbox, events chan<- struct{}, tokens oauth2.TokenSource) (*imapclient.Client, error) {
	ic := mc.IMAP
	addr := net.JoinHostPort(ic.Host, strconv.Itoa(ic.Port))
	tconf, err := tlsConfig(ic.Host, ic.CAFile)
	if err != nil {
		return nil, err
	}
	opts := &imapclient.Options{
		WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader},
		Dialer:      &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second},
		TLSConfig:   tconf,
	}
	if events != nil {
		opts.UnilateralDataHandler = &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case events <- struct{}{}:
					default:
					}
				}
			},
		}
	}
	var c *imapclient.Client
	switch ic.TLS {
	case config.TLSNone:
		c, err = imapclient.DialInsecure(addr, opts)
	case config.TLSStartTLS:
		c, err = imapclient.DialStartTLS(addr, opts)
	default:
		c, err = imapclient.DialTLS(addr, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s (%s): %w", addr, tlsName(ic.TLS), err)
	}
	if ic.OAuth2 != nil {
		tok, err := signInToken(ic.OAuth2, tokens)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("imap sign-in to %s as %s: %w", addr, ic.Username, err)
		}
		t := time.AfterFunc(time.Minute, func() { c.Close() })
		err = c.Authenticate(imapSASL(c, ic.Username, tok.AccessToken))
		t.Stop()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("oauth2 sign-in to %s as %s: %w", addr, ic.Username, err)
		}
		return c, nil
	}
	pw, err := ic.Resolve()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("imap password: %w", err)
	}
	t := time.AfterFunc(time.Minute, func() { c.Close() })
	err = c.Login(ic.Username, pw).Wait()
	t.Stop()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("login to %s as %s: %w", addr, ic.Username, err)
	}
	return c, nil
}

func tlsName(m config.TLSMode) string {
	if m == "" {
		return string(config.TLSImplicit)
	}
	return string(m)
}

// session runs one IMAP connection: select, drain, wait, drain, ...
func (w *watcher) session(stop, hard context.Context) error {
	mc := w.mb.cfg
	events := make(chan struct{}, 1)
	c, err := dialIMAP(mc, events, w.mb.imapTokens)
	if err != nil {
		return err
	}
	defer c.Close()
	sessionDone := make(chan struct{})
	defer close(sessionDone)
	go func() {
		select {
		case <-hard.Done():
			c.Close()
		case <-sessionDone:
		}
	}()

	release := w.guard(c, w.tune.CommandTimeout, "SELECT")
	sel, err := c.Select(mc.IMAP.Folder, nil).Wait()
	release()
	if err != nil {
		return fmt.Errorf("select %q: %w", mc.IMAP.Folder, err)
	}
	if w.lastValidity != 0 && w.lastValidity != sel.UIDValidity {
		w.log.Warn("UIDVALIDITY changed: the folder is read again, duplicates are recognised by Message-ID",
			"old", w.lastValidity, "new", sel.UIDValidity)
	}
	w.lastValidity = sel.UIDValidity
	w.selected = true
	w.mb.update(func(s *MailboxStatus) { s.Connected = true; s.UIDValidity = sel.UIDValidity; s.LastError = "" })
	canKeyword := mc.IMAP.Keyword != "" && flagsAllow(sel.PermanentFlags, mc.IMAP.Keyword)
	if mc.IMAP.Keyword != "" && !canKeyword && !w.warnedFlags {
		w.warnedFlags = true
		w.log.Warn("server does not keep the keyword; registered mails are not marked", "keyword", mc.IMAP.Keyword)
	}
	s := &imapSession{w: w, c: c, uidValidity: sel.UIDValidity, canKeyword: canKeyword}
	w.log.Info("imap connected", "uid_validity", sel.UIDValidity, "messages", sel.NumMessages)
	canIdle := c.Caps().Has(imap.CapIdle) || c.Caps().Has(imap.CapIMAP4rev2)
	// The folder must be seen again within one check interval, twice over,
	// plus one command's time; else readiness reports folder_not_seen.
	interval := w.tune.Watchdog
	if !canIdle {
		interval = max(interval, mc.IMAP.PollInterval.Duration)
	}
	s.staleAfter = 2*interval + w.tune.CommandTimeout
	s.seen()

	if err := s.reconcile(); err != nil {
		return err
	}
	for {
		if err := s.drain(stop); err != nil {
			return err
		}
		if stop.Err() != nil {
			release := w.guard(c, 5*time.Second, "LOGOUT")
			_ = c.Logout().Wait()
			release()
			return nil
		}
		if canIdle {
			err = s.idle(stop, events)
		} else {
			err = s.poll(stop, events)
		}
		if err != nil {
			return err
		}
	}
}

// flagsAllow reports whether PERMANENTFLAGS lets us store keyword
// (RFC 3501 §7.1: "\*" means new keywords may be created).
func flagsAllow(perm []imap.Flag, keyword string) bool {
	for _, f := range perm {
		if f == imap.FlagWildcard || strings.EqualFold(string(f), keyword) {
			return true
		}
	}
	return false
}

type imapSession struct {
	w           *watcher
	c           *imapclient.Client
	uidValidity uint32
	canKeyword  bool
	// unregistered holds the INTERNALDATE of each mail of the chunk in
	// hand that is not registered yet (readiness and metrics).
	unregistered map[imap.UID]time.Time
	// staleAfter: see mailbox.staleAfter.
	staleAfter time.Duration
}

// seen records that the server just answered about the selected folder.
func (s *imapSession) seen() {
	s.w.mb.sawFolder(s.w.now(), s.staleAfter)
}

// publishUnregistered tells the mailbox the INTERNALDATE of the oldest mail
// seen but not yet registered (zero when none).
func (s *imapSession) publishUnregistered() {
	var oldest time.Time
	for _, t := range s.unregistered {
		if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	s.w.mb.setOldestUnregistered(oldest)
}

// idle waits with IDLE (RFC 2177) until the server reports a change, the
// watchdog interval passes (then a NOOP proves the connection alive) or stop.
func (s *imapSession) idle(stop context.Context, events <-chan struct{}) error {
	select {
	case <-events:
		return nil
	default:
	}
	w := s.w
	release := w.guard(s.c, w.tune.CommandTimeout, "IDLE")
	cmd, err := s.c.Idle()
	release()
	if err != nil {
		return fmt.Errorf("start IDLE: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(w.tune.Watchdog)
	defer timer.Stop()
	watchdog := false
	select {
	case <-events:
		// intake-bench measures intake's own latency from this line on.
		w.log.Debug("imap push")
	case <-stop.Done():
	case <-timer.C:
		watchdog = true
	case err := <-done:
		if err == nil {
			err = errors.New("connection closed")
		}
		return fmt.Errorf("IDLE ended: %w", err)
	}
	release = w.guard(s.c, w.tune.CommandTimeout, "DONE")
	defer release()
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("stop IDLE: %w", err)
	}
	if err := <-done; err != nil {
		return fmt.Errorf("stop IDLE: %w", err)
	}
	if watchdog {
		if err := s.checkFolder(); err != nil {
			return err
		}
	}
	s.seen()
	return nil
}

// errFolderReplaced ends a session whose folder was deleted and created
// anew (or otherwise got a new UIDVALIDITY) while it was selected.
var errFolderReplaced = errors.New("the folder was replaced (new UIDVALIDITY); selecting it again")

// checkFolder selects the folder again and compares its UIDVALIDITY.
// Dovecot tells a session nothing when its selected folder is deleted and
// recreated: IDLE stays silent, and NOOP and even STATUS answer from the
// old, now broken, view. SELECT opens the folder by name (RFC 9051 §6.3.2:
// it first closes the selected one) and so sees the new one.
func (s *imapSession) checkFolder() error {
	folder := s.w.mb.cfg.IMAP.Folder
	release := s.w.guard(s.c, s.w.tune.CommandTimeout, "SELECT (check)")
	defer release()
	sel, err := s.c.Select(folder, nil).Wait()
	if err != nil {
		return fmt.Errorf("select %q again: %w", folder, err)
	}
	if sel.UIDValidity != s.uidValidity {
		return fmt.Errorf("select %q: UIDVALIDITY %d, was %d: %w", folder, sel.UIDValidity, s.uidValidity, errFolderReplaced)
	}
	return nil
}

// poll is the fallback for servers without IDLE: a NOOP every poll_interval.
func (s *imapSession) poll(stop context.Context, events <-chan struct{}) error {
	t := time.NewTimer(s.w.mb.cfg.IMAP.PollInterval.Duration)
	defer t.Stop()
	select {
	case <-stop.Done():
		return nil
	case <-events:
		return nil
	case <-t.C:
	}
	release := s.w.guard(s.c, s.w.tune.CommandTimeout, "NOOP")
	defer release()
	if err := s.c.Noop().Wait(); err != nil {
		return fmt.Errorf("NOOP: %w", err)
	}
	release()
	if err := s.checkFolder(); err != nil {
		return err
	}
	s.seen()
	return nil
}

// searchUIDs returns the UIDs matching criteria, ascending.
func (s *imapSession) searchUIDs(criteria *imap.SearchCriteria) ([]imap.UID, error) {
	release := s.w.guard(s.c, s.w.tune.CommandTimeout, "UID SEARCH")
	defer release()
	data, err := s.c.UIDSearch(criteria, nil).Wait()
	if err != nil {
		return nil, err
	}
	uids := data.AllUIDs()
	slices.Sort(uids)
	return uids, nil
}

// reconcile marks mails that were registered but whose marking was lost
// (a crash between the commit and the STORE/MOVE).
func (s *imapSession) reconcile() error {
	mc := s.w.mb.cfg
	if !s.canKeyword && mc.IMAP.MoveTo == "" {
		return nil
	}
	wm, err := s.w.reg.Watermark(mc.Name, s.uidValidity)
	if err != nil || wm == 0 {
		return err
	}
	var upto imap.UIDSet
	upto.AddRange(1, imap.UID(wm))
	crit := &imap.SearchCriteria{UID: []imap.UIDSet{upto}}
	if s.canKeyword {
		crit.NotFlag = []imap.Flag{imap.Flag(mc.IMAP.Keyword)}
	}
	uids, err := s.searchUIDs(crit)
	if err != nil {
		return fmt.Errorf("search unmarked registered mails: %w", err)
	}
	if len(uids) == 0 {
		return nil
	}
	var movable []imap.UID
	if mc.IMAP.MoveTo != "" {
		// Oversize mails stay on the server (they are registered from their
		// headers only).
		crit.Smaller = int64(s.w.snap.cfg.MaxMessageSize) + 1
		if movable, err = s.searchUIDs(crit); err != nil {
			return fmt.Errorf("search unmarked registered mails: %w", err)
		}
	}
	s.w.log.Info("marking registered mails left unmarked", "count", len(uids))
	return s.mark(uids, movable)
}

// fetchMeta is what a first, cheap FETCH tells about a new message.
type fetchMeta struct {
	size     int64
	received time.Time
}

// drain registers every message above the watermark, in UID order.
func (s *imapSession) drain(stop context.Context) error {
	w := s.w
	mc := w.mb.cfg
	for stop.Err() == nil {
		wm, err := w.reg.Watermark(mc.Name, s.uidValidity)
		if err != nil {
			return fmt.Errorf("read watermark: %w", err)
		}
		var above imap.UIDSet
		above.AddRange(imap.UID(wm+1), 0)
		all, err := s.searchUIDs(&imap.SearchCriteria{UID: []imap.UIDSet{above}})
		if err != nil {
			return fmt.Errorf("search new mails: %w", err)
		}
		s.seen()
		// "n:*" always matches the highest UID (RFC 3501 §6.4.8), so filter.
		uids := slices.DeleteFunc(all, func(u imap.UID) bool { return uint32(u) <= wm })
		if len(uids) == 0 {
			clear(s.unregistered)
			s.publishUnregistered()
			return nil
		}
		for len(uids) > 0 && stop.Err() == nil {
			n := min(len(uids), fetchChunk)
			if err := s.fetchChunk(stop, uids[:n]); err != nil {
				return err
			}
			uids = uids[n:]
		}
	}
	return nil
}

// fetchChunk fetches, registers and then marks a few UIDs.
func (s *imapSession) fetchChunk(stop context.Context, uids []imap.UID) error {
	w := s.w
	release := w.guard(s.c, w.tune.CommandTimeout, "UID FETCH (meta)")
	msgs, err := s.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
		UID: true, RFC822Size: true, InternalDate: true,
	}).Collect()
	release()
	if err != nil {
		return fmt.Errorf("fetch sizes: %w", err)
	}
	meta := make(map[imap.UID]fetchMeta, len(msgs))
	s.unregistered = make(map[imap.UID]time.Time, len(msgs))
	for _, m := range msgs {
		meta[m.UID] = fetchMeta{size: m.RFC822Size, received: m.InternalDate}
		s.unregistered[m.UID] = m.InternalDate
	}
	s.publishUnregistered()
	limit := int64(w.snap.cfg.MaxMessageSize)
	var whole, oversize []imap.UID
	for _, u := range uids {
		m, ok := meta[u]
		if !ok {
			continue // expunged meanwhile
		}
		if limit > 0 && m.size > limit {
			oversize = append(oversize, u)
		} else {
			whole = append(whole, u)
		}
	}
	var marked, movable []imap.UID
	if len(whole) > 0 {
		done, err := s.fetchBodies(stop, whole, meta, false)
		marked = append(marked, done...)
		movable = append(movable, done...)
		if err != nil {
			s.markBestEffort(marked, movable)
			return err
		}
	}
	if len(oversize) > 0 && stop.Err() == nil {
		done, err := s.fetchBodies(stop, oversize, meta, true)
		marked = append(marked, done...)
		if err != nil {
			s.markBestEffort(marked, movable)
			return err
		}
	}
	slices.Sort(marked)
	return s.mark(marked, movable)
}

func (s *imapSession) markBestEffort(marked, movable []imap.UID) {
	if err := s.mark(marked, movable); err != nil {
		s.w.log.Debug("marking after an error failed", "err", err)
	}
}

// Group commit: the registrations of up to batchMails mails (or batchBytes
// of raw mail) are made durable together, one fsync per file in parallel
// and one bbolt commit, instead of one commit per mail.
const (
	batchMails = 32
	batchBytes = 16 << 20
)

// fetchBodies streams BODY.PEEK[] (or only the header, for oversize mails)
// of uids, storing each raw mail as it arrives, and registers them in
// batches. It returns the UIDs registered.
func (s *imapSession) fetchBodies(stop context.Context, uids []imap.UID, meta map[imap.UID]fetchMeta, headerOnly bool) ([]imap.UID, error) {
	w := s.w
	section := &imap.FetchItemBodySection{Peek: true}
	if headerOnly {
		section.Specifier = imap.PartSpecifierHeader
	}
	var total int64
	for _, u := range uids {
		total += meta[u].size
	}
	// Generous: five minutes per command plus a second per megabyte.
	release := w.guard(s.c, 5*time.Minute+time.Duration(total>>20)*time.Second, "UID FETCH (body)")
	defer release()
	cmd := s.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
		UID: true, BodySection: []*imap.FetchItemBodySection{section},
	})
	var (
		done         []imap.UID
		pending      []prepared
		pendingBytes int64
		firstErr     error
	)
	flush := func() {
		if len(pending) == 0 || firstErr != nil {
			return
		}
		if err := w.registerBatch(pending); err != nil {
			firstErr = err
		} else {
			for _, pm := range pending {
				done = append(done, imap.UID(pm.in.Message.UID))
				delete(s.unregistered, imap.UID(pm.in.Message.UID))
			}
			s.publishUnregistered()
			// Let the acknowledgements keep pace (ackflow.go).
			if d := w.mb.flow.pace(stop, flowBacklog, flowMaxWait); d > 0 {
				w.metrics.paced.WithLabelValues(w.mb.cfg.Name).Add(d.Seconds())
			}
		}
		pending, pendingBytes = pending[:0], 0
	}
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		// Clerks first: while a clerk's request is answered, the next mail waits
		// (clerkgate; its bounds keep the drain going).
		w.metrics.stepAside(w.mb.cfg.Name, w.clerks.Wait(stop))
		var uid imap.UID
		var sum string
		var size int64
		var kept []byte
		var rawErr error
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
			case imapclient.FetchItemDataBodySection:
				if it.Literal == nil || firstErr != nil {
					continue // the client discards what is not read
				}
				sum, size, kept, rawErr = w.storeRaw(it.Literal)
			}
		}
		if uid == 0 || firstErr != nil {
			continue
		}
		if rawErr != nil {
			flush()
			if firstErr == nil {
				firstErr = rawErr
			}
			continue
		}
		if sum == "" {
			continue // the server sent no body for it (expunged meanwhile)
		}
		m := meta[uid]
		if m.size > 0 {
			size = m.size
		}
		pm, err := w.prepare(uint32(uid), s.uidValidity, m.received, sum, kept, size, headerOnly)
		if err != nil {
			flush()
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		pending = append(pending, pm)
		pendingBytes += size
		if len(pending) >= batchMails || pendingBytes >= batchBytes {
			flush()
		}
	}
	flush()
	if err := cmd.Close(); err != nil && firstErr == nil {
		firstErr = fmt.Errorf("fetch bodies: %w", err)
	}
	return done, firstErr
}

// mark sets the keyword on the registered UIDs and moves the movable ones,
// as configured. Only ever called after the register's commit (invariant 4).
func (s *imapSession) mark(registered, movable []imap.UID) error {
	mc := s.w.mb.cfg
	if len(registered) == 0 {
		return nil
	}
	if s.canKeyword {
		release := s.w.guard(s.c, s.w.tune.CommandTimeout, "UID STORE")
		err := s.c.Store(imap.UIDSetNum(registered...), &imap.StoreFlags{
			Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.Flag(mc.IMAP.Keyword)},
		}, nil).Close()
		release()
		if err != nil {
			return fmt.Errorf("store keyword %s: %w", mc.IMAP.Keyword, err)
		}
	}
	if mc.IMAP.MoveTo != "" && len(movable) > 0 {
		if err := s.move(movable); err != nil {
			return err
		}
	}
	return nil
}

func (s *imapSession) move(uids []imap.UID) error {
	mc := s.w.mb.cfg
	release := s.w.guard(s.c, s.w.tune.CommandTimeout, "UID MOVE")
	defer release()
	_, err := s.c.Move(imap.UIDSetNum(uids...), mc.IMAP.MoveTo).Wait()
	var ierr *imap.Error
	if errors.As(err, &ierr) && ierr.Code == imap.ResponseCodeTryCreate {
		if err := s.c.Create(mc.IMAP.MoveTo, nil).Wait(); err != nil {
			return fmt.Errorf("create folder %q: %w", mc.IMAP.MoveTo, err)
		}
		_, err = s.c.Move(imap.UIDSetNum(uids...), mc.IMAP.MoveTo).Wait()
	}
	if err != nil {
		return fmt.Errorf("move to %q: %w", mc.IMAP.MoveTo, err)
	}
	return nil
}

// prepared is a mail ready for registration.
type prepared struct {
	in ticket.Incoming // in.Bounce is set when the mail is a bounce of one of our acknowledgements
	// text is the body text of the parse (mailparse.Message.Text, what the
	// search index holds); empty when the mail could not be parsed.
	text string
}

// prepare parses and decides one stored mail: kept when not nil (storeRaw), else the raw
// file of sum. A panic while doing so is recovered and the mail registered as malformed
// (invariant 6).
func (w *watcher) prepare(uid, uidValidity uint32, received time.Time, sum string, kept []byte, size int64, headerOnly bool) (pm prepared, err error) {
	if received.IsZero() {
		received = w.now()
	}
	base := ticket.Message{
		Mailbox: w.mb.cfg.Name, UIDValidity: uidValidity, UID: uid,
		Received: received, Size: size, RawSHA256: sum, Oversize: headerOnly,
	}
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("panic while reading a mail; registering it as malformed", "uid", uid, "panic", fmt.Sprint(p))
			pm, err = prepared{in: w.malformed(base, fmt.Sprintf("internal error: %v", p))}, nil
		}
	}()
	return w.decide(base, kept)
}

// keptRawMax bounds the mails storeRaw keeps in memory for their parse: most mails are
// far smaller, and a larger one is read back from its file, so that a watcher's buffer
// (watcher.rawKept, which grows by doubling) stays below twice this.
const keptRawMax = 1 << 20

// storeRaw stores the mail r as a raw file (ticket.Store.StoreRawUnsynced) and returns it
// as kept too, when it is no larger than keptRawMax, so that its parse reads it from
// memory and not back from the file just written: an open, reads and a close fewer per
// mail (issue 12). kept is valid until the next call. An error is the register's, as a
// failed copy into the store always was; a mail cut off before keptRawMax stores nothing.
func (w *watcher) storeRaw(r io.Reader) (sum string, size int64, kept []byte, err error) {
	w.rawKept.Reset()
	n, err := w.rawKept.ReadFrom(io.LimitReader(r, keptRawMax+1))
	if err != nil {
		return "", n, nil, &registerWriteError{fmt.Errorf("store raw mail: %w", err)}
	}
	src := io.Reader(bytes.NewReader(w.rawKept.Bytes()))
	if n > keptRawMax {
		src = io.MultiReader(src, r)
	}
	if sum, size, err = w.reg.StoreRawUnsynced(src, 0); err != nil {
		return "", size, nil, &registerWriteError{fmt.Errorf("store raw mail: %w", err)}
	}
	if n <= keptRawMax {
		kept = w.rawKept.Bytes()
	}
	return sum, size, kept, nil
}

// malformed is the registration of a mail the parser could not read.
func (w *watcher) malformed(msg ticket.Message, why string) ticket.Incoming {
	msg.Malformed = why
	return ticket.Incoming{
		Prefix: w.mb.cfg.Prefix, Location: w.snap.cfg.Location, Message: msg,
		Kind: ticket.KindMalformed, SuppressReason: string(policy.ReasonMalformed), AckDomain: w.mb.ackDomain,
	}
}

// decide parses the stored mail, kept when not nil, else its raw file, runs the policy
// and finds the case the mail continues. An error is the register's, not the mail's.
func (w *watcher) decide(msg ticket.Message, kept []byte) (prepared, error) {
	var raw io.Reader
	if kept != nil {
		raw = bytes.NewReader(kept)
	} else {
		f, err := w.reg.OpenRaw(msg.RawSHA256)
		if err != nil {
			return prepared{in: w.malformed(msg, "raw mail unreadable: "+err.Error())}, nil
		}
		defer f.Close()
		raw = f
	}
	// Not wrapped in a bufio.Reader: the parser reads through one of its own.
	parsed, err := mailparse.Parse(raw, mailparse.Limits{})
	if err != nil {
		return prepared{in: w.malformed(msg, err.Error())}, nil
	}
	fillMessage(&msg, parsed)
	dec := policy.Decide(parsed, w.mb.policy)
	if dec.Verified {
		msg.VerifiedSender, msg.VerifiedBy = dec.Recipient, dec.VerifiedBy
	}
	in := ticket.Incoming{
		Prefix: w.mb.cfg.Prefix, Location: w.snap.cfg.Location, Message: msg,
		Kind: ticket.KindCitizen, AckDomain: w.mb.ackDomain,
		Rate: rateRule(w.mb.cfg.Policy),
	}
	if dec.Automated {
		in.Kind = ticket.KindAutomated
	}
	th, err := w.thread(parsed, dec)
	if err != nil {
		return prepared{}, fmt.Errorf("find the case of uid %d: %w", msg.UID, err)
	}
	in.FollowUpOf, in.LinkTo = th.followUpOf, th.linkTo
	if th.bounce != nil {
		th.bounce.At = w.now()
		in.Bounce = th.bounce
	}
	switch {
	case !dec.Ack:
		in.SuppressReason = string(dec.Reason)
	case !w.mb.cfg.Ack.IsEnabled():
		in.SuppressReason = string(policy.ReasonAckDisabled)
	case w.now().Sub(msg.Received) > w.mb.cfg.Ack.MaxAge.Duration:
		// Backlog found on first connect, or a mail that waited on the
		// server while intake was down for longer than max_age.
		in.SuppressReason = string(policy.ReasonTooOld)
	default:
		in.AckRecipient = dec.Recipient
		in.AckEcho, in.AckEchoReason = AckEcho(w.mb.cfg.Ack.Echo, dec)
	}
	return prepared{in: in, text: parsed.Text}, nil
}

// rateRule is the RateRule of a mailbox's policy (config.Policy after ApplyDefaults).
func rateRule(pol config.Policy) *ticket.RateRule {
	return &ticket.RateRule{
		PerSenderLimit:      *pol.PerSenderLimit,
		FollowUpAck:         *pol.FollowUpAck,
		PerDomainLimit:      *pol.PerDomainLimit,
		LimitUnverified:     true,
		UnverifiedHourlyCap: *pol.UnverifiedHourlyCap,
	}
}

// AckEcho decides, at registration, which acknowledgement a mail gets (issue 8): the full
// one, which repeats the sender's subject and attachment names, only when [mailbox.ack]
// echo allows it for this sender; otherwise the minimal one, which carries no text the
// sender chose. reason is shown to the clerk.
func AckEcho(echo string, dec policy.Decision) (kind, reason string) {
	switch {
	case echo == config.EchoNever:
		return ticket.EchoMinimal, "echo = never"
	case echo == config.EchoAlways:
		return ticket.EchoFull, "echo = always"
	case dec.Verified:
		return ticket.EchoFull, "sender verified by " + dec.VerifiedBy
	}
	return ticket.EchoMinimal, "sender not verified"
}

// registerBatch makes the raw files durable, registers the mails in one
// transaction (which also marks the acknowledgements they report bounced)
// and wakes the responder when an acknowledgement became due.
func (w *watcher) registerBatch(batch []prepared) error {
	sums := make([]string, 0, len(batch))
	ins := make([]ticket.Incoming, 0, len(batch))
	for _, pm := range batch {
		sums = append(sums, pm.in.Message.RawSHA256)
		ins = append(ins, pm.in)
	}
	if err := w.reg.SyncRaw(sums...); err != nil {
		return &registerWriteError{err}
	}
	regs, err := w.reg.RegisterBatch(ins)
	if err != nil {
		return &registerWriteError{err}
	}
	w.health.ok()
	due := 0
	var texts map[uint64]string
	if w.index != nil {
		texts = make(map[uint64]string, len(regs))
	}
	for i, reg := range regs {
		in := ins[i]
		if reg.Duplicate {
			w.log.Info("mail already registered", "uid", in.Message.UID, "case", reg.Reference.String())
			continue
		}
		if texts != nil {
			texts[reg.Seq] = batch[i].text
		}
		w.mb.update(func(s *MailboxStatus) { s.Registered++ })
		w.metrics.countRegistered(w.mb.cfg.Name, string(in.Kind), reg.AckReason)
		attrs := []any{"uid", in.Message.UID, "case", reg.Reference.String(), "kind", string(in.Kind)}
		if !reg.NewCase {
			attrs = append(attrs, "follow_up", true)
		}
		if reg.AckReason != "" {
			attrs = append(attrs, "ack", "suppressed", "reason", reg.AckReason)
		} else {
			attrs = append(attrs, "ack", "pending")
			due++
		}
		w.log.Info("mail registered", attrs...)
		if b := in.Bounce; b != nil {
			switch {
			case reg.Bounced && b.Interim != nil:
				w.log.Warn("interim notice bounced", "case", reg.Reference.String(), "status", b.Status)
			case reg.Bounced:
				w.metrics.acksBounced.WithLabelValues(w.mb.cfg.Name).Inc()
				w.log.Warn("acknowledgement bounced", "case", reg.Reference.String(), "status", b.Status)
			default:
				w.log.Warn("mark acknowledgement bounced", "case", reg.Reference.String(), "err", reg.BounceErr)
			}
		}
	}
	if due > 0 {
		w.mb.flow.registered(due)
		w.mb.wake()
	}
	if w.index != nil {
		w.index.registered(texts)
	}
	return nil
}

// Limits of what is copied from a mail into its register entry; the raw mail
// keeps everything.
const (
	maxStoredRecipients = 20
	maxStoredIDs        = 20
)

// fillMessage copies the parsed header data into the register's message.
func fillMessage(msg *ticket.Message, p *mailparse.Message) {
	if len(p.From) > 0 {
		msg.From = p.From[0].Addr
		msg.FromName = p.From[0].Name
	}
	for _, list := range [][]mailparse.Address{p.To, p.Cc} {
		for _, a := range list {
			if len(msg.To) < maxStoredRecipients {
				msg.To = append(msg.To, a.Addr)
			}
		}
	}
	msg.Subject = p.Subject
	msg.Date = p.Date
	msg.MessageID = p.MessageID
	msg.InReplyTo = capList(p.InReplyTo, maxStoredIDs)
	msg.References = capList(p.References, maxStoredIDs)
	msg.Attachments = p.Attachments
}

// capList keeps the last n entries (the newest References are the nearest).
func capList(l []string, n int) []string {
	if len(l) > n {
		return l[len(l)-n:]
	}
	return l
}
