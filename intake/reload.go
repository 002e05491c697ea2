package intake

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/templates"
)

// ReloadResult says what a reload changed, by mailbox name.
type ReloadResult struct {
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Changed   []string `json:"changed"`
	Unchanged []string `json:"unchanged"`
}

// ErrReloadRefused marks a configuration Reload does not take over: the
// running one stays.
var ErrReloadRefused = errors.New("reload refused")

// Reload takes over a new, already validated configuration without a
// restart. Mailboxes that are new start; removed ones stop after the mail in
// hand; changed ones (any field of their [[mailbox]] table differs) stop and
// start again with the new settings; the others run on uninterrupted. A
// change of data_dir or timezone needs a restart and is refused
// (ErrReloadRefused), as is a templates_dir that does not load. A change of
// [office], max_message_size or templates_dir restarts every mailbox,
// because all of them use it. [log], [web], [admin] listen addresses and
// work_nice keep their old values until a restart.
func (d *Daemon) Reload(newCfg *config.Config) error {
	_, err := d.ReloadChanges(newCfg)
	return err
}

// ReloadChanges is Reload, also returning what changed.
func (d *Daemon) ReloadChanges(newCfg *config.Config) (ReloadResult, error) {
	var res ReloadResult
	if newCfg == nil {
		return res, fmt.Errorf("%w: no configuration", ErrReloadRefused)
	}
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()

	cur := d.snap.Load()
	old, tmpl := cur.cfg, cur.tmpl
	if filepath.Clean(newCfg.DataDir) != filepath.Clean(old.DataDir) {
		return res, fmt.Errorf("%w: data_dir changed from %q to %q: the register cannot move while the daemon runs; restart intake",
			ErrReloadRefused, old.DataDir, newCfg.DataDir)
	}
	if newCfg.Timezone != old.Timezone {
		return res, fmt.Errorf("%w: timezone changed from %q to %q: the year of running numbers depends on it; restart intake",
			ErrReloadRefused, old.Timezone, newCfg.Timezone)
	}
	if newCfg.TemplatesDir != old.TemplatesDir {
		t, err := templates.Load(newCfg.TemplatesDir)
		if err != nil {
			return res, fmt.Errorf("%w: load templates from %q: %v", ErrReloadRefused, newCfg.TemplatesDir, err)
		}
		tmpl = t
	}
	// Settings every watcher or responder reads from the daemon's config.
	all := !reflect.DeepEqual(old.Office, newCfg.Office) ||
		old.MaxMessageSize != newCfg.MaxMessageSize ||
		old.TemplatesDir != newCfg.TemplatesDir

	current := d.currentMailboxes()
	oldByName := make(map[string]*mailbox, len(current))
	for _, m := range current {
		oldByName[m.cfg.Name] = m
	}
	var (
		next    []*mailbox
		byName  = map[string]*mailbox{}
		toStart []*mailbox
		toStop  []*mailboxRun
	)
	for _, mc := range newCfg.Mailboxes {
		prev, ok := oldByName[mc.Name]
		var m *mailbox
		switch {
		case !ok:
			res.Added = append(res.Added, mc.Name)
			m = d.newMailbox(newCfg, mc)
			toStart = append(toStart, m)
		case all || !reflect.DeepEqual(prev.cfg, mc):
			res.Changed = append(res.Changed, mc.Name)
			m = d.newMailbox(newCfg, mc)
			// The counters go on; the connection state is the new session's.
			st := prev.snapshot()
			st.Connected, st.UIDValidity = false, 0
			m.status = st
			toStart = append(toStart, m)
			if r := d.runs[mc.Name]; r != nil {
				toStop = append(toStop, r)
			}
		default:
			res.Unchanged = append(res.Unchanged, mc.Name)
			m = prev
		}
		next = append(next, m)
		byName[mc.Name] = m
	}
	for _, m := range current {
		if _, ok := byName[m.cfg.Name]; ok {
			continue
		}
		res.Removed = append(res.Removed, m.cfg.Name)
		if r := d.runs[m.cfg.Name]; r != nil {
			toStop = append(toStop, r)
		}
	}

	if len(toStop) > 0 {
		d.log.Info("reload: stopping mailboxes after the mail in hand", "removed", res.Removed, "changed", res.Changed)
		d.stopMailboxes(toStop)
	}
	for _, name := range res.Removed {
		d.metrics.forget(name)
	}
	for _, name := range res.Added {
		d.metrics.prepare(name)
	}
	snap := newSnapshot(newCfg, tmpl)
	d.mu.Lock()
	d.snap.Store(snap)
	d.cap.setLimit(HourlyCap(newCfg))
	d.mailboxes, d.byName = next, byName
	d.mu.Unlock()

	if d.runCtx != nil && d.runCtx.Err() == nil && len(toStart) > 0 {
		for _, m := range toStart {
			d.startMailbox(snap, m)
		}
	}
	d.log.Info("configuration reloaded", "added", res.Added, "removed", res.Removed,
		"changed", res.Changed, "unchanged", len(res.Unchanged))
	return res, nil
}

// prepare creates the per-mailbox series that exist from the start, so that
// rate() and alerts see a 0 before the first event.
func (m *metrics) prepare(mailbox string) {
	m.acksSent.WithLabelValues(mailbox)
	m.acksFailed.WithLabelValues(mailbox)
	m.acksBounced.WithLabelValues(mailbox)
	m.reconnects.WithLabelValues(mailbox)
	m.paced.WithLabelValues(mailbox)
	m.interimSent.WithLabelValues(mailbox)
	m.interimFailed.WithLabelValues(mailbox)
}

// forget drops every series of a removed mailbox.
func (m *metrics) forget(mailbox string) {
	l := prometheus.Labels{"mailbox": mailbox}
	for _, v := range []*prometheus.CounterVec{m.registered, m.acksSent, m.acksSuppressed, m.acksFailed, m.acksBounced, m.reconnects, m.paced, m.interimSent, m.interimFailed} {
		v.DeletePartialMatch(l)
	}
}

// ConfigProblems lists why a configuration cannot be taken over, one line
// each: every file:line:key problem of a config.Errors, else the error.
func ConfigProblems(err error) []string {
	var errs config.Errors
	if errors.As(err, &errs) {
		out := make([]string, 0, len(errs))
		for _, e := range errs {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

// ReloadFromFile reads the configuration file again and reloads it; an
// invalid file leaves the running configuration as it is.
func (d *Daemon) ReloadFromFile(path string) (ReloadResult, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return ReloadResult{}, fmt.Errorf("%w: read %s: %w", ErrReloadRefused, path, err)
	}
	return d.ReloadChanges(cfg)
}
