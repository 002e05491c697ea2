package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
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
//	intake token create NAME [-label TEXT] [-scope read|read-write] [-expires 30d]
//	                                          prints the token once; only its SHA-256 is stored
//	intake token list [NAME] [-json]
//	intake token revoke NAME ID
//
// A password is read from standard input (the first line) when that is not a terminal,
// e.g. printf '%s\n' "$PW" | intake user passwd erika. On a terminal (or with -generate)
// intake generates a password and prints it once: the command line has no way to read a
// password without echoing it; the password is hashed here, only its hash goes to the
// register. While the daemon runs the commands go through its local API (the daemon names
// the caller by the socket's peer credentials); otherwise they open the register
// directly. Either way every change is written to the audit log with the actor
// "cli:<login name>" (intake.Accounts).

const userUsage = `usage:
  intake user add NAME -role clerk|admin [-mailboxes a,b] [-generate] [-config FILE]
  intake user passwd NAME [-generate] [-config FILE]
  intake user disable NAME [-config FILE]
  intake user enable NAME [-config FILE]
  intake user grant NAME [-role clerk|admin] [-mailboxes a,b] [-config FILE]
  intake user list [-json] [-config FILE]
`

const tokenUsage = `usage:
  intake token create NAME [-label TEXT] [-scope read|read-write] [-expires 30d|4w|YYYY-MM-DD|never] [-config FILE]
  intake token list [NAME] [-json] [-config FILE]
  intake token revoke NAME ID [-config FILE]
`

// accountCmd carries what the account commands need; tests replace the hashing cost,
// the clock and the actor's name.
type accountCmd struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	argon          ticket.Argon2Params
	now            func() time.Time
	actor          string // "" = the process's own user (intake.ProcessActor)
}

func newAccountCmd(stdin io.Reader, stdout, stderr io.Writer) *accountCmd {
	return &accountCmd{stdin: stdin, stdout: stdout, stderr: stderr, argon: ticket.DefaultArgon2(), now: time.Now}
}

// processActor names the person at the command line for the audit log when the
// register is opened directly: the process's real uid (intake.ProcessActor), never
// $SUDO_USER or $USER.
func (a *accountCmd) processActor() ticket.Actor {
	act := intake.ProcessActor(a.now())
	if a.actor != "" {
		act.Name = a.actor
	}
	return act
}

// cmdUser runs "intake user ...".
func cmdUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return newAccountCmd(stdin, stdout, stderr).user(args)
}

// cmdToken runs "intake token ...".
func cmdToken(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return newAccountCmd(stdin, stdout, stderr).token(args)
}

// open loads the config (without secrets) and returns the accounts of the running daemon
// (through its local API) or, when none runs, of the register opened directly.
func (a *accountCmd) open(cfgPath string) (*config.Config, intake.Accounts, func(), bool) {
	cfg, ok := loadConfig(cfgPath, a.stderr, true)
	if !ok {
		return nil, nil, nil, false
	}
	c, store, err := daemonOrRegister(cfg.DataDir)
	if err != nil {
		fmt.Fprintln(a.stderr, "intake:", err)
		return nil, nil, nil, false
	}
	if c != nil {
		return cfg, c, func() {}, true
	}
	return cfg, intake.StoreAccounts{Store: store, Actor: a.processActor}, func() { store.Close() }, true
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

// passwordAlphabet is the alphabet of generated passwords.
const passwordAlphabet = ticket.PasswordAlphabet

// generatePassword returns a password for an admin to hand on (ticket.GeneratePassword).
func generatePassword() string { return ticket.GeneratePassword() }

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
	if !checkEnum(a.stderr, "role", *role, []string{string(ticket.RoleClerk), string(ticket.RoleAdmin)}, sub != "add") {
		return exitUsage
	}
	cfg, store, done, ok := a.open(*cfgPath)
	if !ok {
		return exitFailure
	}
	defer done()
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
		if err := store.AddUser(u, hash); err != nil {
			return a.fail(err)
		}
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
		if err := store.SetPassword(name, hash); err != nil {
			return a.fail(err)
		}
		fmt.Fprintf(a.stdout, "Passwort von %s gesetzt. / Password of %s set.\n", name, name)
	case "disable", "enable":
		if err := store.SetDisabled(name, sub == "disable"); err != nil {
			return a.fail(err)
		}
		if sub == "disable" {
			fmt.Fprintf(a.stdout, "Benutzer %s gesperrt; Sitzungen und API-Tokens gelten ab sofort nicht mehr.\n"+
				"User %s disabled; sessions and API tokens stop working at once.\n", name, name)
		} else {
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
		if u, err = store.SetGrants(name, r, g); err != nil {
			return a.fail(err)
		}
		fmt.Fprintf(a.stdout, "%s: %s, %s\n", name, u.Role, strings.Join(u.Mailboxes, ","))
	case "list":
		users, err := store.Users()
		if err != nil {
			return a.fail(err)
		}
		if *asJSON {
			return printJSONList(a.stdout, users)
		}
		tw := newTable(a.stdout)
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
	scope := fs.String("scope", ticket.ScopeReadWrite, "read (GET only) or read-write")
	expires := fs.String("expires", "never", "when the token stops working: 30d, 4w, 36h, YYYY-MM-DD (valid through that day) or never")
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
	if !checkEnum(a.stderr, "scope", *scope, ticket.Scopes(), false) {
		return exitUsage
	}
	cfg, store, done, ok := a.open(*cfgPath)
	if !ok {
		return exitFailure
	}
	defer done()
	switch sub {
	case "create":
		exp, err := ticket.ParseExpiry(*expires, a.now(), cfg.Location)
		if err != nil {
			fmt.Fprintln(a.stderr, "intake: -expires:", err)
			return exitUsage
		}
		tok, rec, err := store.CreateToken(name, ticket.TokenOptions{Label: *label, Scope: *scope, Expires: exp})
		if err != nil {
			return a.fail(err)
		}
		until := "unbefristet / no expiry"
		if !rec.Expires.IsZero() {
			until = "gültig bis / valid until " + rec.Expires.In(cfg.Location).Format("2006-01-02 15:04 MST")
		}
		fmt.Fprintf(a.stderr, "API-Token %s für %s – wird nur jetzt angezeigt, nur sein Hash wird gespeichert.\n"+
			"API token %s for %s – shown only now; only its hash is stored.\n"+
			"Scope: %s; %s\n"+
			"Authorization: Bearer <token>\n", rec.ID, name, rec.ID, name, rec.Scope, until)
		fmt.Fprintln(a.stdout, tok)
	case "list":
		list, err := store.Tokens(name)
		if err != nil {
			return a.fail(err)
		}
		if *asJSON {
			return printJSONList(a.stdout, list)
		}
		tw := newTable(a.stdout)
		fmt.Fprintln(tw, "ID\tUSER\tSCOPE\tCREATED\tEXPIRES\tLABEL")
		for _, t := range list {
			exp := "never"
			if !t.Expires.IsZero() {
				exp = t.Expires.Format(time.RFC3339)
				if t.Expired(a.now()) {
					exp += " (expired)"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, t.Scope, t.Created.Format(time.RFC3339), exp, t.Label)
		}
		tw.Flush()
	case "revoke":
		if err := store.RevokeToken(name, pos[1]); err != nil {
			return a.fail(err)
		}
		fmt.Fprintf(a.stdout, "Token %s von %s widerrufen. / Token %s of %s revoked.\n", pos[1], name, pos[1], name)
	}
	return exitOK
}
