package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/intake-office/intake/config"
)

// cmdSearchDrain measures what a clerk waits for while intake drains a
// backlog (issue 12): full-text searches and lookups by reference through
// the JSON API of "intake serve" on a register of -cases cases, one request
// at a time, during the drain and after it.
func cmdSearchDrain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("intake-bench searchdrain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cases := fs.Int("cases", 1_000_000, "cases in the prepared register and index")
	dir := fs.String("dir", "", "keep the prepared register and index in this folder and reuse them (default: a temporary one)")
	prepareOnly := fs.Bool("prepare-only", false, "only prepare -dir")
	n := fs.Int("n", 2000, "letters in the backlog the daemon drains")
	bigEvery := fs.Int("big-every", 20, "every k-th letter is large (0: none)")
	bigSize := fs.String("big-size", "200 KB", "size of a large letter")
	idle := fs.Duration("idle", 20*time.Second, "how long to measure once intake idles after the drain")
	only := fs.String("only", "", `send only "lookup" or only "fulltext" requests (default: the two in turn); "static" sends GET /static/style.css in the lookups' place: what any answer costs on this machine during the drain, the floor under a lookup`)
	pausedClerk := fs.Duration("paused-clerk", 0, "also a second clerk on a connection of its own: lookups this far apart, so that each one wakes intake's sleeping connection (0: none)")
	clerkPause := fs.Duration("clerk-pause", 0, "the clerk pauses this long between two requests, so that each one wakes intake's sleeping connection (0: never pauses)")
	requestNice := fs.String("request-nice", "", "web.request_nice of the daemon, e.g. 0 to compare without clerks first (default: intake's default)")
	workNice := fs.String("work-nice", "", "work_nice of the daemon, e.g. 0 to compare without it (default: intake's default; an intake before work_nice refuses the key)")
	keepInMemory := fs.String("keep-in-memory", "", `keep_register_in_memory of the daemon: "true" or "false" (default: intake's default; an intake before it refuses the key)`)
	clerkInBench := fs.Bool("clerk-in-bench", false, "the clerks ask from the bench's own process, beside the Dovecot it started, not each from a process in a session of its own (a clerk's browser runs on another machine)")
	asJSON := fs.Bool("json", false, "print JSON")
	bin := fs.String("intake", "", "the intake binary to measure (default: built from this module with go build)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *cases < 1 || *n < 1 || *bigEvery < 0 || *idle <= 0 || *pausedClerk < 0 || *clerkPause < 0 ||
		(*only != "" && *only != "lookup" && *only != "fulltext" && *only != "static") ||
		(*keepInMemory != "" && *keepInMemory != "true" && *keepInMemory != "false") {
		return exitUsage
	}
	for name, v := range map[string]string{"request-nice": *requestNice, "work-nice": *workNice} {
		if _, err := strconv.Atoi(v); v != "" && err != nil {
			fmt.Fprintf(stderr, "intake-bench: -%s: not a number: %s\n", name, v)
			return exitUsage
		}
	}
	size, err := config.ParseByteSize(*bigSize)
	if err != nil {
		fmt.Fprintln(stderr, "intake-bench: -big-size:", err)
		return exitUsage
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "intake-bench-searchdrain-")
		if err != nil {
			fmt.Fprintln(stderr, "intake-bench:", err)
			return exitFailure
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	ctx := context.Background()
	d, err := sdPrepare(ctx, *dir, *cases, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "intake-bench searchdrain:", err)
		return exitFailure
	}
	if *prepareOnly {
		return exitOK
	}
	exe, cleanup, code := prepareIntake(ctx, *bin, stderr)
	defer cleanup()
	if code != exitOK {
		return code
	}
	rep, err := sdRun(ctx, sdParams{n: *n, bigEvery: *bigEvery, bigSize: int64(size), idle: *idle, exe: exe, dir: *dir, only: *only, requestNice: *requestNice, workNice: *workNice, keepInMemory: *keepInMemory, pause: *pausedClerk, clerkPause: *clerkPause, clerkInBench: *clerkInBench}, d, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "intake-bench searchdrain:", err)
		return exitFailure
	}
	return printReport(stdout, stderr, *asJSON, rep, func() string { return formatSD(rep) })
}
