package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake/policy"
	"github.com/intake-office/intake/internal/clerkgate"
	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/templates"
	"github.com/intake-office/intake/ticket"
)

// LoopHeader is the header field every acknowledgement carries; a mail that
// carries it came from an intake instance and is never answered (rule S10).
const LoopHeader = "X-Intake-Loop"

// Options wires a Daemon. Config, Store and Templates are required; the
// durations are tuning knobs whose zero value means the production default.
type Options struct {
	Config    *config.Config
	Store     *ticket.Store
	Templates *templates.Set
	Logger    *slog.Logger
	// Search is the full-text index the daemon keeps following the
	// register; nil runs without one.
	Search *search.Index

	// InstanceID is written into the loop header of every acknowledgement.
	// Default: the office hostname.
	InstanceID string
	// Now returns the current time (tests move it).
	Now func() time.Time

	// RetryBackoff is the wait after the n-th failed delivery attempt of an
	// acknowledgement (the last entry repeats). Default 1m, 5m, 15m, 1h, 3h.
	RetryBackoff []time.Duration
	// GiveUpAfter ends retrying a temporary failure this long after the
	// mail's registration; the ack is then recorded as failed. Default 72h.
	GiveUpAfter time.Duration
	// ReconnectMin and ReconnectMax bound the IMAP reconnect backoff
	// (jitter included; see reconnectBackoff). Default 1s and 50s.
	ReconnectMin, ReconnectMax time.Duration
	// Watchdog is how long IDLE may run before it is stopped and a NOOP
	// proves the connection alive and the folder still the one selected.
	// Default DefaultFolderCheck (RFC 2177 §3 asks for less than 29
	// minutes; Dovecot tells an idling client nothing when its folder is
	// deleted and recreated, so the check must come often).
	Watchdog time.Duration
	// CommandTimeout bounds one IMAP command without a literal. Default 60s.
	CommandTimeout time.Duration
	// SMTPTimeout bounds each SMTP command of an acknowledgement. Default
	// 30s. Whatever it is, a stop ends a hanging command when the grace
	// period is over (a deadline on the connection).
	SMTPTimeout time.Duration
	// SMTPKeepOpen is how long an SMTP connection stays open after a burst of
	// acknowledgements, for the next burst. Default 5s.
	SMTPKeepOpen time.Duration
	// ShutdownGrace is how long the mail in hand may take after a stop
	// request before connections are closed. Default 20s.
	ShutdownGrace time.Duration
	// APISocket is the unix socket of the local API. "" means
	// data_dir/intake.sock, "-" means no local API.
	APISocket string
	// Version is the build version reported by intake_build_info.
	Version string
	// InterimPoll is how often a mailbox looks for interim notices a clerk asked for
	// while none is scheduled earlier. Default 1m.
	InterimPoll time.Duration
	// ConfigPath is the file the configuration was read from; the local
	// API's POST /v1/reload reads it again. "" disables that endpoint.
	ConfigPath string
	// Clerks counts the clerks' requests the web server is answering; the
	// watchers and responders step aside for them before each mail and each
	// acknowledgement (clerkgate, issue 12). nil: they never wait.
	Clerks *clerkgate.Gate
}

// Daemon runs the watchers, responders and the local API.
type Daemon struct {
	opts  Options
	tune  tuning
	store *ticket.Store
	log   *slog.Logger

	// snap is the configuration in force, swapped whole by Reload.
	// Watchers and responders never read it from here: each is handed the
	// snapshot in force when it was started.
	snap atomic.Pointer[snapshot]

	// mu guards mailboxes and byName, which Reload replaces.
	mu        sync.Mutex
	mailboxes []*mailbox
	byName    map[string]*mailbox
	cap       *ackCap
	indexer   *indexer // nil without a search index
	metrics   *metrics
	// regHealth is whether the register could be written last time
	// (shared with the views).
	regHealth *registerHealth

	// reloadMu serialises Reload with itself and with the start and the
	// end of Run; it guards runs, runCtx and hard.
	reloadMu sync.Mutex
	runs     map[string]*mailboxRun
	runCtx   context.Context // Run's ctx while Run runs, else nil
	hard     context.Context // Run's hard-stop context while Run runs
}

// snapshot is the configuration in force: the config, the templates it
// names and the reference prefixes of every mailbox. It is never changed
// after it is made; Reload swaps in a new one (Daemon.snap).
type snapshot struct {
	cfg      *config.Config
	tmpl     *templates.Set
	prefixes []string                // reference prefixes of every mailbox
	refs     *ticket.ReferenceFinder // finds references with those prefixes in a subject
}

