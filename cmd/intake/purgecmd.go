package main

import (
	"fmt"
	"io"
	"time"

	"github.com/intake-office/intake/internal/app"
)

// cmdPurge deletes the mails and personal data of closed cases whose retention has
// ended (GDPR Art. 5(1)(e)); see ticket.Store.Purge. It opens the register itself, so
// the daemon must be stopped (the daemon sweeps daily on its own).
func cmdPurge(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("purge", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	dryRun := fs.Bool("dry-run", false, "only report what would be deleted")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 0 {
		fmt.Fprintln(stderr, "usage: intake purge [-dry-run] -config FILE")
		return exitUsage
	}
	cfg, ok := loadConfig(*cfgPath, stderr, true)
	if !ok {
		return exitFailure
	}
	retention := cfg.Retention()
	if len(retention) == 0 {
		fmt.Fprintln(stdout, "Kein Postfach hat eine Aufbewahrungsfrist (retention); nichts zu löschen.\n"+
			"No mailbox has a retention; nothing to delete.")
		return exitOK
	}
	store, ok := openRegister(cfg, stderr,
		"beenden Sie ihn (systemctl stop intake) oder überlassen Sie das Löschen seinem täglichen Lauf.",
		"stop it (systemctl stop intake) or rely on its daily retention sweep.")
	if !ok {
		return exitFailure
	}
	defer store.Close()
	rep, err := store.Purge(time.Now(), retention, *dryRun)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		if len(rep.Cases) == 0 {
			return exitFailure
		}
	}
	if !*dryRun && len(rep.Seqs) > 0 {
		if ix, ierr := app.OpenSearch(cfg, store, newLogger(cfg.Log, stderr).With("cmd", "purge")); ierr != nil {
			fmt.Fprintln(stderr, "intake: open search index (run intake reindex later):", ierr)
		} else {
			if derr := ix.Delete(rep.Seqs...); derr != nil {
				fmt.Fprintln(stderr, "intake: remove purged messages from the search index (run intake reindex):", derr)
			}
			ix.Close()
		}
	}
	verbDE, verbEN := "gelöscht", "purged"
	if *dryRun {
		verbDE, verbEN = "würden gelöscht", "would be purged"
	}
	fmt.Fprintf(stdout, "%d Vorgänge %s (%d Nachrichten, %d Rohmails; %d mit anderen Vorgängen geteilt und behalten)\n",
		len(rep.Cases), verbDE, len(rep.Seqs), rep.RawDeleted, rep.RawShared)
	fmt.Fprintf(stdout, "%d cases %s (%d messages, %d raw mails; %d shared with other cases and kept)\n",
		len(rep.Cases), verbEN, len(rep.Seqs), rep.RawDeleted, rep.RawShared)
	for _, r := range rep.Cases {
		fmt.Fprintln(stdout, r)
	}
	if err != nil {
		return exitFailure
	}
	return exitOK
}
