package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/app"
)

// cmdReindex rebuilds the full-text index from the register, through the
// running daemon or, when none runs, directly.
func cmdReindex(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reindex", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	if _, err := parseArgs(fs, args); err != nil {
		return exitUsage
	}
	cfg, ok := loadConfig(*cfgPath, stderr, true)
	if !ok {
		return exitFailure
	}
	start := time.Now()
	c, store, err := daemonOrRegister(cfg.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if c != nil {
		n, err := c.Reindex()
		if err != nil {
			fmt.Fprintln(stderr, "intake:", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "%d messages indexed in %v (running daemon)\n", n, time.Since(start).Round(time.Millisecond))
		return exitOK
	}
	defer store.Close()
	ix, err := app.OpenSearch(cfg, store, newLogger(cfg.Log, stderr).With("cmd", "reindex"))
	if err != nil {
		fmt.Fprintln(stderr, "intake: open search index:", err)
		return exitFailure
	}
	defer ix.Close()
	n, err := intake.Reindex(context.Background(), store, ix)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%d messages indexed in %v\n", n, time.Since(start).Round(time.Millisecond))
	return exitOK
}
