package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/ticket"
)

// Accounts of the web interface and the JSON API (package web):
//
//	intake user add NAME -role clerk|admin [-mailboxes a,b] [-generate] -config FILE
//	intake user passwd NAME [-generate] -config FILE
//	intake user disable NAME | intake user enable NAME
//	intake user grant NAME [-role clerk|admin] [-mailboxes a,b]
//	intake user list [-json]
//	intake token create NAME [-label TEXT]    prints the token once; only its SHA-256 is stored
//	intake token list [NAME] [-json]
//	intake token revoke NAME ID
//
// A password is read from standard input (the first line) when that is not a terminal,
// e.g. printf '%s\n' "$PW" | intake user passwd erika. On a terminal (or with -generate)
// intake generates a password and prints it once: the command line has no way to read a
// password without echoing it. The commands open the register directly, so they need the
// daemon stopped (bbolt allows one process); every change is written to the audit log
// with the actor "cli:<login name>".

const userUsage = `usage:
  intake user add NAME -role clerk|admin [-mailboxes a,b] [-generate] [-config FILE]
  intake user passwd NAME [-generate] [-config FILE]
  intake user disable NAME [-config FILE]
  intake user enable NAME [-config FILE]
  intake user grant NAME [-role clerk|admin] [-mailboxes a,b] [-config FILE]
  intake user list [-json] [-config FILE]
`

const tokenUsage = `usage:
  intake token create NAME [-label TEXT] [-config FILE]
  intake token list [NAME] [-json] [-config FILE]
  intake token revoke NAME ID [-config FILE]
`

// accountCmd carries what the account commands need; tests replace the hashing cost and
// the clock.
type accountCmd struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	argon          ticket.Argon2Params
	now            func() time.Time
	actor          string
}

func newAccountCmd(stdin io.Reader, stdout, stderr io.Writer) *accountCmd {
	return &accountCmd{stdin: stdin, stdout: stdout, stderr: stderr, argon: ticket.DefaultArgon2(), now: time.Now, actor: cliActor()}
}

// cliActor names the person at the command line for the audit log: the
// process's real uid (intake.ProcessActor), never $SUDO_USER or $USER.
func cliActor() string { return intake.ProcessActor(time.Now()).Name }

// cmdUser runs "intake user ...".
func cmdUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return newAccountCmd(stdin, stdout, stderr).user(args)
}

// cmdToken runs "intake token ...".
func cmdToken(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return newAccountCmd(stdin, stdout, stderr).token(args)
}

// open loads the config (without secrets) and opens the register.
func (a *accountCmd) open(cfgPath string) (*config.Config, *ticket.Store, bool) {
	cfg, ok := loadConfig(cfgPath, a.stderr, true)
	if !ok {
		return nil, nil, false
	}
	store, ok := openRegister(cfg, a.stderr, "zum Ändern von Konten bitte anhalten.", "stop it to change accounts.")
	if !ok {
		return nil, nil, false
	}
	return cfg, store, true
}

func (a *accountCmd) audit(store *ticket.Store, action, detail string) {
	e := ticket.AuditEntry{At: a.now(), Actor: a.actor, Action: action, Detail: detail}
	if _, err := store.AppendAudit(e); err != nil {
		fmt.Fprintln(a.stderr, "intake: audit log:", err)
	}
}

func (a *accountCmd) fail(err error) int {
	fmt.Fprintln(a.stderr, "intake:", err)
	if errors.Is(err, ticket.ErrBadUser) || errors.Is(err, ticket.ErrWeakPassword) {
		return exitUsage
	}
	return exitFailure
}

// parseMailboxes splits "a,b" and checks each name against the configured mailboxes.
func parseMailboxes(s string, cfg *config.Config) ([]string, error) {
	var out []string
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		if cfg.Mailbox(m) == nil {
			var names []string
			for _, mb := range cfg.Mailboxes {
				names = append(names, mb.Name)
			}
			return nil, fmt.Errorf("mailbox %q is not configured (configured: %s): %w", m, strings.Join(names, ", "), ticket.ErrBadUser)
		}
		out = append(out, m)
	}
	return out, nil
}

// isTerminal reports whether r is a character device (a terminal).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// passwordAlphabet leaves out characters that are easily confused (0/O, 1/l/I).
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// generatePassword returns 20 random characters of passwordAlphabet (about 116 bits).
func generatePassword() string {
	b := make([]byte, 20)
	for i := range b {
		b[i] = passwordAlphabet[randIndex(len(passwordAlphabet))]
	}
	return string(b)
}

