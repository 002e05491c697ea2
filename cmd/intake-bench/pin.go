package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cmdPin keeps files in memory until interrupted: each is mapped read-only and its pages
// locked (mlock(2)). Beside a searchdrain run on a machine that pages out cold file pages
// (BENCHMARKS.md, "Where a lookup's milliseconds go now"), it shows what a register kept in
// memory would give the clerks' lookups, without a change to intake:
//
//	intake-bench pin /tmp/i12-sd1m/data/intake.db &
//	intake-bench searchdrain -n 2000 -dir /tmp/i12-sd1m -only lookup; kill %1
//
// Pages a file gains after the start are not locked. Locking needs CAP_IPC_LOCK or a
// large enough RLIMIT_MEMLOCK.
func cmdPin(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "intake-bench pin: name the files to keep in memory")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var mapped [][]byte
	defer func() {
		for _, b := range mapped {
			_ = unix.Munmap(b) // unlocks it too
		}
	}()
	for _, name := range fs.Args() {
		b, took, err := pinFile(name)
		if err != nil {
			fmt.Fprintf(stderr, "intake-bench pin: %v\n", err)
			return exitFailure
		}
		if b != nil {
			mapped = append(mapped, b)
		}
		fmt.Fprintf(stdout, "pinned %d bytes of %s in %v\n", len(b), name, took.Round(time.Millisecond))
	}
	<-ctx.Done()
	return exitOK
}

// pinFile maps name read-only and locks its pages in memory; an empty file maps nothing.
func pinFile(name string) ([]byte, time.Duration, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close() // the mapping stays
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if st.Size() == 0 {
		return nil, 0, nil
	}
	start := time.Now()
	b, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, 0, fmt.Errorf("map %s: %w", name, err)
	}
	if err := unix.Mlock(b); err != nil {
		_ = unix.Munmap(b)
		return nil, 0, fmt.Errorf("lock %s in memory: %w", name, err)
	}
	return b, time.Since(start), nil
}
