package mailrig

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options configure a rig. The zero value is ready to use.
type Options struct {
	// Users maps address to password. Default: office@example.test:office-pass,
	// citizen@example.test:citizen-pass, other@example.test:other-pass.
	// Addresses are lower-cased; their domains become Postfix's
	// virtual_mailbox_domains (example.test always is one).
	Users map[string]string
	// DiscardUnknown makes Postfix accept mail for other domains and drop it
	// (discard: transports) instead of rejecting it at RCPT (error:).
	// Unknown users in the rig's own domains are rejected either way.
	DiscardUnknown bool
	// AuthFailureDelay is Dovecot's auth_failure_delay (IMAP logins and
	// SMTP AUTH alike), rounded up to whole seconds. The default 0 answers
	// a wrong password within 0.5 s; Dovecot's own default is 2 s.
	// Independent of it, Dovecot 2.3 delays the next authentication from
	// the same IP after a failure by 4 s (8, 15 s after more failures)
	// until one succeeds; the rig's own helpers connect from 127.0.0.2 to
	// stay out of that.
	AuthFailureDelay time.Duration
}

// Rig is one running pair of Dovecot and Postfix. Its methods are safe for
// concurrent use, except that Users must not be read while AddUser runs.
type Rig struct {
	Dir string // private directory, removed by Close

	IMAPAddr       string // Dovecot IMAP (plain, STARTTLS offered)
	IMAPSAddr      string // Dovecot IMAP over implicit TLS
	LMTPAddr       string // Dovecot LMTP
	SMTPAddr       string // Postfix MX-style port: no AUTH, STARTTLS offered, delivers to Dovecot
	SubmissionAddr string // Postfix submission: STARTTLS required, then AUTH PLAIN/LOGIN against Dovecot

	CAFile string // PEM of the self-signed server certificate (localhost, 127.0.0.1)

	// Users maps address to password. Treat it as read-only; AddUser
	// replaces it with a new map.
	Users map[string]string

	pool             *x509.CertPool
	ports            [5]int // IMAP, IMAPS, LMTP, SMTP, submission
	discardUnknown   bool
	authFailureDelay time.Duration
	helperAddr       *net.TCPAddr // source address of the helpers' connections
	quickStart       bool         // the Postfix queue directories were made by makeQueueDirs

	usersMu sync.Mutex // guards Users and the user files

	procMu      sync.Mutex // guards the fields below and serialises start/stop
	dovecot     *exec.Cmd
	dovecotDone chan struct{}
	postfixPID  int
	closed      bool
}

// Message is one message as Fetch returns it.
type Message struct {
	UID          uint32
	Flags        []string
	InternalDate time.Time
	Raw          []byte
}

const (
	readyTimeout = 15 * time.Second
	stopTimeout  = 15 * time.Second
	dirPrefix    = "mr-"
)

var errPortInUse = errors.New("a port was taken by another process")

func defaultUsers() map[string]string {
	return map[string]string{
		"office@example.test":  "office-pass",
		"citizen@example.test": "citizen-pass",
		"other@example.test":   "other-pass",
	}
}

// Debian paths of what the rig runs.
var requiredFiles = []struct{ path, pkg string }{
	{"/usr/sbin/dovecot", "dovecot-core"},
	{"/usr/lib/dovecot/imap", "dovecot-imapd"},
	{"/usr/lib/dovecot/lmtp", "dovecot-lmtpd"},
	{"/usr/sbin/postfix", "postfix"},
	{"/usr/lib/postfix/sbin/master", "postfix"},
}

