package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/ticket"
)

// cmdBackup writes a backup of the register to FILE: through the running
// daemon when it answers on its socket, else from the register itself. The
// archive goes to a temporary file next to FILE, is verified while it is
// written, and only then renamed to FILE, so FILE is never a partial
// backup. With [backup] age recipients the file is age encrypted to them
// and never holds a byte of the archive in the clear.
func cmdBackup(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "keygen" {
		return cmdBackupKeygen(args[1:], stdout, stderr)
	}
	fs := newFlagSet("backup", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: intake backup FILE -config FILE | intake backup keygen -o FILE [-pq]")
		return exitUsage
	}
	cfg, ok := loadConfig(*cfgPath, stderr, true)
	if !ok {
		return exitFailure
	}
	recipients, err := cfg.Backup.Recipients()
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	info, via, err := writeBackup(pos[0], cfg.DataDir, recipients)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "Sicherung %s geschrieben (%s): %d Vorgänge, %d Nachrichten, %d Rohmails (%d Bytes), Schema %d.\n",
		pos[0], via, info.Cases, info.Messages, info.RawFiles, info.RawBytes, info.Schema)
	fmt.Fprintf(stdout, "Backup %s written (%s): %d cases, %d messages, %d raw mails (%d bytes), schema %d.\n",
		pos[0], via, info.Cases, info.Messages, info.RawFiles, info.RawBytes, info.Schema)
	if n := len(recipients); n > 0 {
		fmt.Fprintf(stdout, "Mit age verschlüsselt für %d Empfänger; zum Wiederherstellen: intake restore -identity SCHLÜSSELDATEI %s DIR\n", n, pos[0])
		fmt.Fprintf(stdout, "Encrypted to %d age recipient(s); to restore: intake restore -identity KEYFILE %s DIR\n", n, pos[0])
	} else {
		fmt.Fprintln(stdout, "Nicht verschlüsselt: die Datei enthält die Mails der Bürgerinnen und Bürger im Klartext ([backup] age_recipients, siehe README).")
		fmt.Fprintln(stdout, "Not encrypted: the file holds citizens' mail in the clear ([backup] age_recipients, see README).")
	}
	return exitOK
}

// writeBackup writes the archive, age encrypted when there are recipients,
// to a temporary file beside file and renames it to file once the archive
// was verified (ticket.VerifyBackup reads the archive as it is produced, so
// the plaintext is never written anywhere for the check).
func writeBackup(file, dataDir string, recipients []age.Recipient) (info ticket.BackupInfo, via string, err error) {
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
	var (
		dst io.Writer = tmp
		enc io.WriteCloser
	)
	if len(recipients) > 0 {
		if enc, err = age.Encrypt(tmp, recipients...); err != nil {
			return info, "", fmt.Errorf("backup: encrypt: %w", err)
		}
		dst = enc
	}
	pr, pw := io.Pipe()
	type verified struct {
		info ticket.BackupInfo
		err  error
	}
	done := make(chan verified, 1)
	go func() {
		info, err := ticket.VerifyBackup(pr)
		if err != nil {
			pr.CloseWithError(err) // the writer stops
		} else {
			_, err = io.Copy(io.Discard, pr) // gzip trailer, tar padding
		}
		done <- verified{info, err}
	}()
	via, err = backupTo(io.MultiWriter(dst, pw), dataDir)
	pw.CloseWithError(err) // nil: EOF for the reader
	v := <-done
	switch {
	case err != nil: // a refusal of the check ends the stream with its error
		return info, via, err
	case v.err != nil:
		return info, via, fmt.Errorf("backup written but not valid, kept nothing: %w", v.err)
	}
	info = v.info
	if enc != nil {
		if err = enc.Close(); err != nil {
			return info, via, fmt.Errorf("backup: encrypt: %w", err)
		}
	}
	if err = tmp.Sync(); err != nil {
		return info, via, fmt.Errorf("backup: %w", err)
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
// holds it. Either way the backup is in the audit log before its first
// byte: the daemon records the user the kernel names for its socket, a
// register opened here this process's own uid.
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

// cmdBackupKeygen creates an age key pair for encrypted backups: the
// identity (secret key) goes to a new file of mode 0600 in age-keygen's
// format, the recipient (public key) to standard output for [backup]
// age_recipients. The identity belongs off the server (a safe, an offline
// machine); only restore needs it. -pq makes a post-quantum hybrid key
// (ML-KEM-768 + X25519), which the age command line reads from version 1.3.
func cmdBackupKeygen(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup keygen", stderr)
	out := fs.String("o", "", "new file for the secret key (identity)")
	pq := fs.Bool("pq", false, "post-quantum hybrid key (age1pq1…); needs age 1.3 or intake to decrypt")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 0 || *out == "" {
		fmt.Fprintln(stderr, "usage: intake backup keygen -o FILE [-pq]")
		return exitUsage
	}
	var secret, public string
	if *pq {
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			fmt.Fprintln(stderr, "intake: backup keygen:", err)
			return exitFailure
		}
		secret, public = id.String(), id.Recipient().String()
	} else {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			fmt.Fprintln(stderr, "intake: backup keygen:", err)
			return exitFailure
		}
		secret, public = id.String(), id.Recipient().String()
	}
	if err := writeIdentity(*out, secret, public); err != nil {
		fmt.Fprintln(stderr, "intake: backup keygen:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "Geheimer Schlüssel in %s (nur für intake restore; bewahren Sie ihn getrennt vom Server auf).\n"+
		"Secret key in %s (for intake restore only; keep it away from the server).\n"+
		"Öffentlicher Schlüssel / public key — in die Konfiguration / into the configuration:\n\n"+
		"[backup]\nage_recipients = [\"%s\"]\n", *out, *out, public)
	return exitOK
}

// writeIdentity creates path (never overwriting) with mode 0600.
func writeIdentity(path, secret, public string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), public, secret)
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(text)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// errEncrypted refuses an encrypted backup given without an identity.
var errEncrypted = errors.New("die Sicherung ist mit age verschlüsselt: geben Sie die Schlüsseldatei mit -identity FILE an / " +
	"the backup is age encrypted: give the identity (secret key) file with -identity FILE")