func newSnapshot(cfg *config.Config, tmpl *templates.Set) *snapshot {
	s := &snapshot{cfg: cfg, tmpl: tmpl}
	for _, mc := range cfg.Mailboxes {
		s.prefixes = append(s.prefixes, mc.Prefix)
	}
	s.refs = ticket.NewReferenceFinder(s.prefixes)
	return s
}

// HourlyCap is the daemon-wide hourly cap of cfg (autoreply-rules.md R3):
// the smallest hourly_cap of its mailboxes. The cap counts the
// acknowledgements of all mailboxes together, so one limit must hold for
// all of them; the smallest is the one every mailbox's setting allows.
// config.DefaultHourlyCap without mailboxes.
func HourlyCap(cfg *config.Config) int {
	n := 0
	for _, mc := range cfg.Mailboxes {
		if c := mc.Policy.HourlyCap; c != nil && (n == 0 || *c < n) {
			n = *c
		}
	}
	if n == 0 {
		return config.DefaultHourlyCap
	}
	return n
}

// tuning are the daemon's timeouts and schedules: Options with the
// defaults filled in, fixed for the daemon's lifetime.
type tuning struct {
	InstanceID                 string
	RetryBackoff               []time.Duration
	GiveUpAfter                time.Duration
	ReconnectMin, ReconnectMax time.Duration
	Watchdog                   time.Duration
	CommandTimeout             time.Duration
	SMTPTimeout                time.Duration
	SMTPKeepOpen               time.Duration
	InterimPoll                time.Duration
}

// registerHealth tracks register write failures (a full disk, a read-only
// file system): one ERROR when they start, one INFO when a write works
// again, and readiness in between (issue 9, finding 7).
type registerHealth struct {
	log     *slog.Logger
	errors  prometheus.Counter // failed writes
	dataDir string             // named in the log; cannot change on a reload

	mu      sync.Mutex
	failing bool
	since   time.Time
}

// registerWriteError is a failure to write the register or a raw mail.
type registerWriteError struct{ err error }

func (e *registerWriteError) Error() string { return e.err.Error() }
func (e *registerWriteError) Unwrap() error { return e.err }

// failed counts a failed register write and logs the first of a run of
// them, with what to do.
func (h *registerHealth) failed(err error) {
	h.errors.Inc()
	h.mu.Lock()
	first := !h.failing
	if first {
		h.failing, h.since = true, time.Now()
	}
	h.mu.Unlock()
	if first {
		h.log.Error("the register cannot be written: free space (or fix the permissions) under data_dir; "+
			"intake keeps retrying and resumes by itself, unregistered mails stay on the IMAP server",
			"data_dir", h.dataDir, "err", err)
	}
}

// ok ends a run of register write failures.
func (h *registerHealth) ok() {
	h.mu.Lock()
	was, since := h.failing, h.since
	h.failing = false
	h.mu.Unlock()
	if was {
		h.log.Info("the register can be written again", "after", time.Since(since).Round(time.Second))
	}
}

func (d *Daemon) registerUnwritable() bool {
	d.regHealth.mu.Lock()
	defer d.regHealth.mu.Unlock()
	return d.regHealth.failing
}

// mailbox is the running state of one configured mailbox.
type mailbox struct {
	cfg        config.Mailbox
	ackDomain  string
	policy     policy.Settings
	wakeSender chan struct{}
	// OAuth2 token sources kept across connections (nil with passwords).
	imapTokens, smtpTokens oauth2.TokenSource

	mu     sync.Mutex
	status MailboxStatus
	// unregistered is the INTERNALDATE of the oldest new mail the watcher
	// has seen but not registered yet; zero when the folder is drained.
	unregistered time.Time
	// folderSeen is when the watcher last had an answer about its folder
	// (SELECT, a search, a NOOP); staleAfter is how long ago that may be
	// while the watcher works as it should (zero: not tracked yet).
	folderSeen time.Time
	staleAfter time.Duration

	// flow paces the watcher's registration to the responder's acks.
	flow ackFlow
}

