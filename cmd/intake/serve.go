package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/templates"
	"github.com/intake-office/intake/ticket"
	"github.com/intake-office/intake/web"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	if _, err := parseArgs(fs, args); err != nil {
		return exitUsage
	}
	cfg, ok := loadConfig(*cfgPath, stderr, false)
	if !ok {
		return exitFailure
	}
	log := newLogger(cfg.Log, stderr)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		s := <-sigs
		log.Info("signal received: stopping after the mail in hand", "signal", s.String())
		cancel()
		<-sigs
		log.Warn("second signal: exiting at once")
		os.Exit(exitFailure)
	}()

	if err := serve(ctx, cfg, intake.Options{Logger: log, Version: version(), ConfigPath: *cfgPath}, hup); err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	return exitOK
}

// openSearch opens the full-text index in data_dir/index.
func openSearch(cfg *config.Config, store *ticket.Store, log *slog.Logger) (*search.Index, error) {
	return search.OpenWith(filepath.Join(cfg.DataDir, "index"), search.Options{Log: log, Source: intake.SearchSource(store)})
}

// serve opens the register and runs the daemon until ctx ends. opts gets
// Config, Store and Templates filled in. Each signal on hup reads
// opts.ConfigPath again (see reloadOnSignal).
func serve(ctx context.Context, cfg *config.Config, opts intake.Options, hup <-chan os.Signal) error {
	store, err := ticket.Open(cfg.DataDir, ticket.Options{})
	if errors.Is(err, ticket.ErrLocked) {
		return fmt.Errorf("the register in %s is in use by another intake process", cfg.DataDir)
	}
	if err != nil {
		return fmt.Errorf("open register: %w", err)
	}
	defer store.Close()
	if store.MigrationBackup != "" {
		opts.Logger.Warn("register upgraded to a new schema; the old version is kept beside it", "backup", store.MigrationBackup)
	}
	// The full-text index is derived data: without it intake still runs.
	ix, err := openSearch(cfg, store, opts.Logger)
	if err != nil {
		opts.Logger.Error("search index unavailable: running without full-text search", "err", err)
	} else {
		defer ix.Close()
		opts.Search = ix
	}
	tmpl, err := templates.Load(cfg.TemplatesDir)
	if err != nil {
		return fmt.Errorf("load templates: %w", err)
	}
	opts.Config, opts.Store, opts.Templates = cfg, store, tmpl
	d, err := intake.New(opts)
	if err != nil {
		return err
	}
	if cfg.Web.Listen != "" {
		stopWeb, err := startWeb(cfg, store, opts.Search, opts.Logger)
		if err != nil {
			return err
		}
		defer stopWeb()
	}
	if cfg.Admin.Listen != "" {
		stopAdmin, err := startAdmin(cfg.Admin.Listen, d.AdminHandler(), opts.Logger)
		if err != nil {
			return err
		}
		defer stopAdmin()
	}
	go reloadOnSignal(ctx, d, opts.ConfigPath, hup, opts.Logger)
	return d.Run(ctx)
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

// startAdmin serves /healthz, /readyz and /metrics on [admin] listen. They
// need no login: the address must be a loopback one or sit behind a proxy
// that restricts access (docs/configuration.md). The port is bound here, so
// a taken port fails the start.
func startAdmin(addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
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
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("admin endpoints stopped", "err", err)
		}
	}()
	log.Info("admin endpoints listening", "addr", ln.Addr().String(), "paths", "/healthz /readyz /metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// startWeb serves the clerks' web interface and JSON API on [web] listen.
// The port is bound here, so a taken port fails the start, not later.
func startWeb(cfg *config.Config, store *ticket.Store, ix *search.Index, log *slog.Logger) (stop func(), err error) {
	wo := web.Options{Store: store, Config: cfg, Logger: log.With("component", "web")}
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
	srv := web.NewServer(cfg.Web.Listen, h, log)
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("web interface stopped", "err", err)
		}
	}()
	log.Info("web interface listening", "url", web.URL(cfg))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