// openBackup returns the archive of a backup file: decrypted with the
// identities of identityFile when the file is age encrypted (binary or
// armored), as it is otherwise.
func openBackup(f io.Reader, identityFile string) (io.Reader, bool, error) {
	br := bufio.NewReader(f)
	head, _ := br.Peek(len(armor.Header))
	var src io.Reader
	switch {
	case bytes.HasPrefix(head, []byte("age-encryption.org/")):
		src = br
	case bytes.Equal(head, []byte(armor.Header)):
		src = armor.NewReader(br)
	default:
		return br, false, nil
	}
	if identityFile == "" {
		return nil, true, errEncrypted
	}
	idf, err := os.Open(identityFile)
	if err != nil {
		return nil, true, fmt.Errorf("identity: %w", err)
	}
	defer idf.Close()
	ids, err := age.ParseIdentities(idf)
	if err != nil {
		return nil, true, fmt.Errorf("identity %s: %w", identityFile, err)
	}
	r, err := age.Decrypt(src, ids...)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		return nil, true, fmt.Errorf("kein Schlüssel in %s passt zu dieser Sicherung / no identity in %s matches this backup", identityFile, identityFile)
	}
	if err != nil {
		return nil, true, fmt.Errorf("decrypt backup: %w", err)
	}
	return r, true, nil
}

// cmdRestore extracts a backup into a new or empty directory and checks it.
func cmdRestore(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("restore", stderr)
	identity := fs.String("identity", "", "age identity (secret key) file of an encrypted backup")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "usage: intake restore [-identity KEYFILE] FILE DIR")
		return exitUsage
	}
	f, err := os.Open(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	defer f.Close()
	archive, encrypted, err := openBackup(f, *identity)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	info, err := ticket.Restore(archive, pos[1])
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if err := auditRestore(pos[1], info, encrypted); err != nil {
		fmt.Fprintf(stderr, "intake: restored to %s, but the restore could not be recorded in its audit log: %v\n", pos[1], err)
		return exitFailure
	}
	if !encrypted && *identity != "" {
		fmt.Fprintln(stderr, "intake: Hinweis: die Sicherung war nicht verschlüsselt / note: the backup was not encrypted")
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

// auditRestore records in the restored register who restored it from which
// backup: mail the register had deleted since (retention) is back, and the
// audit log says why.
func auditRestore(dir string, info ticket.BackupInfo, encrypted bool) error {
	store, err := ticket.Open(dir, ticket.Options{})
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("cli backup of %s: %d cases, %d messages", info.Created.Format(time.RFC3339), info.Cases, info.Messages)
	if encrypted {
		detail += ", age encrypted"
	}
	_, err = store.AppendAudit(intake.ProcessActor(time.Now()).NewAuditEntry(ticket.AuditRestore, ticket.Reference{}, detail))
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	return err
}
