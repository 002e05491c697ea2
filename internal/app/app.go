package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/clerkgate"
	"github.com/intake-office/intake/internal/gcfloor"
	"github.com/intake-office/intake/internal/worknice"
	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/templates"
	"github.com/intake-office/intake/ticket"
	"github.com/intake-office/intake/web"
)

// Options configure Run.
type Options struct {
	// Daemon is passed to intake.New; Run fills in Config, Store, Templates
	// and Search. Daemon.Logger must be set; Daemon.ConfigPath is the file
	// a signal on Reload reads again.
	Daemon intake.Options
	// Reload: each value received reads Daemon.ConfigPath again (SIGHUP).
	// nil: no reload by signal.
	Reload <-chan os.Signal
	// RequireSearch makes a missing full-text index an error; by default
	// intake then runs without full-text search (the index is derived data).
	RequireSearch bool
	// Prepare, when set, runs with the opened register before the daemon
	// starts (the demo creates its login there).
	Prepare func(store *ticket.Store) error
	// Started, when set, runs once the listeners are bound, in its own
	// goroutine while the daemon runs. An error from it stops the daemon
	// and is returned by Run.
	Started func(ctx context.Context) error
}

// OpenSearch opens the full-text index in data_dir/index.
func OpenSearch(cfg *config.Config, store *ticket.Store, log *slog.Logger) (*search.Index, error) {
	return search.OpenWith(filepath.Join(cfg.DataDir, "index"), search.Options{Log: log, Source: intake.SearchSource(store)})
}

// Run opens the register of cfg and runs the daemon with its web interface
// and admin endpoints until ctx ends.
func Run(ctx context.Context, cfg *config.Config, o Options) error {
	log := o.Daemon.Logger
	if log == nil {
		return errors.New("app: no logger")
	}
	store, err := ticket.Open(cfg.DataDir, ticket.Options{})
	if errors.Is(err, ticket.ErrLocked) {
		return fmt.Errorf("the register in %s is in use by another intake process", cfg.DataDir)
	}
	if err != nil {
		return fmt.Errorf("open register: %w", err)
	}
	defer store.Close()
	defer keepHeapFloor(log)()
	if store.RawPlacement != nil {
		log.Warn("raw mails not placed apart: they work as before, only slower where ext4 has no journal", "err", store.RawPlacement)
	}
	if store.MigrationBackup != "" {
		log.Warn("register upgraded to a new schema; the old version is kept beside it", "backup", store.MigrationBackup)
	}
	ix, err := OpenSearch(cfg, store, log)
	switch {
	case err != nil && o.RequireSearch:
		return fmt.Errorf("open search index: %w", err)
	case err != nil:
		// The full-text index is derived data: without it intake still runs.
		log.Error("search index unavailable: running without full-text search", "err", err)
	default:
		defer ix.Close()
		o.Daemon.Search = ix
	}
	tmpl, err := templates.Load(cfg.TemplatesDir)
	if err != nil {
		return fmt.Errorf("load templates: %w", err)
	}
	if o.Prepare != nil {
		if err := o.Prepare(store); err != nil {
			return err
		}
	}
	o.Daemon.Config, o.Daemon.Store, o.Daemon.Templates = cfg, store, tmpl
	// Clerks first (issue 12): the mail work steps aside while the web server
	// answers a clerk.
	var clerks *clerkgate.Gate
	if cfg.Web.Listen != "" {
		clerks = clerkgate.New(clerkgate.Options{})
		o.Daemon.Clerks = clerks
	}
	d, err := intake.New(o.Daemon)
	if err != nil {
		return err
	}
	if cfg.Web.Listen != "" {
		lowerWork(cfg, log)
		stopWeb, err := StartWeb(cfg, d.Config, store, o.Daemon.Search, clerks, log)
		if err != nil {
			return err
		}
		defer stopWeb()
	}
	if cfg.KeepsRegisterInMemory() {
		// Started after lowerWork: its thread runs at work_nice. Stopped before the
		// register is closed (deferred after store.Close).
		defer keepInMemory(ctx, store, log)()
	} else {
		log.Info("register not kept in memory: keep_register_in_memory = false", "component", "register")
	}
	if cfg.Admin.Listen != "" {
		stopAdmin, err := StartAdmin(cfg.Admin.Listen, d.AdminHandler(), log)
		if err != nil {
			return err
		}
		defer stopAdmin()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if o.Reload != nil {
		go reloadOnSignal(ctx, d, o.Daemon.ConfigPath, o.Reload, log)
	}
	if o.Started != nil {
		go func() {
			if err := o.Started(ctx); err != nil {
				cancel(err)
			}
		}()
	}
	runErr := d.Run(ctx)
	if cause := context.Cause(ctx); runErr == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return runErr
}

// reloadOnSignal reads the configuration file again on every SIGHUP. An
// invalid file is refused with each of its problems logged at error level
// (file:line: key: message); the running configuration then stays.
func reloadOnSignal(ctx context.Context, d *intake.Daemon, path string, hup <-chan os.Signal, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if path == "" {
			log.Error("SIGHUP: no configuration file to read again")
			continue
		}
		log.Info("SIGHUP: reading the configuration again", "path", path)
		newCfg, err := config.Load(path)
		if err != nil {
			for _, p := range intake.ConfigProblems(err) {
				log.Error("reload refused: the running configuration stays", "problem", p)
			}
			continue
		}
		if err := d.Reload(newCfg); err != nil {
			log.Error("reload refused: the running configuration stays", "err", err)
		}
	}
}