// Available returns nil when this machine can run a rig, or an error that
// says what is missing and how to get it.
func Available() error {
	var missing []string
	for _, f := range requiredFiles {
		if _, err := os.Stat(f.path); err != nil {
			missing = append(missing, f.path+" ("+f.pkg+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("mailrig: real mail servers not installed: missing %s; "+
			"run ./scripts/test.sh as root, or apt-get install --no-install-recommends dovecot-imapd dovecot-lmtpd postfix",
			strings.Join(missing, ", "))
	}
	if os.Geteuid() != 0 {
		return errors.New("mailrig: needs root: Postfix refuses to start as another user " +
			"(\"the postfix command is reserved for the superuser\"); run the tests as root, e.g. via ./scripts/test.sh")
	}
	for _, u := range []string{"postfix", "dovecot", "dovenull"} {
		if _, err := user.Lookup(u); err != nil {
			return fmt.Errorf("mailrig: system user %q missing (broken dovecot/postfix install?): %v", u, err)
		}
	}
	if _, err := user.LookupGroup("postdrop"); err != nil {
		return fmt.Errorf("mailrig: group postdrop missing (broken postfix install?): %v", err)
	}
	if _, err := user.Lookup("vmail"); err != nil {
		if _, err := exec.LookPath("useradd"); err != nil {
			if _, err := os.Stat("/usr/sbin/useradd"); err != nil {
				return errors.New("mailrig: system user vmail is missing and useradd is not available to create it")
			}
		}
	}
	return nil
}

// StartT starts a rig for a test and closes it in t.Cleanup; on a failed
// test the cleanup logs the servers' log tails first. When the machine
// cannot run a rig, the test is skipped, or fails when the environment
// variable CI or INTAKE_REQUIRE_REAL_SERVERS is set.
func StartT(t testing.TB, opts Options) *Rig {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("INTAKE_REQUIRE_REAL_SERVERS") != "" {
			t.Fatalf("%v (real servers are required: CI or INTAKE_REQUIRE_REAL_SERVERS is set)", err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*readyTimeout)
	defer cancel()
	r, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mailrig %s logs:\n%s", r.Dir, r.Logs())
		}
		if err := r.Close(); err != nil {
			t.Errorf("mailrig: close: %v", err)
		}
	})
	return r
}

// Start creates a rig directory, picks free ports and starts Dovecot and
// Postfix; it returns once IMAP, IMAPS, LMTP, SMTP and submission answer
// with their greetings. On failure nothing is left running and the error
// carries the servers' log tails.
func Start(ctx context.Context, opts Options) (*Rig, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	reapOrphans()
	vmailUID, vmailGID, err := ensureVmail()
	if err != nil {
		return nil, err
	}
	pfUser, err := user.Lookup("postfix")
	if err != nil {
		return nil, err
	}
	users := defaultUsers()
	if len(opts.Users) > 0 {
		users = make(map[string]string, len(opts.Users))
		for a, p := range opts.Users {
			if err := checkUser(a, p); err != nil {
				return nil, err
			}
			users[strings.ToLower(a)] = p
		}
	}

	dir, err := os.MkdirTemp("/tmp", dirPrefix)
	if err != nil {
		return nil, err
	}
	r := &Rig{Dir: dir, Users: users, discardUnknown: opts.DiscardUnknown, authFailureDelay: opts.AuthFailureDelay, CAFile: filepath.Join(dir, "tls", "cert.pem")}
	if err := r.layout(vmailUID, vmailGID, pfUser); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mailrig: preparing %s: %w", dir, err)
	}

	for attempt := 1; ; attempt++ {
		err = r.startAttempt(ctx)
		if err == nil {
			return r, nil
		}
		r.stopAll()
		if errors.Is(err, errPortInUse) && attempt < 4 && ctx.Err() == nil {
			continue
		}
		logs := r.Logs()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mailrig: start: %w\n%s", err, logs)
	}
}

