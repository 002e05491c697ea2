package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/intake-office/intake/internal/demo"
)

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", stderr)
	var o demo.Options
	fs.StringVar(&o.DataDir, "data", "", "keep the register in this folder (default: a temporary one)")
	fs.StringVar(&o.IMAPAddr, "imap", "", "IMAP listen address (default 127.0.0.1:1143)")
	fs.StringVar(&o.SMTPAddr, "smtp", "", "SMTP listen address (default 127.0.0.1:2525)")
	fs.StringVar(&o.WebAddr, "web", "", "web interface listen address (default 127.0.0.1:8080)")
	verbose := fs.Bool("v", false, "log what the daemon does")
	if _, err := parseArgs(fs, args); err != nil {
		return exitUsage
	}
	if *verbose {
		o.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if o.DataDir != "" {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			fmt.Fprintln(stderr, "intake:", err)
			return exitFailure
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo.Run(ctx, stdout, o); err != nil {
		fmt.Fprintln(stderr, "intake demo:", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, "intake demo beendet / stopped.")
	return exitOK
}
