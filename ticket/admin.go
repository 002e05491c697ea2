package ticket

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Administration of accounts while the daemon runs (issue 11 item 7): the web's admin
// pages, the daemon's local API and the command line (register opened directly) all
// change users and tokens through the functions below, which write the change and its
// audit entry (actor, action, target) in one transaction: no change without its entry.

// Token scopes. A token without a scope (created before scopes existed) is read-write,
// as it was.
const (
	ScopeRead      = "read"       // GET only
	ScopeReadWrite = "read-write" // GET and the changes of the API
)

// Scopes returns the valid token scopes, for forms and messages that name them.
func Scopes() []string { return []string{ScopeRead, ScopeReadWrite} }

// ValidScope reports whether s is a known token scope.
func ValidScope(s string) bool { return s == ScopeRead || s == ScopeReadWrite }

// ErrTokenExpired: AuthenticateTokenAt with a token past its expiry.
var ErrTokenExpired = errors.New("token expired")

// TokenOptions describe a new API token.
type TokenOptions struct {
	Label   string
	Scope   string    // ScopeRead or ScopeReadWrite; "" = ScopeReadWrite
	Expires time.Time // zero = never
}

// CanWrite reports whether the token may change cases (scope read-write).
func (t Token) CanWrite() bool { return t.Scope == ScopeReadWrite }

// Expired reports whether the token has expired at now.
func (t Token) Expired(now time.Time) bool { return !t.Expires.IsZero() && !now.Before(t.Expires) }

// decodeToken reads a token record; records written before scopes and expiry existed
// read as read-write without expiry (their meaning then).
func decodeToken(v []byte) (Token, error) {
	var t Token
	if err := json.Unmarshal(v, &t); err != nil {
		return t, err
	}
	if t.Scope == "" {
		t.Scope = ScopeReadWrite
	}
	return t, nil
}

// auditAccount writes the audit entry of an account change in tx.
func auditAccount(tx *bolt.Tx, a Actor, action, detail string) error {
	e := a.NewAuditEntry(action, Reference{}, detail)
	return appendAudit(tx, &e)
}

func grantDetail(u *User) string {
	return fmt.Sprintf("%s role=%s mailboxes=%s", u.Name, u.Role, strings.Join(u.Mailboxes, ","))
}

// AdminAddUser adds user u (see AddUser) by actor a, audited as user_add.
func (s *Store) AdminAddUser(a Actor, u User, passwordHash string) error {
	return s.addUser(u, passwordHash, a.At, func(tx *bolt.Tx, u *User) error {
		return auditAccount(tx, a, AuditUserAdd, grantDetail(u))
	})
}

