package intake

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultReadyMaxAge is the readiness threshold when the configuration
// gives none: a mailbox whose oldest unregistered mail waited longer is not
// ready.
const DefaultReadyMaxAge = 5 * time.Minute

// MailboxProblem is why one mailbox is not ready.
type MailboxProblem struct {
	Mailbox string `json:"mailbox"`
	// Reason is "not_connected", "folder_not_seen" or "registration_stalled".
	Reason string `json:"reason"`
	// OldestUnregisteredSeconds is the age of the oldest new mail not yet
	// registered (registration_stalled), or the time since the folder was
	// last seen (folder_not_seen: mail may wait that long unseen).
	OldestUnregisteredSeconds float64 `json:"oldest_unregistered_seconds,omitempty"`
	MaxAgeSeconds             float64 `json:"max_age_seconds,omitempty"`
}

// Readiness reasons.
const (
	ReasonNotConnected        = "not_connected"
	ReasonRegistrationStalled = "registration_stalled"
	// ReasonFolderNotSeen: connected, but the watcher has had no answer
	// about its folder for longer than its check interval allows.
	ReasonFolderNotSeen = "folder_not_seen"
	// ReasonRegisterUnwritable: the last write of the register failed (a
	// full disk); Mailbox is empty, the register serves every mailbox.
	ReasonRegisterUnwritable = "register_unwritable"
)

// DefaultFolderCheck is how often an idling watcher stops IDLE and checks
// its connection and folder with a NOOP: a folder deleted and recreated
// under an idling session is noticed within this time.
const DefaultFolderCheck = 10 * time.Second

// NotReady lists every mailbox that is not ready: not connected to its
// IMAP folder, or with a new mail left unregistered longer than [admin]
// ready_max_age. Empty means ready.
func (d *Daemon) NotReady() []MailboxProblem {
	maxAge := d.currentConfig().Admin.ReadyMaxAge.Duration
	if maxAge <= 0 {
		maxAge = DefaultReadyMaxAge
	}
	now := d.opts.Now()
	var out []MailboxProblem
	if d.registerUnwritable() {
		out = append(out, MailboxProblem{Reason: ReasonRegisterUnwritable})
	}
	for _, m := range d.currentMailboxes() {
		if !m.snapshot().Connected {
			out = append(out, MailboxProblem{Mailbox: m.cfg.Name, Reason: ReasonNotConnected})
			continue
		}
		if seen := m.folderNotSeen(now); !seen.IsZero() {
			out = append(out, MailboxProblem{Mailbox: m.cfg.Name, Reason: ReasonFolderNotSeen,
				OldestUnregisteredSeconds: now.Sub(seen).Seconds()})
			continue
		}
		if t := m.oldestUnregistered(); !t.IsZero() && now.Sub(t) > maxAge {
			out = append(out, MailboxProblem{
				Mailbox: m.cfg.Name, Reason: ReasonRegistrationStalled,
				OldestUnregisteredSeconds: now.Sub(t).Seconds(), MaxAgeSeconds: maxAge.Seconds(),
			})
		}
	}
	return out
}

// AdminHandler serves the operator endpoints without login: /healthz (the
// process runs), /readyz (every mailbox ready, else 503 with a JSON body
// naming the failing mailboxes) and /metrics (Prometheus text format). It
// must only be reachable from loopback or through a proxy that restricts
// access.
func (d *Daemon) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		problems := d.NotReady()
		body := struct {
			Ready     bool             `json:"ready"`
			Mailboxes []MailboxProblem `json:"mailboxes,omitempty"`
		}{Ready: len(problems) == 0, Mailboxes: problems}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !body.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		if err := json.NewEncoder(w).Encode(body); err != nil {
			d.log.Debug("write readyz response", "err", err)
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{d.log},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mux
}

// slogPrinter hands promhttp's errors to the daemon's logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Error("metrics: " + fmt.Sprint(v...)) }
