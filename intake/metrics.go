package intake

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the daemon's Prometheus metrics. The registry belongs to the
// Daemon (no global registry): two daemons in one process, as in tests, do
// not share counters.
type metrics struct {
	reg *prometheus.Registry

	registered     *prometheus.CounterVec // mailbox, kind
	acksSent       *prometheus.CounterVec // mailbox
	acksSuppressed *prometheus.CounterVec // mailbox, reason
	acksFailed     *prometheus.CounterVec // mailbox
	acksBounced    *prometheus.CounterVec // mailbox
	acksHeld       *prometheus.CounterVec // mailbox, reason
	reconnects     *prometheus.CounterVec // mailbox
	paced          *prometheus.CounterVec // mailbox
	yielded        *prometheus.CounterVec // mailbox
	interimSent    *prometheus.CounterVec // mailbox
	interimFailed  *prometheus.CounterVec // mailbox
	oauthExpiry    *prometheus.GaugeVec   // mailbox, protocol
	oauthFailures  *prometheus.CounterVec // mailbox, protocol
	// registerWriteErrors counts failed writes of the register or a raw mail.
	registerWriteErrors prometheus.Counter
}

// newMetrics makes the daemon's metrics with the series of the named
// mailboxes prepared; state (nil: none) adds the gauges computed at scrape
// time.
func newMetrics(version string, mailboxes []string, state prometheus.Collector) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		registered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_mails_registered_total",
			Help: "Mails registered (duplicates not counted), by mailbox and kind (citizen, automated, malformed).",
		}, []string{"mailbox", "kind"}),
		acksSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_acks_sent_total",
			Help: "Acknowledgements accepted by the SMTP server.",
		}, []string{"mailbox"}),
		acksSuppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_acks_suppressed_total",
			Help: "Registered mails that get no acknowledgement, by policy reason code.",
		}, []string{"mailbox", "reason"}),
		acksFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_acks_failed_total",
			Help: "Acknowledgements given up (permanent SMTP failure or retries exhausted).",
		}, []string{"mailbox"}),
		acksHeld: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_acks_held_total",
			Help: "Times a due acknowledgement was held back at send time by a limit (RATE_UNVERIFIED: the unverified share of the hourly cap), by reason code.",
		}, []string{"mailbox", "reason"}),
		acksBounced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_acks_bounced_total",
			Help: "Acknowledgements that came back as a bounce.",
		}, []string{"mailbox"}),
		oauthExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "intake_oauth_token_expiry_timestamp_seconds",
			Help: "Unix time at which the current OAuth2 access token expires (alert when it comes near without a refresh).",
		}, []string{"mailbox", "protocol"}),
		oauthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_oauth_token_refresh_failures_total",
			Help: "Failed OAuth2 token fetches.",
		}, []string{"mailbox", "protocol"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_imap_reconnects_total",
			Help: "IMAP reconnect attempts after a session ended.",
		}, []string{"mailbox"}),
		paced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_registration_paced_seconds_total",
			Help: "Time registration waited for the acknowledgements of its mailbox (more than 100 due while the SMTP server takes them), like Postfix's in_flow_delay.",
		}, []string{"mailbox"}),
		yielded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_clerks_first_seconds_total",
			Help: "Time registration and acknowledgements of a mailbox stepped aside while clerks' requests were answered (at most half of each second).",
		}, []string{"mailbox"}),
		interimSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_interim_sent_total",
			Help: "Interim notices (Zwischennachrichten) accepted by the SMTP server.",
		}, []string{"mailbox"}),
		interimFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_interim_failed_total",
			Help: "Interim notices given up (permanent SMTP failure or retries exhausted).",
		}, []string{"mailbox"}),
		registerWriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "intake_register_write_errors_total",
			Help: "Failed writes of the register or of a raw mail (disk full, read-only file system); /readyz reports register_unwritable until a write works again.",
		}),
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "intake_build_info",
		Help: "Always 1; the version label names the running build.",
	}, []string{"version"})
	if version == "" {
		version = "unknown"
	}
	buildInfo.WithLabelValues(version).Set(1)
	m.reg.MustRegister(
		m.registered, m.acksSent, m.acksSuppressed, m.acksFailed, m.acksBounced, m.acksHeld, m.reconnects,
		m.paced, m.yielded, m.interimSent, m.interimFailed, m.oauthExpiry, m.oauthFailures, m.registerWriteErrors,
		buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if state != nil {
		m.reg.MustRegister(state)
	}
	// Series that exist from the start, so that rate() and alerts see a 0
	// before the first event.
	for _, name := range mailboxes {
		m.prepare(name)
	}
	return m
}

