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

// cmdBackup writes a backup of the register to FILE: through the running
// daemon when it answers on its socket, else from the register itself. The
// archive goes to a temporary file next to FILE, is read back and verified,
// and only then renamed to FILE, so FILE is never a partial backup.
func cmdBackup(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: intake backup FILE -config FILE")
		return exitUsage
	}
	cfg, ok := loadConfig(*cfgPath, stderr, true)
	if !ok {
		return exitFailure
	}
	info, via, err := writeBackup(pos[0], cfg.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "Sicherung %s geschrieben (%s): %d Vorgänge, %d Nachrichten, %d Rohmails (%d Bytes), Schema %d.\n",
		pos[0], via, info.Cases, info.Messages, info.RawFiles, info.RawBytes, info.Schema)
	fmt.Fprintf(stdout, "Backup %s written (%s): %d cases, %d messages, %d raw mails (%d bytes), schema %d.\n",
		pos[0], via, info.Cases, info.Messages, info.RawFiles, info.RawBytes, info.Schema)
	return exitOK
}

func writeBackup(file, dataDir string) (info ticket.BackupInfo, via string, err error) {
	if _, err := os.Stat(filepath.Join(dataDir, "intake.db")); err != nil {
		return info, "", fmt.Errorf("backup: no register in %s: %w", dataDir, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return info, "", fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if via, err = backupTo(tmp, dataDir); err != nil {
		return info, via, err
	}
	if err = tmp.Sync(); err != nil {
		return info, via, fmt.Errorf("backup: %w", err)
	}
	if _, err = tmp.Seek(0, io.SeekStart); err != nil {
		return info, via, fmt.Errorf("backup: %w", err)
	}
	if info, err = ticket.VerifyBackup(tmp); err != nil {
		return info, via, fmt.Errorf("backup written but not valid, kept nothing: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return info, via, fmt.Errorf("backup: %w", err)
	}
	if err = os.Chmod(tmp.Name(), 0o600); err != nil {
		return info, via, fmt.Errorf("backup: %w", err)
	}
	if err = os.Rename(tmp.Name(), file); err != nil {
		return info, via, fmt.Errorf("backup: %w", err)
	}
	if d, derr := os.Open(filepath.Dir(file)); derr == nil {
		d.Sync()
		d.Close()
	}
	return info, via, nil
}

// backupTo asks the running daemon, or opens the register when no daemon
// holds it.
func backupTo(w io.Writer, dataDir string) (string, error) {
	c, store, err := daemonOrRegister(dataDir)
	if err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	if c != nil {
		return "über den laufenden Dienst / through the running daemon", c.Backup(w)
	}
	if err = intake.AuditBackup(store, intake.ProcessActor(time.Now())); err == nil {
		_, err = store.Backup(w)
	}
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	return "direkt aus dem Register / from the register directly", err
}

// cmdRestore extracts a backup into a new or empty directory and checks it.
func cmdRestore(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("restore", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "usage: intake restore FILE DIR")
		return exitUsage
	}
	f, err := os.Open(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	defer f.Close()
	info, err := ticket.Restore(f, pos[1])
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	at := info.Created.Format(time.RFC3339)
	fmt.Fprintf(stdout, "Sicherung vom %s nach %s wiederhergestellt und geprüft: %d Vorgänge, %d Nachrichten, %d Rohmails.\n"+
		"Setzen Sie data_dir in der Konfiguration auf %s und starten Sie intake; der Suchindex wird beim ersten Start neu aufgebaut.\n",
		at, pos[1], info.Cases, info.Messages, info.RawFiles, pos[1])
	fmt.Fprintf(stdout, "Backup of %s restored to %s and verified: %d cases, %d messages, %d raw mails.\n"+
		"Point data_dir in the configuration at %s and start intake; the search index is rebuilt on first start.\n",
		at, pos[1], info.Cases, info.Messages, info.RawFiles, pos[1])
	return exitOK
}
