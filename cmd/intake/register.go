package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/ticket"
)

// bbolt lets one process hold the register. The commands therefore either
// ask the running daemon over its socket or open the register themselves.

// daemonOrRegister returns a client of the running daemon, or — when no
// daemon holds the register — the register itself (the caller closes it).
// A daemon that holds the register but does not answer yet (it is
// starting) gets a few seconds.
func daemonOrRegister(dataDir string) (*intake.LocalClient, *ticket.Store, error) {
	sock := intake.SocketPath(dataDir)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := intake.DialLocal(sock); err == nil {
			return c, nil, nil
		}
		store, err := ticket.Open(dataDir, ticket.Options{Timeout: 200 * time.Millisecond})
		if err == nil {
			return nil, store, nil
		}
		if !errors.Is(err, ticket.ErrLocked) {
			return nil, nil, fmt.Errorf("open register: %w", err)
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("the register in %s is locked by a process that does not answer on %s", dataDir, sock)
		}
	}
}

// openRegister opens the register for a command that has no route through
// the daemon. When a running daemon holds it, it says so and what to do
// (hint, German then English) and reports false.
func openRegister(cfg *config.Config, stderr io.Writer, hintDE, hintEN string) (*ticket.Store, bool) {
	store, err := ticket.Open(cfg.DataDir, ticket.Options{Timeout: 200 * time.Millisecond})
	if errors.Is(err, ticket.ErrLocked) {
		fmt.Fprintf(stderr, "intake: Das Register in %s wird von einem laufenden intake benutzt; %s\n"+
			"intake: the register in %s is in use by a running intake; %s\n", cfg.DataDir, hintDE, cfg.DataDir, hintEN)
		return nil, false
	}
	if err != nil {
		fmt.Fprintln(stderr, "intake: open register:", err)
		return nil, false
	}
	return store, true
}