// adminUpdate applies fn to user name and writes the audit entry detail(u) in one
// transaction.
func (s *Store) adminUpdate(a Actor, what, action, name string, fn func(u *userRecord) error, detail func(u *User) string) (*User, error) {
	var out User
	err := s.updateUserThen(what, name, fn, func(tx *bolt.Tx, u *userRecord) error {
		out = u.User
		return auditAccount(tx, a, action, detail(&u.User))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AdminSetPassword sets the password hash of user name (a HashPassword result), audited
// as user_password.
func (s *Store) AdminSetPassword(a Actor, name, passwordHash string) error {
	if _, _, _, err := parseHash(passwordHash); err != nil {
		return fmt.Errorf("set password of user %q: %w", name, err)
	}
	_, err := s.adminUpdate(a, "set password", AuditUserPassword, name, func(u *userRecord) error {
		u.PasswordHash, u.PasswordSet = passwordHash, a.At
		return nil
	}, func(u *User) string { return u.Name })
	return err
}

// AdminSetDisabled disables or enables user name, audited as user_disable or
// user_enable. Sessions and tokens of a disabled user stop working at their next request.
func (s *Store) AdminSetDisabled(a Actor, name string, disabled bool) error {
	action := AuditUserEnable
	if disabled {
		action = AuditUserDisable
	}
	_, err := s.adminUpdate(a, "set disabled", action, name, func(u *userRecord) error {
		u.Disabled = disabled
		return nil
	}, func(u *User) string { return u.Name })
	return err
}

// AdminSetGrants sets the role and granted mailboxes of user name, audited as
// user_grant, and returns the user as stored.
func (s *Store) AdminSetGrants(a Actor, name string, role Role, mailboxes []string) (*User, error) {
	return s.adminUpdate(a, "set grants", AuditUserGrant, name, func(u *userRecord) error {
		u.Role, u.Mailboxes = role, normalizeGrants(mailboxes)
		return checkUser(&u.User)
	}, grantDetail)
}

// AdminCreateToken creates an API token for user name (see CreateToken) with a scope and
// an expiry, audited as token_create. A disabled user gets none (ErrDisabled); an unknown
// scope or an expiry not after a.At is ErrBadUser.
func (s *Store) AdminCreateToken(a Actor, name string, o TokenOptions) (string, Token, error) {
	name = NormalizeUserName(name)
	if o.Scope == "" {
		o.Scope = ScopeReadWrite
	}
	if !ValidScope(o.Scope) {
		return "", Token{}, fmt.Errorf("create token for %q: scope %q (want %s): %w", name, o.Scope, strings.Join(Scopes(), " or "), ErrBadUser)
	}
	if !o.Expires.IsZero() && !o.Expires.After(a.At) {
		return "", Token{}, fmt.Errorf("create token for %q: expiry %s is not in the future: %w", name, o.Expires.Format(time.RFC3339), ErrBadUser)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", Token{}, fmt.Errorf("create token for %q: %w", name, err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	h := tokenHash(token)
	rec := Token{ID: h[:12], User: name, Label: truncate(strings.TrimSpace(o.Label), maxName), Created: a.At,
		Scope: o.Scope, Expires: o.Expires}
	err := s.db.Update(func(tx *bolt.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		if u.Disabled {
			return fmt.Errorf("user %q: %w", name, ErrDisabled)
		}
		if err := putToken(tx, h, &rec); err != nil {
			return err
		}
		detail := fmt.Sprintf("%s id=%s scope=%s", name, rec.ID, rec.Scope)
		if !rec.Expires.IsZero() {
			detail += " expires=" + rec.Expires.UTC().Format(time.RFC3339)
		}
		return auditAccount(tx, a, AuditTokenCreate, detail)
	})
	if err != nil {
		return "", Token{}, fmt.Errorf("create token for %q: %w", name, err)
	}
	return token, rec, nil
}

// AdminRevokeToken deletes token id of user name (see RevokeToken), audited as
// token_revoke.
func (s *Store) AdminRevokeToken(a Actor, name, id string) error {
	name = NormalizeUserName(name)
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := revokeToken(tx, name, id); err != nil {
			return err
		}
		return auditAccount(tx, a, AuditTokenRevoke, fmt.Sprintf("%s id=%s", name, id))
	})
	if err != nil {
		return fmt.Errorf("revoke token %s of %q: %w", id, name, err)
	}
	return nil
}

// AuthenticateTokenAt returns the user and the record of an API token at now. An
// unknown token gives an error wrapping ErrBadCredentials, an expired one ErrTokenExpired,
// a token of a disabled user ErrDisabled.
func (s *Store) AuthenticateTokenAt(token string, now time.Time) (*User, Token, error) {
	h := tokenHash(token)
	var u *userRecord
	var t Token
	err := s.db.View(func(tx *bolt.Tx) error {
		b := bucket(tx, bucketTokens)
		var v []byte
		if b != nil && strings.HasPrefix(token, tokenPrefix) {
			v = b.Get([]byte(h))
		}
		if v == nil {
			return ErrBadCredentials
		}
		var err error
		if t, err = decodeToken(v); err != nil {
			return fmt.Errorf("decode token %s: %w", h[:12], err)
		}
		if u, err = getUser(tx, t.User); errors.Is(err, ErrNotFound) {
			return ErrBadCredentials
		}
		return err
	})
	if err != nil {
		return nil, Token{}, fmt.Errorf("authenticate token: %w", err)
	}
	if t.Expired(now) {
		return nil, t, fmt.Errorf("authenticate token %s of %q: %w", t.ID, u.Name, ErrTokenExpired)
	}
	if u.Disabled {
		return nil, t, fmt.Errorf("authenticate token of %q: %w", u.Name, ErrDisabled)
	}
	return &u.User, t, nil
}

// ParseExpiry reads when a new token expires: "" or "never" for never; a count of days
// or weeks ("30d", "4w") or a Go duration ("36h") from now; or a date (YYYY-MM-DD),
// valid through that day in loc. A time not after now is an error.
func ParseExpiry(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "never") {
		return time.Time{}, nil
	}
	var at time.Time
	if d, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		at = d.AddDate(0, 0, 1)
	} else if n, unit, ok := cutUnit(s); ok {
		switch unit {
		case 'd':
			at = now.AddDate(0, 0, n)
		case 'w':
			at = now.AddDate(0, 0, 7*n)
		}
	} else if d, err := time.ParseDuration(s); err == nil {
		at = now.Add(d)
	} else {
		return time.Time{}, fmt.Errorf("expiry %q: use days (30d), weeks (4w), hours (36h), a date (YYYY-MM-DD) or never", s)
	}
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("expiry %q is not in the future", s)
	}
	return at, nil
}

// cutUnit reads "<digits>d" or "<digits>w" (at most 5 digits).
func cutUnit(s string) (int, byte, bool) {
	if len(s) < 2 || len(s) > 6 {
		return 0, 0, false
	}
	unit := s[len(s)-1] | 0x20
	if unit != 'd' && unit != 'w' {
		return 0, 0, false
	}
	n := 0
	for _, c := range s[:len(s)-1] {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, unit, true
}

// PasswordAlphabet leaves out characters that are easily confused (0/O, 1/l/I).
const PasswordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// GeneratePassword returns 20 random characters of PasswordAlphabet (about 116 bits),
// for a password that is shown once to the admin who set it.
func GeneratePassword() string {
	b := make([]byte, 20)
	for i := range b {
		b[i] = PasswordAlphabet[randIndex(len(PasswordAlphabet))]
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