// MailboxStatus is what the daemon knows about one mailbox right now.
type MailboxStatus struct {
	Name        string    `json:"name"`
	Connected   bool      `json:"connected"`
	UIDValidity uint32    `json:"uid_validity,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Registered  int       `json:"registered"`
	AcksSent    int       `json:"acks_sent"`
	Reconnects  int       `json:"reconnects"`
}

func (m *mailbox) update(f func(s *MailboxStatus)) {
	m.mu.Lock()
	f(&m.status)
	m.mu.Unlock()
}

func (m *mailbox) snapshot() MailboxStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

func (m *mailbox) setOldestUnregistered(t time.Time) {
	m.mu.Lock()
	m.unregistered = t
	m.mu.Unlock()
}

func (m *mailbox) oldestUnregistered() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unregistered
}

// sawFolder records that the watcher had an answer about its folder at t;
// staleAfter is how long it may take until the next one.
func (m *mailbox) sawFolder(t time.Time, staleAfter time.Duration) {
	m.mu.Lock()
	m.folderSeen, m.staleAfter = t, staleAfter
	m.mu.Unlock()
}

// folderNotSeen returns when the watcher last saw its folder if that is
// longer ago than it should be at now (a folder deleted under an idling
// session, a command that hangs); zero otherwise.
func (m *mailbox) folderNotSeen(now time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.folderSeen.IsZero() || !m.status.Connected || now.Sub(m.folderSeen) <= m.staleAfter {
		return time.Time{}
	}
	return m.folderSeen
}

// wake tells the responder that an acknowledgement may be due.
func (m *mailbox) wake() {
	select {
	case m.wakeSender <- struct{}{}:
	default:
	}
}

// New checks the options and prepares the daemon; it starts nothing.
func New(o Options) (*Daemon, error) {
	if o.Config == nil || o.Store == nil || o.Templates == nil {
		return nil, errors.New("intake: Config, Store and Templates are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.RetryBackoff) == 0 {
		o.RetryBackoff = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour}
	}
	if o.GiveUpAfter == 0 {
		o.GiveUpAfter = 72 * time.Hour
	}
	if o.ReconnectMin == 0 {
		o.ReconnectMin = time.Second
	}
	if o.ReconnectMax == 0 {
		o.ReconnectMax = 50 * time.Second
	}
	if o.Watchdog == 0 {
		o.Watchdog = DefaultFolderCheck
	}
	if o.CommandTimeout == 0 {
		o.CommandTimeout = time.Minute
	}
	if o.SMTPTimeout == 0 {
		o.SMTPTimeout = defaultSMTPTimeout
	}
	if o.SMTPKeepOpen == 0 {
		o.SMTPKeepOpen = defaultSMTPKeepOpen
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = 20 * time.Second
	}
	if o.InstanceID == "" {
		o.InstanceID = o.Config.Office.Hostname
		if o.InstanceID == "" {
			h, _ := os.Hostname()
			o.InstanceID = h
		}
	}
	d := &Daemon{opts: o, store: o.Store, log: o.Logger,
		byName: map[string]*mailbox{}, runs: map[string]*mailboxRun{}}
	d.tune = tuning{
		InstanceID: o.InstanceID, RetryBackoff: o.RetryBackoff, GiveUpAfter: o.GiveUpAfter,
		ReconnectMin: o.ReconnectMin, ReconnectMax: o.ReconnectMax, Watchdog: o.Watchdog,
		CommandTimeout: o.CommandTimeout, SMTPTimeout: o.SMTPTimeout, InterimPoll: o.InterimPoll,
		SMTPKeepOpen: o.SMTPKeepOpen,
	}
	d.snap.Store(newSnapshot(o.Config, o.Templates))
	// The pieces shared by every mailbox, each handed only what it uses.
	d.cap = newAckCap(o.Store, o.Now, o.Logger, d.wakeAll)
	d.cap.setLimit(HourlyCap(o.Config))
	names := make([]string, 0, len(o.Config.Mailboxes))
	for _, mc := range o.Config.Mailboxes {
		names = append(names, mc.Name)
	}
	d.metrics = newMetrics(o.Version, names,
		newStateCollector(o.Now, d.currentMailboxes, o.Store, d.cap, o.Logger))
	d.regHealth = &registerHealth{log: o.Logger, errors: d.metrics.registerWriteErrors, dataDir: o.Config.DataDir}
	if o.Search != nil {
		d.indexer = newIndexer(o.Store, o.Search, o.Logger)
		d.indexer.acksWaiting = d.acksWaiting
	}
	for _, mc := range o.Config.Mailboxes {
		m := d.newMailbox(o.Config, mc)
		d.mailboxes = append(d.mailboxes, m)
		d.byName[mc.Name] = m
	}
	return d, nil
}

// newMailbox prepares the running state of mailbox mc of configuration cfg.
func (d *Daemon) newMailbox(cfg *config.Config, mc config.Mailbox) *mailbox {
	return &mailbox{
		cfg:        mc,
		ackDomain:  AckDomain(mc),
		policy:     PolicySettings(cfg, mc, d.tune.InstanceID),
		wakeSender: make(chan struct{}, 1),
		status:     MailboxStatus{Name: mc.Name},
		imapTokens: d.tokenSource(mc.Name, "imap", mc.IMAP.OAuth2),
		smtpTokens: d.tokenSource(mc.Name, "smtp", mc.SMTP.OAuth2),
	}
}

// mailboxRun is the watcher and responder of one mailbox while they run.
type mailboxRun struct {
	mb         *mailbox
	cancel     context.CancelFunc // stop: finish the mail in hand
	cancelHard context.CancelFunc // close the connections
	done       chan struct{}      // closed when both goroutines returned
}

// startMailbox starts m's watcher and responder on snapshot s, handing
// each the pieces it depends on. Only called with reloadMu held while Run
// runs.
func (d *Daemon) startMailbox(s *snapshot, m *mailbox) {
	stop, cancel := context.WithCancel(d.runCtx)
	hard, cancelHard := context.WithCancel(d.hard)
	r := &mailboxRun{mb: m, cancel: cancel, cancelHard: cancelHard, done: make(chan struct{})}
	log := d.log.With("mailbox", m.cfg.Name)
	w := &watcher{mb: m, log: log, snap: s, reg: d.store, now: d.opts.Now, tune: d.tune,
		health: d.regHealth, metrics: d.metrics, clerks: d.opts.Clerks}
	if d.indexer != nil { // never a nil *indexer in a non-nil interface
		w.index = d.indexer
	}
	resp := &responder{mb: m, log: log, snap: s, outbox: d.store, cap: d.cap, now: d.opts.Now, tune: d.tune,
		metrics: d.metrics, health: d.regHealth, clerks: d.opts.Clerks}
	interim := &interimRunner{mb: m, log: log, snap: s, store: d.store, cap: d.cap, now: d.opts.Now, tune: d.tune,
		metrics: d.metrics}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); w.run(stop, hard) }()
	go func() { defer wg.Done(); resp.run(stop, hard) }()
	go func() { defer wg.Done(); interim.run(stop, hard) }()
	go func() {
		wg.Wait()
		cancel()
		cancelHard()
		close(r.done)
	}()
	d.runs[m.cfg.Name] = r
}

// wakeAll wakes the responder of every mailbox.
func (d *Daemon) wakeAll() {
	for _, m := range d.currentMailboxes() {
		m.wake()
	}
}

// stopMailboxes stops the given runs at once: the mail in hand is finished
// within ShutdownGrace, then the connections are closed. It returns when
// every goroutine has ended.
func (d *Daemon) stopMailboxes(runs []*mailboxRun) {
	for _, r := range runs {
		r.cancel()
	}
	grace := time.NewTimer(d.opts.ShutdownGrace)
	defer grace.Stop()
	for _, r := range runs {
		select {
		case <-r.done:
		case <-grace.C:
			d.log.Warn("grace period over: closing connections", "mailbox", r.mb.cfg.Name)
			for _, r := range runs {
				r.cancelHard()
			}
			<-r.done
		}
	}
	for _, r := range runs {
		<-r.done
		if d.runs[r.mb.cfg.Name] == r {
			delete(d.runs, r.mb.cfg.Name)
		}
	}
}

// AckDomain is the right-hand side of the Message-IDs of a mailbox's
// acknowledgements: a name no person's mail client uses, so that a Message-ID
// in it proves the mail is ours (rule S10).
func AckDomain(mb config.Mailbox) string {
	domain := mb.Address[strings.LastIndexByte(mb.Address, '@')+1:]
	return "intake." + strings.ToLower(domain)
}

// PolicySettings are the policy settings of one mailbox.
func PolicySettings(cfg *config.Config, mb config.Mailbox, instanceID string) policy.Settings {
	s := policy.Settings{
		LoopHeader:   LoopHeader,
		LoopID:       instanceID,
		EnvelopeFrom: EnvelopeFrom(mb),
	}
	if p := mb.Policy; p.RequireAddressed != nil {
		s.RequireAddressed = *p.RequireAddressed
		s.SubjectHeuristics = *p.SubjectHeuristics
		s.AuthservID = p.AuthservID
		s.RequireAuthenticated = *p.RequireAuthenticated
	}
	s.Verification = mb.Policy.Verification
	s.TrustedARCSealers = mb.Policy.TrustedARCSealers
	// Every office address of every mailbox counts as our own (S10): an
	// acknowledgement from one mailbox must never be answered by another.
	for _, m := range cfg.Mailboxes {
		s.OwnDomains = append(s.OwnDomains, AckDomain(m))
		if m.Name == mb.Name {
			continue
		}
		s.OwnAddresses = append(s.OwnAddresses, strings.ToLower(m.Address))
	}
	s.OfficeAddresses = append(s.OfficeAddresses, strings.ToLower(mb.Address))
	for _, a := range mb.Aliases {
		s.OfficeAddresses = append(s.OfficeAddresses, strings.ToLower(a))
	}
	return s
}

// EnvelopeFrom is the SMTP MAIL FROM of a mailbox's acknowledgements,
// lower-cased; "" is the null sender (RFC 3834 §3.3).
func EnvelopeFrom(mb config.Mailbox) string {
	return strings.ToLower(mb.EnvelopeSender())
}

// Status returns the state of every mailbox.
func (d *Daemon) Status() []MailboxStatus {
	d.mu.Lock()
	mbs := d.mailboxes
	d.mu.Unlock()
	out := make([]MailboxStatus, 0, len(mbs))
	for _, m := range mbs {
		out = append(out, m.snapshot())
	}
	return out
}

// Run starts everything and blocks until ctx is cancelled. Shutdown has two
// phases: cancelling ctx stops fetching and sending new work; the mail in
// hand is finished within ShutdownGrace, then every connection is closed.
func (d *Daemon) Run(ctx context.Context) error {
	hard, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()

	var api *localAPI
	if d.opts.APISocket != "-" {
		path := d.opts.APISocket
		if path == "" {
			path = SocketPath(d.currentConfig().DataDir)
		}
		var err error
		api, err = startLocalAPI(path, d.store, d, d.log)
		if err != nil {
			return fmt.Errorf("start local API: %w", err)
		}
	}

	var wg sync.WaitGroup
	if d.indexer != nil {
		wg.Add(1)
		go func() { defer wg.Done(); d.indexer.run(ctx) }()
	}
	if ret := d.currentConfig().Retention(); len(ret) > 0 {
		var ix interface{ Delete(seqs ...uint64) error }
		if d.opts.Search != nil { // never a nil *search.Index in a non-nil interface
			ix = d.opts.Search
		}
		wg.Add(1)
		go func() { defer wg.Done(); RunRetention(ctx, d.store, ix, ret, d.log.With("component", "retention")) }()
	}
	d.reloadMu.Lock()
	d.runCtx, d.hard = ctx, hard
	snap := d.snap.Load()
	for _, m := range d.currentMailboxes() {
		d.startMailbox(snap, m)
	}
	n := len(d.runs)
	d.reloadMu.Unlock()
	d.log.Info("intake running", "mailboxes", n)

	<-ctx.Done()
	d.log.Info("stopping: finishing the mail in hand", "grace", d.opts.ShutdownGrace)
	d.reloadMu.Lock()
	d.runCtx = nil // a Reload from now on starts nothing
	runs := make([]*mailboxRun, 0, len(d.runs))
	for _, r := range d.runs {
		runs = append(runs, r)
	}
	d.stopMailboxes(runs)
	d.reloadMu.Unlock()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.opts.ShutdownGrace):
		d.log.Warn("grace period over: stopping the search indexer")
		cancelHard()
		<-done
	}
	if api != nil {
		api.close()
	}
	d.log.Info("intake stopped")
	return nil
}

// Config returns the configuration in force; Reload replaces it. The value
// is never changed in place: a reload swaps in a new one.
func (d *Daemon) Config() *config.Config { return d.currentConfig() }

// currentConfig returns the configuration in force (Reload replaces it).
func (d *Daemon) currentConfig() *config.Config { return d.snap.Load().cfg }

// currentMailboxes returns a copy of the configured mailboxes.
// acksWaiting reports whether a mailbox's responder is sending acknowledgements
// that are due: the indexer leaves them the CPU.
func (d *Daemon) acksWaiting() bool {
	for _, m := range d.currentMailboxes() {
		if m.flow.waiting() {
			return true
		}
	}
	return false
}

func (d *Daemon) currentMailboxes() []*mailbox {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.mailboxes)
}
