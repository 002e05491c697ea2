package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/intake-office/intake/ticket"
)

// Accounts changes the users and API tokens of the web interface (issue 11 item 7). The
// register opened directly (StoreAccounts) and the client of a running daemon's local
// API (*LocalClient) both implement it, so that "intake user …" and "intake token …"
// have one code path whether the daemon runs or not. Every change is audited with its
// actor: through the socket the local user the kernel names (SO_PEERCRED), otherwise the
// process's own uid.
type Accounts interface {
	AddUser(u ticket.User, passwordHash string) error
	SetPassword(name, passwordHash string) error
	SetDisabled(name string, disabled bool) error
	SetGrants(name string, role ticket.Role, mailboxes []string) (*ticket.User, error)
	User(name string) (*ticket.User, error)
	Users() ([]ticket.User, error)
	CreateToken(name string, o ticket.TokenOptions) (string, ticket.Token, error)
	Tokens(name string) ([]ticket.Token, error)
	RevokeToken(name, id string) error
}

// StoreAccounts is Accounts on the register itself, for one actor.
type StoreAccounts struct {
	Store *ticket.Store
	Actor func() ticket.Actor
}

// The methods of StoreAccounts implement Accounts with the ticket.Store.Admin* functions,
// which write each change and its audit entry in one transaction.

func (a StoreAccounts) AddUser(u ticket.User, hash string) error {
	return a.Store.AdminAddUser(a.Actor(), u, hash)
}
func (a StoreAccounts) SetPassword(name, hash string) error {
	return a.Store.AdminSetPassword(a.Actor(), name, hash)
}
func (a StoreAccounts) SetDisabled(name string, disabled bool) error {
	return a.Store.AdminSetDisabled(a.Actor(), name, disabled)
}
func (a StoreAccounts) SetGrants(name string, role ticket.Role, mailboxes []string) (*ticket.User, error) {
	return a.Store.AdminSetGrants(a.Actor(), name, role, mailboxes)
}
func (a StoreAccounts) User(name string) (*ticket.User, error) { return a.Store.User(name) }
func (a StoreAccounts) Users() ([]ticket.User, error)          { return a.Store.Users() }
func (a StoreAccounts) CreateToken(name string, o ticket.TokenOptions) (string, ticket.Token, error) {
	return a.Store.AdminCreateToken(a.Actor(), name, o)
}
func (a StoreAccounts) Tokens(name string) ([]ticket.Token, error) { return a.Store.Tokens(name) }
func (a StoreAccounts) RevokeToken(name, id string) error {
	return a.Store.AdminRevokeToken(a.Actor(), name, id)
}

// Error codes of the account routes of the local API, so that the client gives the
// caller the same errors (errors.Is) as the register would.
var accountErrors = []struct {
	code   string
	err    error
	status int
}{
	{"not_found", ticket.ErrNotFound, http.StatusNotFound},
	{"exists", ticket.ErrExists, http.StatusConflict},
	{"disabled", ticket.ErrDisabled, http.StatusConflict},
	{"bad_user", ticket.ErrBadUser, http.StatusBadRequest},
	{"weak_password", ticket.ErrWeakPassword, http.StatusBadRequest},
}

func writeAccountError(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, ""
	for _, e := range accountErrors {
		if errors.Is(err, e.err) {
			status, code = e.status, e.code
			break
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "code": code})
}

// accountRequest is the body of the account routes.
type accountRequest struct {
	Name         string        `json:"name,omitempty"`
	Role         ticket.Role   `json:"role,omitempty"`
	Mailboxes    []string      `json:"mailboxes,omitempty"`
	PasswordHash string        `json:"password_hash,omitempty"`
	Disabled     bool          `json:"disabled,omitempty"`
	Label        string        `json:"label,omitempty"`
	Scope        string        `json:"scope,omitempty"`
	Expires      time.Time     `json:"expires,omitzero"`
	ID           string        `json:"id,omitempty"`
	User         *ticket.User  `json:"user,omitempty"`  // answers
	Token        string        `json:"token,omitempty"` // answer of create: shown once
	Record       *ticket.Token `json:"record,omitempty"`
}

// checkGrants refuses mailboxes the daemon does not run.
func (d *Daemon) checkGrants(boxes []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range boxes {
		if d.byName[m] == nil {
			names := make([]string, 0, len(d.byName))
			for n := range d.byName {
				names = append(names, n)
			}
			slices.Sort(names)
			return fmt.Errorf("mailbox %q is not configured (configured: %s): %w", m, strings.Join(names, ", "), ticket.ErrBadUser)
		}
	}
	return nil
}

