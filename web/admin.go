package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/intake-office/intake/ticket"
)

// Administration of users and API tokens while the daemon runs (issue 11 item 7): admin
// pages under /admin/users. Every change is a POST (behind CrossOriginProtection like
// every POST), made and audited in one transaction by the ticket.Store.Admin* functions
// with the admin as actor. A generated password or a new token is shown once, in the
// answer to the POST that made it, and never again; only its hash is stored.

// adminRoutes adds the admin pages to mux.
func (s *server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/users", s.page(s.admin(s.usersPage)))
	mux.HandleFunc("POST /admin/users", s.page(s.admin(s.userAdd)))
	mux.HandleFunc("GET /admin/users/{name}", s.page(s.admin(s.userPage)))
	mux.HandleFunc("POST /admin/users/{name}/grants", s.page(s.admin(s.userGrants)))
	mux.HandleFunc("POST /admin/users/{name}/disable", s.page(s.admin(s.userDisable(true))))
	mux.HandleFunc("POST /admin/users/{name}/enable", s.page(s.admin(s.userDisable(false))))
	mux.HandleFunc("POST /admin/users/{name}/password", s.page(s.admin(s.userPassword)))
	mux.HandleFunc("POST /admin/users/{name}/tokens", s.page(s.admin(s.tokenCreate)))
	mux.HandleFunc("POST /admin/users/{name}/tokens/{id}/revoke", s.page(s.admin(s.tokenRevoke)))
}

// admin lets only admins through; a clerk gets 403. A POST's form is parsed here.
func (s *server) admin(h pageHandler) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, u *ticket.User) {
		if !u.IsAdmin() {
			s.errorPage(w, r, u, http.StatusForbidden, "err.forbidden")
			return
		}
		if r.Method == http.MethodPost {
			if err := form(w, r); err != nil {
				s.errorPage(w, r, u, http.StatusBadRequest, "err.badrequest")
				return
			}
		}
		h(w, r, u)
	}
}

// tokenExpiries returns the choices of the token form (values of ticket.ParseExpiry).
func tokenExpiries() []string { return []string{"30d", "90d", "365d", "never"} }

type usersData struct {
	Users     []ticket.User
	Tokens    []ticket.Token
	ShowUser  bool // the token list names each token's user
	Mailboxes []string
	Roles     []ticket.Role
	Error     string
	Now       time.Time
	// the add form as sent, when it was refused
	Name  string
	Role  ticket.Role
	Boxes []string
}

type userData struct {
	User      *ticket.User
	Tokens    []ticket.Token
	ShowUser  bool
	Mailboxes []string
	Roles     []ticket.Role
	Scopes    []string
	Expiries  []string
	Self      bool
	Error     string
	Now       time.Time
}

// secretData is the one-time display of a generated password or a new token.
type secretData struct {
	Kind   string // "password" or "token"
	User   string
	Secret string
	Token  *ticket.Token
}

func (s *server) mailboxNames() []string {
	var out []string
	for _, m := range s.cfg.Mailboxes {
		out = append(out, m.Name)
	}
	return out
}

// formGrants returns the checked mailboxes; ok is false for one that is not configured.
func (s *server) formGrants(r *http.Request) ([]string, bool) {
	boxes := r.PostForm["mailbox"]
	for _, m := range boxes {
		if s.cfg.Mailbox(m) == nil {
			return nil, false
		}
	}
	return boxes, true
}

func (s *server) usersPage(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	s.renderUsers(w, r, u, http.StatusOK, usersData{Role: ticket.RoleClerk})
}

