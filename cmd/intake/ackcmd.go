package main

import (
	"fmt"
	"io"
	"time"

	"github.com/intake-office/intake/intake"
)

// cmdAck handles "intake ack resume": an admin lifts the hourly cap
// (autoreply-rules.md R3) before the hour has passed.
func cmdAck(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "resume" {
		fmt.Fprintln(stderr, "usage: intake ack resume -config FILE")
		return exitUsage
	}
	fs := newFlagSet("ack resume", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	if _, err := parseArgs(fs, args[1:]); err != nil {
		return exitUsage
	}
	cfg, ok := loadConfig(*cfgPath, stderr, true)
	if !ok {
		return exitFailure
	}
	c, store, err := daemonOrRegister(cfg.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if c != nil {
		if err := c.ResumeAcks(); err != nil {
			fmt.Fprintln(stderr, "intake:", err)
			return exitFailure
		}
		fmt.Fprintln(stdout, "Versand wieder aufgenommen / acknowledgements resumed (running daemon)")
		return exitOK
	}
	defer store.Close()
	if err := intake.ResumeAcksOffline(store, time.Now()); err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, "Versand wieder aufgenommen / acknowledgements resumed (takes effect when the daemon starts)")
	return exitOK
}