// accountRoutes adds the account routes to the local API: the change is made by the
// local user the kernel names for the connection, and audited under that name.
func accountRoutes(mux *http.ServeMux, store *ticket.Store, d *Daemon) {
	handle := func(pattern string, fn func(a StoreAccounts, req accountRequest, r *http.Request) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			actor, ok := requirePeer(w, r)
			if !ok {
				return
			}
			var req accountRequest
			if r.Method == http.MethodPost {
				dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&req); err != nil {
					writeJSONError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
					return
				}
			}
			out, err := fn(StoreAccounts{Store: store, Actor: actor}, req, r)
			if err != nil {
				writeAccountError(w, err)
				return
			}
			writeJSON(w, out)
		})
	}
	handle("GET /v1/users", func(a StoreAccounts, _ accountRequest, _ *http.Request) (any, error) {
		list, err := a.Users()
		if list == nil {
			list = []ticket.User{}
		}
		return list, err
	})
	handle("GET /v1/users/{name}", func(a StoreAccounts, _ accountRequest, r *http.Request) (any, error) {
		return a.User(r.PathValue("name"))
	})
	handle("POST /v1/users", func(a StoreAccounts, req accountRequest, _ *http.Request) (any, error) {
		if err := d.checkGrants(req.Mailboxes); err != nil {
			return nil, err
		}
		return map[string]bool{"ok": true}, a.AddUser(ticket.User{Name: req.Name, Role: req.Role, Mailboxes: req.Mailboxes}, req.PasswordHash)
	})
	handle("POST /v1/users/{name}/password", func(a StoreAccounts, req accountRequest, r *http.Request) (any, error) {
		return map[string]bool{"ok": true}, a.SetPassword(r.PathValue("name"), req.PasswordHash)
	})
	handle("POST /v1/users/{name}/disabled", func(a StoreAccounts, req accountRequest, r *http.Request) (any, error) {
		return map[string]bool{"ok": true}, a.SetDisabled(r.PathValue("name"), req.Disabled)
	})
	handle("POST /v1/users/{name}/grants", func(a StoreAccounts, req accountRequest, r *http.Request) (any, error) {
		if err := d.checkGrants(req.Mailboxes); err != nil {
			return nil, err
		}
		return a.SetGrants(r.PathValue("name"), req.Role, req.Mailboxes)
	})
	handle("GET /v1/tokens", func(a StoreAccounts, _ accountRequest, r *http.Request) (any, error) {
		list, err := a.Tokens(r.URL.Query().Get("user"))
		if list == nil {
			list = []ticket.Token{}
		}
		return list, err
	})
	handle("POST /v1/tokens", func(a StoreAccounts, req accountRequest, _ *http.Request) (any, error) {
		tok, rec, err := a.CreateToken(req.Name, ticket.TokenOptions{Label: req.Label, Scope: req.Scope, Expires: req.Expires})
		if err != nil {
			return nil, err
		}
		return accountRequest{Token: tok, Record: &rec}, nil
	})
	handle("POST /v1/tokens/revoke", func(a StoreAccounts, req accountRequest, _ *http.Request) (any, error) {
		return map[string]bool{"ok": true}, a.RevokeToken(req.Name, req.ID)
	})
}

// remoteAccountError is an error of the daemon's account routes; it unwraps to the
// register's error of the same meaning.
type remoteAccountError struct {
	msg string
	err error
}

func (e *remoteAccountError) Error() string { return e.msg }
func (e *remoteAccountError) Unwrap() error { return e.err }

// call sends one account request to the daemon and decodes its answer into out.
func (c *LocalClient) call(method, path string, body any, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, "http://intake"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("ask the running daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Code string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		for _, ae := range accountErrors {
			if ae.code == e.Code {
				return &remoteAccountError{msg: e.Error, err: ae.err}
			}
		}
		return fmt.Errorf("daemon answered %s: %s", resp.Status, e.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read the daemon's answer: %w", err)
	}
	return nil
}

func userPath(name string) string {
	return "/v1/users/" + url.PathEscape(ticket.NormalizeUserName(name))
}

// AddUser implements Accounts.
func (c *LocalClient) AddUser(u ticket.User, hash string) error {
	return c.call(http.MethodPost, "/v1/users", accountRequest{Name: u.Name, Role: u.Role, Mailboxes: u.Mailboxes, PasswordHash: hash}, nil)
}

// SetPassword implements Accounts.
func (c *LocalClient) SetPassword(name, hash string) error {
	return c.call(http.MethodPost, userPath(name)+"/password", accountRequest{PasswordHash: hash}, nil)
}

// SetDisabled implements Accounts.
func (c *LocalClient) SetDisabled(name string, disabled bool) error {
	return c.call(http.MethodPost, userPath(name)+"/disabled", accountRequest{Disabled: disabled}, nil)
}

// SetGrants implements Accounts.
func (c *LocalClient) SetGrants(name string, role ticket.Role, mailboxes []string) (*ticket.User, error) {
	var u ticket.User
	if err := c.call(http.MethodPost, userPath(name)+"/grants", accountRequest{Role: role, Mailboxes: mailboxes}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// User implements Accounts.
func (c *LocalClient) User(name string) (*ticket.User, error) {
	var u ticket.User
	if err := c.call(http.MethodGet, userPath(name), nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// Users implements Accounts.
func (c *LocalClient) Users() ([]ticket.User, error) {
	var out []ticket.User
	err := c.call(http.MethodGet, "/v1/users", nil, &out)
	return out, err
}

// CreateToken implements Accounts.
func (c *LocalClient) CreateToken(name string, o ticket.TokenOptions) (string, ticket.Token, error) {
	var out accountRequest
	if err := c.call(http.MethodPost, "/v1/tokens", accountRequest{Name: name, Label: o.Label, Scope: o.Scope, Expires: o.Expires}, &out); err != nil {
		return "", ticket.Token{}, err
	}
	if out.Record == nil || out.Token == "" {
		return "", ticket.Token{}, errors.New("create token: the daemon's answer has no token")
	}
	return out.Token, *out.Record, nil
}

// Tokens implements Accounts.
func (c *LocalClient) Tokens(name string) ([]ticket.Token, error) {
	var out []ticket.Token
	err := c.call(http.MethodGet, "/v1/tokens?"+url.Values{"user": {name}}.Encode(), nil, &out)
	return out, err
}

// RevokeToken implements Accounts.
func (c *LocalClient) RevokeToken(name, id string) error {
	return c.call(http.MethodPost, "/v1/tokens/revoke", accountRequest{Name: name, ID: id}, nil)
}