// randIndex returns a uniform random number in [0, n) (rejection sampling, n < 256).
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// password returns the password for name: generated (and printed once) with -generate
// or on a terminal, else the first line of standard input.
func (a *accountCmd) password(name string, generate bool) (string, error) {
	if generate || a.stdin == nil || isTerminal(a.stdin) {
		pw := generatePassword()
		fmt.Fprintf(a.stdout, "Passwort / password for %s (wird nur jetzt angezeigt / shown only now):\n%s\n", name, pw)
		return pw, nil
	}
	line, err := bufio.NewReader(io.LimitReader(a.stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if err := ticket.CheckPassword(name, pw); err != nil {
		return "", err
	}
	return pw, nil
}

func (a *accountCmd) user(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, userUsage)
		return exitUsage
	}
	fs := newFlagSet("user "+args[0], a.stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	role := fs.String("role", "", "clerk or admin")
	boxes := fs.String("mailboxes", "", "granted mailboxes, comma separated (clerks)")
	generate := fs.Bool("generate", false, "generate a password and print it once")
	asJSON := fs.Bool("json", false, "print JSON (list)")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	sub := args[0]
	wantPos := 1
	if sub == "list" {
		wantPos = 0
	}
	switch sub {
	case "add", "passwd", "disable", "enable", "grant", "list":
	default:
		fmt.Fprintf(a.stderr, "intake user: unknown subcommand %q\n%s", sub, userUsage)
		return exitUsage
	}
	if len(pos) != wantPos || (sub == "add" && *role == "") {
		fmt.Fprint(a.stderr, userUsage)
		return exitUsage
	}
	var name string
	if wantPos == 1 {
		if name, err = accountName(pos[0]); err != nil {
			fmt.Fprintln(a.stderr, "intake:", err)
			return exitUsage
		}
	}
	if *role != "" && !ticket.Role(*role).Valid() {
		fmt.Fprintf(a.stderr, "intake: role %q: use clerk or admin\n", *role)
		return exitUsage
	}
	cfg, store, ok := a.open(*cfgPath)
	if !ok {
		return exitFailure
	}
	defer store.Close()
	grants, err := parseMailboxes(*boxes, cfg)
	if err != nil {
		return a.fail(err)
	}

	switch sub {
	case "add":
		if _, err := store.User(name); err == nil {
			return a.fail(fmt.Errorf("user %q: %w", name, ticket.ErrExists))
		}
		pw, err := a.password(name, *generate)
		if err != nil {
			return a.fail(err)
		}
		hash, err := ticket.HashPassword(pw, a.argon)
		if err != nil {
			return a.fail(err)
		}
		u := ticket.User{Name: name, Role: ticket.Role(*role), Mailboxes: grants}
		if err := store.AddUser(u, hash, a.now()); err != nil {
			return a.fail(err)
		}
		a.audit(store, ticket.AuditUserAdd, fmt.Sprintf("%s role=%s mailboxes=%s", name, *role, strings.Join(grants, ",")))
		if u.Role == ticket.RoleClerk && len(grants) == 0 {
			fmt.Fprintf(a.stderr, "Hinweis: %s sieht keine Postfächer (-mailboxes fehlt).\nNote: %s sees no mailbox (no -mailboxes).\n", name, name)
		}
		fmt.Fprintf(a.stdout, "Benutzer %s angelegt (%s). / User %s added (%s).\n", name, *role, name, *role)
	case "passwd":
		if _, err := store.User(name); err != nil {
			return a.fail(err)
		}
		pw, err := a.password(name, *generate)
		if err != nil {
			return a.fail(err)
		}
		hash, err := ticket.HashPassword(pw, a.argon)
		if err != nil {
			return a.fail(err)
		}
		if err := store.SetPassword(name, hash, a.now()); err != nil {
			return a.fail(err)
		}
		a.audit(store, ticket.AuditUserPassword, name)
		fmt.Fprintf(a.stdout, "Passwort von %s gesetzt. / Password of %s set.\n", name, name)
	case "disable", "enable":
		if err := store.SetDisabled(name, sub == "disable"); err != nil {
			return a.fail(err)
		}
		if sub == "disable" {
			a.audit(store, ticket.AuditUserDisable, name)
			fmt.Fprintf(a.stdout, "Benutzer %s gesperrt; Sitzungen und API-Tokens gelten ab sofort nicht mehr.\n"+
				"User %s disabled; sessions and API tokens stop working at once.\n", name, name)
		} else {
			a.audit(store, ticket.AuditUserEnable, name)
			fmt.Fprintf(a.stdout, "Benutzer %s entsperrt. / User %s enabled.\n", name, name)
		}
	case "grant":
		u, err := store.User(name)
		if err != nil {
			return a.fail(err)
		}
		r := u.Role
		if *role != "" {
			r = ticket.Role(*role)
		}
		g := u.Mailboxes
		if *boxes != "" {
			g = grants
		}
		if err := store.SetGrants(name, r, g); err != nil {
			return a.fail(err)
		}
		if u, err = store.User(name); err != nil {
			return a.fail(err)
		}
		a.audit(store, ticket.AuditUserGrant, fmt.Sprintf("%s role=%s mailboxes=%s", name, u.Role, strings.Join(u.Mailboxes, ",")))
		fmt.Fprintf(a.stdout, "%s: %s, %s\n", name, u.Role, strings.Join(u.Mailboxes, ","))
	case "list":
		users, err := store.Users()
		if err != nil {
			return a.fail(err)
		}
		if *asJSON {
			if users == nil {
				users = []ticket.User{}
			}
			return printJSON(a.stdout, users)
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tMAILBOXES\tSTATE\tPASSWORD SET")
		for _, u := range users {
			state := "active"
			if u.Disabled {
				state = "disabled"
			}
			pw := "-"
			if !u.PasswordSet.IsZero() {
				pw = u.PasswordSet.In(cfg.Location).Format("2006-01-02 15:04")
			}
			mb := strings.Join(u.Mailboxes, ",")
			if u.IsAdmin() {
				mb = "(all)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, mb, state, pw)
		}
		tw.Flush()
	}
	return exitOK
}

func (a *accountCmd) token(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, tokenUsage)
		return exitUsage
	}
	sub := args[0]
	fs := newFlagSet("token "+sub, a.stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	label := fs.String("label", "", "what the token is for")
	asJSON := fs.Bool("json", false, "print JSON (list)")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	want := map[string][]int{"create": {1}, "list": {0, 1}, "revoke": {2}}[sub]
	if want == nil {
		fmt.Fprintf(a.stderr, "intake token: unknown subcommand %q\n%s", sub, tokenUsage)
		return exitUsage
	}
	if !slices.Contains(want, len(pos)) {
		fmt.Fprint(a.stderr, tokenUsage)
		return exitUsage
	}
	name := ""
	if len(pos) > 0 {
		if name, err = accountName(pos[0]); err != nil {
			fmt.Fprintln(a.stderr, "intake:", err)
			return exitUsage
		}
	}
	_, store, ok := a.open(*cfgPath)
	if !ok {
		return exitFailure
	}
	defer store.Close()
	switch sub {
	case "create":
		u, err := store.User(name)
		if err != nil {
			return a.fail(err)
		}
		if u.Disabled {
			return a.fail(fmt.Errorf("user %q: %w", name, ticket.ErrDisabled))
		}
		tok, rec, err := store.CreateToken(name, *label, a.now())
		if err != nil {
			return a.fail(err)
		}
		a.audit(store, ticket.AuditTokenCreate, fmt.Sprintf("%s id=%s", name, rec.ID))
		fmt.Fprintf(a.stderr, "API-Token %s für %s – wird nur jetzt angezeigt, nur sein Hash wird gespeichert.\n"+
			"API token %s for %s – shown only now; only its hash is stored.\n"+
			"Authorization: Bearer <token>\n", rec.ID, name, rec.ID, name)
		fmt.Fprintln(a.stdout, tok)
	case "list":
		list, err := store.Tokens(name)
		if err != nil {
			return a.fail(err)
		}
		if *asJSON {
			if list == nil {
				list = []ticket.Token{}
			}
			return printJSON(a.stdout, list)
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tCREATED\tLABEL")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.User, t.Created.Format(time.RFC3339), t.Label)
		}
		tw.Flush()
	case "revoke":
		if err := store.RevokeToken(name, pos[1]); err != nil {
			return a.fail(err)
		}
		a.audit(store, ticket.AuditTokenRevoke, fmt.Sprintf("%s id=%s", name, pos[1]))
		fmt.Fprintf(a.stdout, "Token %s von %s widerrufen. / Token %s of %s revoked.\n", pos[1], name, pos[1], name)
	}
	return exitOK
}
