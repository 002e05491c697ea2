package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
)

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: intake config check [-offline | -roundtrip [-timeout 2m]] [FILE | -config FILE] | intake config example")
		return exitUsage
	}
	switch args[0] {
	case "check":
		return cmdConfigCheck(args[1:], stdout, stderr)
	case "example":
		_, _ = stdout.Write(config.Example)
		return exitOK
	default:
		fmt.Fprintf(stderr, "intake config: unknown subcommand %q\n", args[0])
		return exitUsage
	}
}

func cmdConfigCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("config check", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	offline := fs.Bool("offline", false, "only validate the file, do not connect")
	roundtrip := fs.Bool("roundtrip", false, "after the checks, send a test mail to each mailbox through its SMTP account, wait until it arrives in its folder and remove it")
	timeout := fs.Duration("timeout", 2*time.Minute, "with -roundtrip: how long to wait for the test mail of each mailbox")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	// The file may also be given as an argument: intake config check FILE.
	if len(pos) > 1 {
		fmt.Fprintln(stderr, "usage: intake config check [-offline | -roundtrip [-timeout 2m]] [FILE | -config FILE]")
		return exitUsage
	}
	if len(pos) == 1 {
		if flagSet(fs, "config") && *cfgPath != pos[0] {
			fmt.Fprintf(stderr, "intake config check: two files given (-config %s and %s); give one\n", *cfgPath, pos[0])
			return exitUsage
		}
		*cfgPath = pos[0]
	}
	cfg, ok := loadConfig(*cfgPath, stderr, false)
	if !ok {
		return exitFailure
	}
	fmt.Fprintf(stdout, "ok    %s: valid, %d mailbox(es)\n", cfg.Path, len(cfg.Mailboxes))
	printVerification(stdout, cfg)
	printWebTrust(stdout, cfg)
	printRegisterMemory(stdout, cfg)
	if *offline {
		if *roundtrip {
			fmt.Fprintln(stderr, "intake config check: -offline and -roundtrip exclude each other")
			return exitUsage
		}
		return exitOK
	}
	status := exitOK
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	connected := map[string]bool{}
	for _, mb := range cfg.Mailboxes {
		connected[mb.Name] = true
		for _, r := range intake.CheckMailbox(ctx, mb) {
			word := "ok  "
			if !r.OK {
				word = "FAIL"
				status = exitFailure
				connected[mb.Name] = false
			}
			fmt.Fprintf(stdout, "%s  %s %s %s: %s\n", word, r.Mailbox, r.Check, r.Target, r.Detail)
		}
	}
	if !*roundtrip {
		return status
	}
	for _, mb := range cfg.Mailboxes {
		if !connected[mb.Name] {
			status = exitFailure
			fmt.Fprintf(stdout, "FAIL  %s roundtrip: not attempted, a connection check above failed\n", mb.Name)
			continue
		}
		r := intake.Roundtrip(context.Background(), cfg, mb, intake.RoundtripOptions{Timeout: *timeout})
		word := "ok  "
		if !r.OK {
			word = "FAIL"
			status = exitFailure
		}
		fmt.Fprintf(stdout, "%s  %s roundtrip: %s\n", word, r.Mailbox, r.Detail)
	}
	return status
}
