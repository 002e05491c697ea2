package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/app"
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

	err := app.Run(ctx, cfg, app.Options{
		Daemon: intake.Options{Logger: log, Version: version(), ConfigPath: *cfgPath},
		Reload: hup,
	})
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	return exitOK
}