// layout creates the directory tree, the owner marker and the certificate.
func (r *Rig) layout(vmailUID, vmailGID int, pfUser *user.User) error {
	// MkdirTemp makes the directory 0700; Dovecot's auth and Postfix's
	// unprivileged processes must be able to traverse it.
	if err := os.Chmod(r.Dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.Dir, "owner"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	for _, d := range []string{"tls", "dv", "dv/run", "dv/state", "dv/mail", "pf", "pf/etc", "pf/spool", "pf/data"} {
		if err := os.Mkdir(filepath.Join(r.Dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chown(filepath.Join(r.Dir, "dv", "mail"), vmailUID, vmailGID); err != nil {
		return err
	}
	pfUID, _ := strconv.Atoi(pfUser.Uid)
	pfGID, _ := strconv.Atoi(pfUser.Gid)
	if err := os.Chown(filepath.Join(r.Dir, "pf", "data"), pfUID, pfGID); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(r.Dir, "pf", "data"), 0o700); err != nil {
		return err
	}
	postdrop, err := user.LookupGroup("postdrop")
	if err != nil {
		return err
	}
	postdropGID, _ := strconv.Atoi(postdrop.Gid)
	if r.quickStart, err = makeQueueDirs(filepath.Join(r.Dir, "pf", "spool"), pfUID, postdropGID); err != nil {
		return err
	}
	if l, err := net.Listen("tcp4", "127.0.0.2:0"); err == nil {
		l.Close()
		r.helperAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	}
	pool, err := writeCert(filepath.Join(r.Dir, "tls"))
	if err != nil {
		return err
	}
	r.pool = pool
	return nil
}

func (r *Rig) startAttempt(ctx context.Context) error {
	ports, err := pickPorts(len(r.ports))
	if err != nil {
		return err
	}
	copy(r.ports[:], ports)
	addr := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	r.IMAPAddr, r.IMAPSAddr, r.LMTPAddr = addr(r.ports[0]), addr(r.ports[1]), addr(r.ports[2])
	r.SMTPAddr, r.SubmissionAddr = addr(r.ports[3]), addr(r.ports[4])
	r.usersMu.Lock()
	err = r.writeConfigs()
	r.usersMu.Unlock()
	if err != nil {
		return err
	}
	if err := r.StartDovecot(); err != nil {
		return err
	}
	return r.StartPostfix()
}

// StartDovecot starts Dovecot (again) with the rig's configuration, mail and
// ports, and waits until IMAP, IMAPS and LMTP greet. It is a no-op when
// Dovecot runs.
func (r *Rig) StartDovecot() error {
	r.procMu.Lock()
	defer r.procMu.Unlock()
	if r.closed {
		return errors.New("mailrig: rig is closed")
	}
	if r.dovecot != nil {
		return nil
	}
	logPath := filepath.Join(r.Dir, "dv", "stderr.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	logStart := fileSize(filepath.Join(r.Dir, "dv", "dovecot.log"))
	errStart := fileSize(logPath)
	// -F: Dovecot's master stays our child, so we wait for it directly. Its
	// own process group holds all its processes, for a quick kill in Close.
	cmd := exec.Command("/usr/sbin/dovecot", "-F", "-c", filepath.Join(r.Dir, "dv", "dovecot.conf"))
	cmd.Dir = r.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("dovecot: %w", err)
	}
	out.Close()
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	r.dovecot, r.dovecotDone = cmd, done

	err = waitReady(done, []probe{
		{r.IMAPAddr, nil, "* OK"},
		{r.IMAPSAddr, r.TLSConfig(), "* OK"},
		{r.LMTPAddr, nil, "220 "},
	})
	if err != nil {
		r.stopDovecotLocked(0)
		err = fmt.Errorf("dovecot: %w", err)
		if strings.Contains(logSince(filepath.Join(r.Dir, "dv", "dovecot.log"), logStart)+logSince(logPath, errStart), "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return err
	}
	return nil
}

// StopDovecot stops Dovecot: SIGTERM to all its processes, and SIGKILL
// after 0.3 s to those still alive (an imap-login process that proxies
// a client's TLS session would otherwise keep Dovecot's master waiting for
// 10 s). Connected clients see their connections closed, as on a server
// restart. Mail, ports and the certificate stay; StartDovecot brings it
// back. It is a no-op when Dovecot is not running.
func (r *Rig) StopDovecot() error {
	r.procMu.Lock()
	defer r.procMu.Unlock()
	return r.stopDovecotLocked(300 * time.Millisecond)
}

// stopDovecotLocked stops Dovecot's process group: SIGTERM, then SIGKILL
// after grace (at once when grace is 0).
func (r *Rig) stopDovecotLocked(grace time.Duration) error {
	cmd, done := r.dovecot, r.dovecotDone
	if cmd == nil {
		return nil
	}
	r.dovecot, r.dovecotDone = nil, nil
	pid := cmd.Process.Pid
	select {
	case <-done: // died on its own: its PID may be reused
		if !groupAlive(pid) {
			return nil
		}
	default:
	}
	if grace > 0 {
		syscall.Kill(-pid, syscall.SIGTERM)
		if waitGone(pid, grace) {
			<-done
			return nil
		}
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	<-done
	if !waitGone(pid, stopTimeout) {
		return fmt.Errorf("dovecot processes (group %d) still alive %v after SIGKILL", pid, stopTimeout)
	}
	return nil
}

// StartPostfix starts Postfix (again) with the rig's configuration, queue and
// ports and waits until both SMTP ports greet. It is a no-op when Postfix
// runs.
func (r *Rig) StartPostfix() error {
	r.procMu.Lock()
	defer r.procMu.Unlock()
	if r.closed {
		return errors.New("mailrig: rig is closed")
	}
	if r.postfixPID != 0 {
		return nil
	}
	maillog := filepath.Join(r.Dir, "pf", "maillog")
	logStart := fileSize(maillog)
	if r.quickStart {
		// Skip postfix-script's integrity checks (post-install
		// create-missing alone takes about 2 s): the queue is ours.
		if err := os.WriteFile(filepath.Join(r.Dir, "pf", "spool", "quick-start"), nil, 0o644); err != nil {
			return err
		}
	}
	outPath := filepath.Join(r.Dir, "pf", "postfix.out")
	out, err := os.Create(outPath)
	if err != nil {
		return err
	}
	// A file, not a pipe, for the output: the daemonised master must not
	// hold a pipe that Run would wait on.
	cmd := exec.Command("/usr/sbin/postfix", "-c", filepath.Join(r.Dir, "pf", "etc"), "start")
	cmd.Dir = r.Dir
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	out.Close()
	pid, pidErr := readPIDFile(filepath.Join(r.Dir, "pf", "spool", "pid", "master.pid"))
	if runErr != nil || pidErr != nil || !pidAlive(pid) {
		if pidErr == nil && pidAlive(pid) {
			r.postfixPID = pid
			r.stopPostfixLocked()
		}
		msg, _ := os.ReadFile(outPath)
		err := fmt.Errorf("postfix start: %v %v: %s (Postfix prints errors only to a tty; "+
			"see the maillog, or run: script -qec 'postfix -c %s/pf/etc check' /dev/null)",
			runErr, pidErr, strings.TrimSpace(string(msg)), r.Dir)
		if strings.Contains(logSince(maillog, logStart), "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return err
	}
	r.postfixPID = pid
	exited := make(chan struct{})
	stopWatch := make(chan struct{})
	go func() { // turns the death of the (non-child) master into a channel
		defer close(exited)
		for pidAlive(pid) {
			select {
			case <-stopWatch:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	err = waitReady(exited, []probe{
		{r.SMTPAddr, nil, "220 "},
		{r.SubmissionAddr, nil, "220 "},
	})
	close(stopWatch)
	if err != nil {
		r.stopPostfixLocked()
		err = fmt.Errorf("postfix: %w", err)
		if strings.Contains(logSince(maillog, logStart), "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return err
	}
	return nil
}

// StopPostfix stops Postfix (SIGTERM to its master, as "postfix stop" does,
// then waits until the master and all its children are gone). The queue and
// ports stay; StartPostfix brings it back. It is a no-op when Postfix is not
// running.
func (r *Rig) StopPostfix() error {
	r.procMu.Lock()
	defer r.procMu.Unlock()
	return r.stopPostfixLocked()
}

func (r *Rig) stopPostfixLocked() error {
	pid := r.postfixPID
	if pid == 0 {
		return nil
	}
	r.postfixPID = 0
	if !r.isPostfixMaster(pid) { // died on its own: its PID may be reused
		if groupAlive(pid) {
			syscall.Kill(-pid, syscall.SIGTERM)
			waitGone(pid, stopTimeout)
		}
		return nil
	}
	// We signal the master ourselves rather than run "postfix stop", which
	// polls in whole seconds. The master is a session leader: its children
	// share its process group, and it terminates them on SIGTERM.
	syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(pid, stopTimeout) {
		return nil
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	waitGone(pid, 5*time.Second)
	return fmt.Errorf("postfix master (pid %d) did not stop within %v after SIGTERM; killed its process group", pid, stopTimeout)
}

// isPostfixMaster reports whether pid is this rig's Postfix master: the
// master runs in its queue directory.
func (r *Rig) isPostfixMaster(pid int) bool {
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	return err == nil && pidAlive(pid) && cwd == filepath.Join(r.Dir, "pf", "spool")
}

// stopAll stops both servers for good, reporting the first error. Dovecot
// is killed: a graceful stop costs a second and the mail is thrown away.
func (r *Rig) stopAll() error {
	r.procMu.Lock()
	defer r.procMu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- r.stopPostfixLocked() }()
	err := r.stopDovecotLocked(0)
	if perr := <-errc; err == nil {
		err = perr
	}
	return err
}

// Stop stops Dovecot and Postfix and waits for them, as Close does, but keeps
// Dir until Close: a bench that measures on fresh rigs one after another
// (intake-bench ratio) removes them only at its end, since on ext4 without a
// journal files removed just before a run slow that run's creation of files
// for minutes (BENCHMARKS.md, issue 12).
func (r *Rig) Stop() error {
	return r.stopAll()
}

// Close stops Dovecot and Postfix, waits for them, and removes Dir. It is
// safe to call more than once.
func (r *Rig) Close() error {
	r.procMu.Lock()
	closed := r.closed
	r.closed = true // no Start* from now on
	r.procMu.Unlock()
	if closed {
		return nil
	}
	err := r.stopAll()
	if rmErr := removeAll(r.Dir); err == nil {
		err = rmErr
	}
	return err
}

// AddUser adds (or changes the password of) a user in Dovecot's passwd-file
// and Postfix's vmailbox map, reloads Postfix when it runs and waits until
// Postfix accepts the address at RCPT. A new domain becomes a virtual
// mailbox domain. It takes up to a second: Dovecot notices a changed
// passwd-file only in the next second.
func (r *Rig) AddUser(addr, pass string) error {
	if err := checkUser(addr, pass); err != nil {
		return err
	}
	addr = strings.ToLower(addr)
	r.usersMu.Lock()
	users := make(map[string]string, len(r.Users)+1)
	for a, p := range r.Users {
		users[a] = p
	}
	users[addr] = pass
	r.Users = users
	err := r.writeConfigs()
	r.usersMu.Unlock()
	if err != nil {
		return err
	}

	// Dovecot stats the passwd-file at most once per second (per event-loop
	// second): a lookup in the second of the write may still use the old
	// contents. From the next second on, the change is seen.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))

	r.procMu.Lock()
	pid := r.postfixPID
	r.procMu.Unlock()
	if pid == 0 {
		return nil // read at the next start
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil { // what "postfix reload" does
		return fmt.Errorf("mailrig: postfix reload: %w", err)
	}
	// Processes started before the reload serve one more client with the
	// old map; probe until a fresh smtpd accepts the address.
	deadline := time.Now().Add(readyTimeout)
	for {
		err := r.rcptProbe(addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mailrig: postfix still rejects %s after reload: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkUser(addr, pass string) error {
	if strings.Count(addr, "@") != 1 || strings.HasPrefix(addr, "@") || strings.HasSuffix(addr, "@") ||
		strings.ContainsAny(addr, ": \t\r\n") {
		return fmt.Errorf("mailrig: bad user address %q", addr)
	}
	if pass == "" || strings.ContainsAny(pass, ":\r\n") {
		return fmt.Errorf("mailrig: bad password for %s (empty, or contains ':' or a line break)", addr)
	}
	return nil
}

// ensureVmail returns the uid and gid of the vmail system user, creating it
// (with its group) when it is missing.
func ensureVmail() (uid, gid int, err error) {
	u, err := user.Lookup("vmail")
	if err != nil {
		bin, lerr := exec.LookPath("useradd")
		if lerr != nil {
			bin = "/usr/sbin/useradd"
		}
		out, cerr := exec.Command(bin, "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "vmail").CombinedOutput()
		// Another process may have created it meanwhile: look again.
		if u, err = user.Lookup("vmail"); err != nil {
			return 0, 0, fmt.Errorf("mailrig: creating system user vmail: %v: %s", cerr, out)
		}
	}
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, err
	}
	gid, err = strconv.Atoi(u.Gid)
	return uid, gid, err
}

// makeQueueDirs creates the Postfix queue directories as Postfix's own
// postfix-files lists them (what "post-install create-missing" does). It
// returns false, and creates nothing, when that list is missing or has
// entries it does not understand; "postfix start" then creates them itself.
func makeQueueDirs(spool string, mailOwnerUID, setgidGID int) (bool, error) {
	b, err := os.ReadFile("/etc/postfix/postfix-files")
	if err != nil {
		return false, nil
	}
	type qdir struct {
		name     string
		uid, gid int
		perm     os.FileMode
	}
	var dirs []qdir
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 5 || f[1] != "d" || !strings.HasPrefix(f[0], "$queue_directory/") {
			continue
		}
		d := qdir{name: strings.TrimPrefix(f[0], "$queue_directory/")}
		switch f[2] {
		case "$mail_owner":
			d.uid = mailOwnerUID
		case "root":
		default:
			return false, nil
		}
		switch f[3] {
		case "$setgid_group":
			d.gid = setgidGID
		case "", "-":
		default:
			return false, nil
		}
		perm, err := strconv.ParseUint(f[4], 8, 32)
		if err != nil || strings.Contains(d.name, "/") {
			return false, nil
		}
		d.perm = os.FileMode(perm)
		dirs = append(dirs, d)
	}
	if len(dirs) == 0 {
		return false, nil
	}
	for _, d := range dirs {
		p := filepath.Join(spool, d.name)
		if err := os.Mkdir(p, d.perm); err != nil {
			return false, err
		}
		if err := os.Chmod(p, d.perm); err != nil { // past the umask
			return false, err
		}
		if err := os.Chown(p, d.uid, d.gid); err != nil {
			return false, err
		}
	}
	return true, nil
}