// stateCollector reports gauges computed at scrape time from the mailboxes'
// state and the register.
type stateCollector struct {
	now       func() time.Time  // the clock
	mailboxes func() []*mailbox // the mailboxes in force
	register  registerStats
	cap       *ackCap
	log       *slog.Logger

	connected, outboxDepth, outboxOldest, oldestUnregistered, capTripped, inMemory *prometheus.Desc
}

// registerStats is what the state gauges need of the register (ticket.Store).
type registerStats interface {
	OutboxStats(mailbox string) (n int, oldest time.Time, err error)
	KeptInMemory() int64
}

func newStateCollector(now func() time.Time, mailboxes func() []*mailbox, register registerStats, cap *ackCap, log *slog.Logger) *stateCollector {
	mb := []string{"mailbox"}
	return &stateCollector{
		now: now, mailboxes: mailboxes, register: register, cap: cap, log: log,
		connected: prometheus.NewDesc("intake_imap_connected",
			"1 while the mailbox's IMAP session is up, its folder selected and seen within its check interval, else 0.", mb, nil),
		outboxDepth: prometheus.NewDesc("intake_outbox_depth",
			"Acknowledgements waiting in the outbox (due or scheduled for a retry).", mb, nil),
		outboxOldest: prometheus.NewDesc("intake_outbox_oldest_seconds",
			"Age of the oldest mail whose acknowledgement waits in the outbox; 0 when empty.", mb, nil),
		oldestUnregistered: prometheus.NewDesc("intake_oldest_unregistered_seconds",
			"Age (by IMAP INTERNALDATE) of the oldest new mail seen but not yet registered, or the time since the folder was last seen when that is overdue; 0 when drained.", mb, nil),
		capTripped: prometheus.NewDesc("intake_ack_hourly_cap_tripped",
			"1 while the hourly acknowledgement cap holds acknowledgements back, else 0.", nil, nil),
		inMemory: prometheus.NewDesc("intake_register_in_memory_bytes",
			"Bytes of the register locked in memory (keep_register_in_memory); 0 when off or refused.", nil, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.connected
	ch <- c.outboxDepth
	ch <- c.outboxOldest
	ch <- c.oldestUnregistered
	ch <- c.capTripped
	ch <- c.inMemory
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, m := range c.mailboxes() {
		name := m.cfg.Name
		st := m.snapshot()
		// A watcher that has not seen its folder for too long counts as not
		// connected, and mail may have waited unseen since its last look.
		seen := m.folderNotSeen(now)
		oldest := m.oldestUnregistered()
		if !seen.IsZero() && (oldest.IsZero() || seen.Before(oldest)) {
			oldest = seen
		}
		ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, boolFloat(st.Connected && seen.IsZero()), name)
		ch <- prometheus.MustNewConstMetric(c.oldestUnregistered, prometheus.GaugeValue, ageSeconds(now, oldest), name)
		// Every entry, also those scheduled for a later retry.
		depth, oldest, err := c.register.OutboxStats(name)
		if err != nil {
			c.log.Error("metrics: read outbox", "mailbox", name, "err", err)
			ch <- prometheus.NewInvalidMetric(c.outboxDepth, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.outboxDepth, prometheus.GaugeValue, float64(depth), name)
		ch <- prometheus.MustNewConstMetric(c.outboxOldest, prometheus.GaugeValue, ageSeconds(now, oldest), name)
	}
	ch <- prometheus.MustNewConstMetric(c.capTripped, prometheus.GaugeValue, boolFloat(c.cap.isTripped()))
	ch <- prometheus.MustNewConstMetric(c.inMemory, prometheus.GaugeValue, float64(c.register.KeptInMemory()))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ageSeconds is now-t in seconds, 0 for a zero t (or one in the future).
func ageSeconds(now, t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return max(now.Sub(t).Seconds(), 0)
}

// stepAside counts the time a mailbox's mail work waited for clerks' requests.
func (m *metrics) stepAside(mailbox string, waited time.Duration) {
	if waited > 0 {
		m.yielded.WithLabelValues(mailbox).Add(waited.Seconds())
	}
}

// countRegistered counts one new registration and its ack decision.
func (m *metrics) countRegistered(mailbox, kind, suppressReason string) {
	m.registered.WithLabelValues(mailbox, kind).Inc()
	if suppressReason != "" {
		m.acksSuppressed.WithLabelValues(mailbox, suppressReason).Inc()
	}
}
