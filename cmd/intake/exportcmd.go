package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/ticket"
)

// cmdCaseExport writes one case with its raw mails and metadata.json as a zip archive
// (ticket.Store.ExportCase) for transfer into an e-file system, and records the export
// in the audit log.
func cmdCaseExport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("case export", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	out := fs.String("o", "", "output file (zip); - for standard output")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 || *out == "" {
		fmt.Fprintln(stderr, "usage: intake case export REF -o FILE -config FILE")
		return exitUsage
	}
	ref, err := ticket.ParseReference(pos[0])
	if err != nil {
		return badReference(stderr, pos[0], err)
	}
	cfg, ok := loadConfig(*cfgPath, stderr, true)
	if !ok {
		return exitFailure
	}
	store, ok := openRegister(cfg, stderr, "beenden Sie ihn zuerst.", "stop it first.")
	if !ok {
		return exitFailure
	}
	defer store.Close()
	if _, err := store.Lookup(ref); err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	// Recorded before the first byte is written: an export that breaks off
	// has still handed out mail.
	a := intake.ProcessActor(time.Now())
	if _, err := store.AppendAudit(a.NewAuditEntry(ticket.AuditExport, ref, "case export")); err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if *out == "-" {
		err = store.ExportCase(ref, stdout)
	} else {
		err = writeFileAtomic(*out, func(w io.Writer) error { return store.ExportCase(ref, w) })
	}
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if *out != "-" {
		fmt.Fprintf(stdout, "%s -> %s\n", ref, *out)
	}
	return exitOK
}

// writeFileAtomic writes path through a temporary file beside it, so that an error
// leaves no partial file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".intake-export-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// cmdAudit handles "intake audit export [-since DATE] [-until DATE]": the audit log as
// JSON Lines on standard output, oldest first.
func cmdAudit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(stderr, "usage: intake audit export [-since DATE] [-until DATE] -config FILE")
		return exitUsage
	}
	fs := newFlagSet("audit export", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	since := fs.String("since", "", "entries on or after (YYYY-MM-DD or RFC 3339)")
	until := fs.String("until", "", "entries before (YYYY-MM-DD or RFC 3339)")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	if len(pos) != 0 {
		fmt.Fprintln(stderr, "usage: intake audit export [-since DATE] [-until DATE] -config FILE")
		return exitUsage
	}
	cfg, ok := loadConfig(*cfgPath, stderr, true)
	if !ok {
		return exitFailure
	}
	var from, to time.Time
	for _, d := range []struct {
		flag string
		dst  *time.Time
	}{{*since, &from}, {*until, &to}} {
		if d.flag == "" {
			continue
		}
		if *d.dst, err = parseDate(d.flag, cfg.Location); err != nil {
			fmt.Fprintln(stderr, "intake:", err)
			return exitUsage
		}
	}
	store, ok := openRegister(cfg, stderr, "beenden Sie ihn zuerst.", "stop it first.")
	if !ok {
		return exitFailure
	}
	defer store.Close()
	// Who read the audit log is itself recorded (OPS.1.1.5).
	detail := "cli"
	for _, kv := range [][2]string{{"since", *since}, {"until", *until}} {
		if kv[1] != "" {
			detail += " " + kv[0] + "=" + kv[1]
		}
	}
	if _, err := store.AppendAudit(intake.ProcessActor(time.Now()).NewAuditEntry(ticket.AuditAuditExport, ticket.Reference{}, detail)); err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if err := store.ExportAudit(stdout, from, to); err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	return exitOK
}