// keepInMemory keeps the register's pages in memory until ctx ends or the returned stop
// is called (keep_register_in_memory); stop waits for it, so that the register can be
// closed after it. A refusal by the kernel is one warning, and intake runs on without.
func keepInMemory(ctx context.Context, store *ticket.Store, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	log = log.With("component", "register")
	go func() {
		defer close(done)
		switch err := store.KeepInMemory(ctx, ticket.MemoryOptions{Log: log}); {
		case err == nil:
		case errors.Is(err, errors.ErrUnsupported):
			log.Debug("register not kept in memory", "err", err)
		default:
			log.Warn("register not kept in memory: a lookup of an older case may wait for the disk", "err", err)
		}
	}()
	return func() { cancel(); <-done }
}

// StartAdmin serves /healthz, /readyz and /metrics on [admin] listen. They
// need no login: the address must be a loopback one or sit behind a proxy
// that restricts access (docs/configuration.md). The port is bound here, so
// a taken port fails the start.
func StartAdmin(addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin endpoints: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	stop = serveOn(srv, ln, log, "admin endpoints stopped")
	log.Info("admin endpoints listening", "addr", ln.Addr().String(), "paths", "/healthz /readyz /metrics")
	return stop, nil
}

// keepHeapFloor lets the heap grow to gcfloor.DefaultFloor before the garbage collector
// runs (package gcfloor) until the returned stop puts GOGC back, unless the environment
// sets GOGC: an admin's GOGC is kept as it is.
func keepHeapFloor(log *slog.Logger) (stop func()) {
	if gogc, set := os.LookupEnv("GOGC"); set {
		log.Debug("heap floor off: GOGC set in the environment", "GOGC", gogc)
		return func() {}
	}
	return gcfloor.Start(gcfloor.DefaultFloor)
}

// lowerWork puts the mail work below the clerks' requests (work_nice, package
// worknice). It runs before the web server answers its first request, so that no
// clerk's raised thread is lowered with the rest. Without the right to raise the
// clerks' threads it lowers nothing: that case is already logged by package web
// at the first request, so here it is only noted at debug level.
func lowerWork(cfg *config.Config, log *slog.Logger) {
	work, request := cfg.WorkNiceness(), cfg.Web.RequestNiceness()
	if work == 0 || request == 0 {
		return
	}
	switch err := worknice.Apply(work, request); {
	case err == nil:
		log.Info("mail work runs below the clerks' requests", "work_nice", work, "request_nice", request)
	case errors.Is(err, worknice.ErrRaiseRefused), errors.Is(err, worknice.ErrUnsupported):
		log.Debug("mail work left at the normal priority", "work_nice", work, "err", err)
	default:
		// The walk may have stopped part way: some threads lowered, others not.
		log.Warn("could not lower all of the mail work below the clerks' requests; some threads may run at work_nice, others at their old priority", "work_nice", work, "err", err)
	}
}

// StartWeb serves the clerks' web interface and JSON API on [web] listen.
// The port is bound here, so a taken port fails the start, not later.
// current returns the configuration in force after a reload (nil: cfg); clerks,
// when not nil, is told of every clerk's request (clerkgate).
func StartWeb(cfg *config.Config, current func() *config.Config, store *ticket.Store, ix *search.Index, clerks *clerkgate.Gate, log *slog.Logger) (stop func(), err error) {
	wo := web.Options{Store: store, Config: cfg, CurrentConfig: current, Logger: log.With("component", "web")}
	if clerks != nil {
		wo.Clerks = clerks
	}
	if ix != nil {
		wo.Search = ix
	}
	h, err := web.New(wo)
	if err != nil {
		return nil, fmt.Errorf("web interface: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Web.Listen)
	if err != nil {
		return nil, fmt.Errorf("web interface: listen on %s: %w", cfg.Web.Listen, err)
	}
	stop = serveOn(web.NewServer(cfg.Web.Listen, cfg.Web.RequestNiceness(), h, log), ln, log, "web interface stopped")
	log.Info("web interface listening", "url", web.URL(cfg))
	return stop, nil
}

// httpServer is an *http.Server or a *web.Server.
type httpServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// serveOn serves srv on ln until the returned stop is called; stop shuts
// the server down gracefully (5 s at most) and returns once Serve has
// returned. A Serve that fails on its own is logged with failMsg.
func serveOn(srv httpServer, ln net.Listener, log *slog.Logger, failMsg string) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(failMsg, "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
}