func (s *server) renderUsers(w http.ResponseWriter, r *http.Request, u *ticket.User, status int, d usersData) {
	users, err := s.store.Users()
	if err != nil {
		s.log.Error("list users", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	tokens, err := s.store.Tokens("")
	if err != nil {
		s.log.Error("list tokens", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	d.Users, d.Tokens, d.Mailboxes, d.Now, d.ShowUser = users, tokens, s.mailboxNames(), s.now(), true
	d.Roles = []ticket.Role{ticket.RoleClerk, ticket.RoleAdmin}
	s.render(w, r, u, status, "admin_users", "admin.users.title", d)
}

// hashPassword hashes a generated password, at most maxConcurrentLogin at a time
// (argon2id takes 64 MiB each).
func (s *server) hashPassword(r *http.Request, pw string) (string, error) {
	select {
	case s.loginSlots <- struct{}{}:
	case <-r.Context().Done():
		return "", r.Context().Err()
	}
	defer func() { <-s.loginSlots }()
	p := s.argon
	if p == (ticket.Argon2Params{}) {
		p = ticket.DefaultArgon2()
	}
	return ticket.HashPassword(pw, p)
}

// userAdd adds a user with a generated password (POST /admin/users) and shows it once.
func (s *server) userAdd(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	name, valid := boundedUserName(r.PostForm.Get("name"))
	role := ticket.Role(r.PostForm.Get("role"))
	boxes, ok := s.formGrants(r)
	d := usersData{Name: name, Role: role, Boxes: boxes}
	switch {
	case !valid:
		d.Error, d.Name = "err.username", ""
	case !role.Valid():
		d.Error = "err.role"
	case !ok:
		d.Error = "err.mailbox"
	}
	if d.Error != "" {
		s.renderUsers(w, r, u, http.StatusBadRequest, d)
		return
	}
	pw := ticket.GeneratePassword()
	hash, err := s.hashPassword(r, pw)
	if err != nil {
		s.log.Error("hash password", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	err = s.store.AdminAddUser(s.actor(r, u), ticket.User{Name: name, Role: role, Mailboxes: boxes}, hash)
	if errors.Is(err, ticket.ErrExists) {
		d.Error = "err.userexists"
		s.renderUsers(w, r, u, http.StatusConflict, d)
		return
	}
	if err != nil {
		s.log.Error("add user", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	s.log.Info("user added", "user", name, "by", u.Name)
	s.render(w, r, u, http.StatusOK, "admin_secret", "admin.secret.title", secretData{Kind: "password", User: name, Secret: pw})
}

// subject returns user {name} of the path, or answers 404.
func (s *server) subject(w http.ResponseWriter, r *http.Request, u *ticket.User) (*ticket.User, bool) {
	name, valid := boundedUserName(r.PathValue("name"))
	if !valid {
		s.notFound(w, r, u)
		return nil, false
	}
	su, err := s.store.User(name)
	if errors.Is(err, ticket.ErrNotFound) {
		s.notFound(w, r, u)
		return nil, false
	}
	if err != nil {
		s.log.Error("get user", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return nil, false
	}
	return su, true
}

func (s *server) userPage(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	su, ok := s.subject(w, r, u)
	if !ok {
		return
	}
	s.renderUser(w, r, u, su, http.StatusOK, r.URL.Query().Get("err"))
}

func (s *server) renderUser(w http.ResponseWriter, r *http.Request, u, su *ticket.User, status int, errKey string) {
	tokens, err := s.store.Tokens(su.Name)
	if err != nil {
		s.log.Error("list tokens", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	if errKey != "" && !s.msgs.has(errKey) {
		errKey = ""
	}
	d := userData{User: su, Tokens: tokens, Mailboxes: s.mailboxNames(), Roles: []ticket.Role{ticket.RoleClerk, ticket.RoleAdmin},
		Scopes: ticket.Scopes(), Expiries: tokenExpiries(), Self: su.Name == u.Name, Error: errKey, Now: s.now()}
	s.render(w, r, u, status, "admin_user", "admin.user.title", d)
}

func userURL(name string) string { return "/admin/users/" + url.PathEscape(name) }

// userGrants sets role and mailboxes (POST /admin/users/{name}/grants). An admin cannot
// take their own admin role: someone must remain who can give it back.
func (s *server) userGrants(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	su, ok := s.subject(w, r, u)
	if !ok {
		return
	}
	role := ticket.Role(r.PostForm.Get("role"))
	boxes, ok := s.formGrants(r)
	switch {
	case !role.Valid():
		s.renderUser(w, r, u, su, http.StatusBadRequest, "err.role")
		return
	case !ok:
		s.renderUser(w, r, u, su, http.StatusBadRequest, "err.mailbox")
		return
	case su.Name == u.Name && role != ticket.RoleAdmin:
		s.renderUser(w, r, u, su, http.StatusConflict, "err.self")
		return
	}
	if _, err := s.store.AdminSetGrants(s.actor(r, u), su.Name, role, boxes); err != nil {
		s.log.Error("set grants", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	http.Redirect(w, r, userURL(su.Name)+"?done=grants", http.StatusSeeOther)
}

// userDisable disables or enables a user; an admin cannot disable themselves.
func (s *server) userDisable(disabled bool) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, u *ticket.User) {
		su, ok := s.subject(w, r, u)
		if !ok {
			return
		}
		if disabled && su.Name == u.Name {
			s.renderUser(w, r, u, su, http.StatusConflict, "err.self")
			return
		}
		if err := s.store.AdminSetDisabled(s.actor(r, u), su.Name, disabled); err != nil {
			s.log.Error("set disabled", "err", err)
			s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
			return
		}
		done := "enabled"
		if disabled {
			done = "disabled"
			s.sessions.removeUser(su.Name)
		}
		http.Redirect(w, r, userURL(su.Name)+"?done="+done, http.StatusSeeOther)
	}
}

// userPassword resets a password to a generated one and shows it once.
func (s *server) userPassword(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	su, ok := s.subject(w, r, u)
	if !ok {
		return
	}
	pw := ticket.GeneratePassword()
	hash, err := s.hashPassword(r, pw)
	if err == nil {
		err = s.store.AdminSetPassword(s.actor(r, u), su.Name, hash)
	}
	if err != nil {
		s.log.Error("reset password", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	// The old password's sessions end: a reset is often the answer to a leak.
	if su.Name != u.Name {
		s.sessions.removeUser(su.Name)
	}
	s.render(w, r, u, http.StatusOK, "admin_secret", "admin.secret.title", secretData{Kind: "password", User: su.Name, Secret: pw})
}

// tokenCreate creates an API token and shows it once.
func (s *server) tokenCreate(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	su, ok := s.subject(w, r, u)
	if !ok {
		return
	}
	scope := r.PostForm.Get("scope")
	exp := r.PostForm.Get("expires")
	if !ticket.ValidScope(scope) || !slices.Contains(tokenExpiries(), exp) {
		s.renderUser(w, r, u, su, http.StatusBadRequest, "err.token")
		return
	}
	until, err := ticket.ParseExpiry(exp, s.now(), s.loc)
	if err != nil {
		s.renderUser(w, r, u, su, http.StatusBadRequest, "err.token")
		return
	}
	label := strings.TrimSpace(r.PostForm.Get("label"))
	tok, rec, err := s.store.AdminCreateToken(s.actor(r, u), su.Name, ticket.TokenOptions{Label: label, Scope: scope, Expires: until})
	if errors.Is(err, ticket.ErrDisabled) {
		s.renderUser(w, r, u, su, http.StatusConflict, "err.tokendisabled")
		return
	}
	if err != nil {
		s.log.Error("create token", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	s.render(w, r, u, http.StatusOK, "admin_secret", "admin.secret.title", secretData{Kind: "token", User: su.Name, Secret: tok, Token: &rec})
}

// tokenRevoke revokes a token (POST /admin/users/{name}/tokens/{id}/revoke).
func (s *server) tokenRevoke(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	su, ok := s.subject(w, r, u)
	if !ok {
		return
	}
	err := s.store.AdminRevokeToken(s.actor(r, u), su.Name, r.PathValue("id"))
	if errors.Is(err, ticket.ErrNotFound) {
		s.notFound(w, r, u)
		return
	}
	if err != nil {
		s.log.Error("revoke token", "err", err)
		s.errorPage(w, r, u, http.StatusInternalServerError, "err.internal")
		return
	}
	http.Redirect(w, r, userURL(su.Name)+"?done=revoked", http.StatusSeeOther)
}

// adminMessages are the texts of the admin pages, German first, English second.
func adminMessages() catalog {
	return catalog{
		"nav.users":                {"Benutzer", "Users"},
		"admin.users.title":        {"Benutzer und API-Tokens", "Users and API tokens"},
		"admin.user.title":         {"Benutzer bearbeiten", "Edit user"},
		"admin.secret.title":       {"Einmalige Anzeige", "Shown once"},
		"admin.users.list":         {"Benutzer", "Users"},
		"admin.users.add":          {"Benutzer anlegen", "Add a user"},
		"admin.users.add.hint":     {"intake erzeugt ein Passwort und zeigt es einmal an.", "intake generates a password and shows it once."},
		"admin.name":               {"Benutzername", "User name"},
		"admin.name.hint":          {"Kleinbuchstaben, Ziffern und . _ @ -", "lower-case letters, digits and . _ @ -"},
		"admin.role":               {"Rolle", "Role"},
		"admin.mailboxes":          {"Postfächer (Sachbearbeitung)", "Mailboxes (clerks)"},
		"admin.all":                {"alle", "all"},
		"admin.state":              {"Zustand", "State"},
		"admin.active":             {"aktiv", "active"},
		"admin.disabled":           {"gesperrt", "disabled"},
		"admin.pwset":              {"Passwort gesetzt", "Password set"},
		"admin.edit":               {"bearbeiten", "edit"},
		"admin.edit.label":         {"%s bearbeiten", "Edit %s"},
		"admin.add":                {"Anlegen", "Add"},
		"admin.grants":             {"Rolle und Postfächer", "Role and mailboxes"},
		"admin.save":               {"Speichern", "Save"},
		"admin.account":            {"Zugang", "Access"},
		"admin.disable":            {"Sperren", "Disable"},
		"admin.enable":             {"Entsperren", "Enable"},
		"admin.resetpw":            {"Neues Passwort erzeugen", "Generate a new password"},
		"admin.resetpw.hint":       {"Das bisherige Passwort gilt danach nicht mehr.", "The previous password stops working."},
		"admin.tokens":             {"API-Tokens", "API tokens"},
		"admin.tokens.none":        {"Keine API-Tokens.", "No API tokens."},
		"admin.token.id":           {"Kennung", "ID"},
		"admin.token.user":         {"Benutzer", "User"},
		"admin.token.label":        {"Zweck", "Purpose"},
		"admin.token.scope":        {"Berechtigung", "Scope"},
		"admin.token.created":      {"Erstellt", "Created"},
		"admin.token.expires":      {"Gültig bis", "Valid until"},
		"admin.token.never":        {"unbefristet", "no expiry"},
		"admin.token.expired":      {"abgelaufen", "expired"},
		"admin.token.revoke":       {"Widerrufen", "Revoke"},
		"admin.token.revoke.label": {"Token %s widerrufen", "Revoke token %s"},
		"admin.token.create":       {"API-Token erstellen", "Create an API token"},
		"admin.token.create.hint":  {"Das Token wird einmal angezeigt; gespeichert wird nur sein Hash.", "The token is shown once; only its hash is stored."},
		"admin.scope.read":         {"nur lesen", "read only"},
		"admin.scope.read-write":   {"lesen und ändern", "read and write"},
		"admin.exp.30d":            {"30 Tage", "30 days"},
		"admin.exp.90d":            {"90 Tage", "90 days"},
		"admin.exp.365d":           {"1 Jahr", "1 year"},
		"admin.exp.never":          {"unbefristet", "no expiry"},
		"admin.actions":            {"Aktionen", "Actions"},
		"admin.back":               {"Zur Benutzerliste", "Back to the users"},
		"admin.secret.password":    {"Passwort für %s", "Password for %s"},
		"admin.secret.token":       {"API-Token für %s", "API token for %s"},
		"admin.secret.hint": {"Wird nur jetzt angezeigt. Bitte auf sicherem Weg weitergeben; intake kann es nicht wieder anzeigen.",
			"Shown only now. Please hand it on securely; intake cannot show it again."},
		"admin.secret.header": {"Verwendung: Kopfzeile Authorization: Bearer <Token>", "Use: header Authorization: Bearer <token>"},
		"admin.self":          {"Das sind Sie.", "This is you."},
		"err.username":        {"Ungültiger Benutzername (1–64 Zeichen: a–z, 0–9, . _ @ -).", "Invalid user name (1-64 characters: a-z, 0-9, . _ @ -)."},
		"err.userexists":      {"Diesen Benutzer gibt es schon.", "This user exists already."},
		"err.role":            {"Bitte eine Rolle wählen.", "Please choose a role."},
		"err.mailbox":         {"Unbekanntes Postfach.", "Unknown mailbox."},
		"err.self":            {"Sie können sich nicht selbst sperren oder die Administration entziehen.", "You cannot disable yourself or take away your own admin role."},
		"err.token":           {"Bitte Berechtigung und Gültigkeit wählen.", "Please choose a scope and a validity."},
		"err.tokendisabled":   {"Ein gesperrter Benutzer erhält kein API-Token.", "A disabled user gets no API token."},
		"done.grants":         {"Rolle und Postfächer wurden gespeichert.", "Role and mailboxes have been saved."},
		"done.disabled":       {"Der Benutzer wurde gesperrt; Sitzungen und API-Tokens gelten nicht mehr.", "The user has been disabled; sessions and API tokens stop working."},
		"done.enabled":        {"Der Benutzer wurde entsperrt.", "The user has been enabled."},
		"done.revoked":        {"Das API-Token wurde widerrufen.", "The API token has been revoked."},
	}
}

// removeUser ends every session of user (after a password reset or a disable).
func (ss *sessions) removeUser(user string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, se := range ss.m {
		if se.user == user {
			delete(ss.m, k)
		}
	}
}
