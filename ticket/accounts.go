package ticket

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/argon2"
)

// Accounts of the web interface and the JSON API: users with argon2id password hashes,
// a role and the mailboxes they are granted, and API tokens. They live in two buckets that
// the first write creates (CreateBucketIfNotExists, the way Open creates the others), so
// a register of schema version 2 needs no migration and older binaries ignore them:
//
//	users    lower-case name -> user record (JSON, with the password hash)
//	tokens   hex SHA-256 of the token -> token record (JSON); the token itself is never stored
//
// Bucket names of the web work (accounts.go, audit.go, casework.go).
const (
	bucketUsers     = "users"
	bucketTokens    = "tokens"
	bucketAudit     = "audit"
	bucketAuditCase = "auditcase"
	bucketCasework  = "casework"
	bucketNotes     = "notes"
)

// Errors of the account functions; test with errors.Is.
var (
	// ErrExists: AddUser with a name that is taken.
	ErrExists = errors.New("already exists")
	// ErrBadCredentials: unknown user, wrong password, unknown token, or a user without
	// a local password.
	ErrBadCredentials = errors.New("wrong user name or password")
	// ErrDisabled: the user (of a password or a token) is disabled.
	ErrDisabled = errors.New("account disabled")
	// ErrWeakPassword: CheckPassword refused the password.
	ErrWeakPassword = errors.New("password too weak")
	// ErrBadUser: a user name, role or grant that is not valid.
	ErrBadUser = errors.New("invalid user")
)

// Role is what a user may do. A clerk sees and works on the cases of the mailboxes granted
// to them; an admin sees every mailbox and the audit log.
type Role string

const (
	RoleClerk Role = "clerk"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleClerk || r == RoleAdmin }

// User is an account of the web interface. The password hash is not part of it.
type User struct {
	Name      string    `json:"name"` // lower case, see ValidUserName
	Role      Role      `json:"role"`
	Mailboxes []string  `json:"mailboxes,omitempty"` // granted mailboxes (clerks); admins see all
	Disabled  bool      `json:"disabled,omitempty"`
	Created   time.Time `json:"created"`
	// PasswordSet is when the password was last set; zero when the user has no local
	// password (a user who only logs in through the trusted proxy header).
	PasswordSet time.Time `json:"password_set,omitzero"`
}

// IsAdmin reports whether u is an admin.
func (u *User) IsAdmin() bool { return u.Role == RoleAdmin }

// CanSee reports whether u may see the cases of mailbox: admins see all, clerks the
// mailboxes granted to them, disabled users none.
func (u *User) CanSee(mailbox string) bool {
	if u.Disabled {
		return false
	}
	return u.IsAdmin() || slices.Contains(u.Mailboxes, mailbox)
}

// Visible returns the mailboxes u may see as a search filter: nil for all (admins), else
// the granted ones (an empty, non-nil slice when there are none).
func (u *User) Visible() []string {
	if u.IsAdmin() && !u.Disabled {
		return nil
	}
	if u.Disabled {
		return []string{}
	}
	return append([]string{}, u.Mailboxes...)
}

type userRecord struct {
	User
	PasswordHash string `json:"password_hash,omitempty"` // PHC string, see HashPassword
}

var (
	userNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)
	grantRE    = regexp.MustCompile(`^[a-z0-9_-]+$`) // config's mailbox names
)

// NormalizeUserName returns name trimmed and in lower case, the form users are stored
// under, so that "Erika" and "erika" are one account.
func NormalizeUserName(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// ValidUserName reports whether name (normalised) is 1-64 of a-z, 0-9, ".", "_", "@", "-",
// starting with a letter or digit. An e-mail address is a valid name, which suits a
// single sign-on proxy that passes addresses.
func ValidUserName(name string) bool { return userNameRE.MatchString(name) }

func checkUser(u *User) error {
	if !ValidUserName(u.Name) {
		return fmt.Errorf("user name %q (want 1-64 of a-z 0-9 . _ @ -): %w", u.Name, ErrBadUser)
	}
	if !u.Role.Valid() {
		return fmt.Errorf("role %q (want clerk or admin): %w", u.Role, ErrBadUser)
	}
	for _, m := range u.Mailboxes {
		if !grantRE.MatchString(m) {
			return fmt.Errorf("mailbox %q: %w", m, ErrBadUser)
		}
	}
	return nil
}

// Argon2Params are the cost parameters of an argon2id hash (RFC 9106 §3.1).
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultArgon2 returns the parameters new passwords are hashed with: RFC 9106 §4, the
// second recommended option (64 MiB, 3 passes, 4 lanes, 128-bit salt, 256-bit tag).
func DefaultArgon2() Argon2Params {
	return Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 4, SaltLen: 16, KeyLen: 32}
}

// Password length bounds (NIST SP 800-63B §5.1.1.2 asks for at least 8 characters and
// allows at least 64; we ask for 12 and stop at 1024 bytes to bound the hashing work).
const (
	MinPasswordLen   = 12
	maxPasswordBytes = 1024
)

// CheckPassword applies the password rules: at least MinPasswordLen characters, at most
// 1024 bytes, valid UTF-8, not only one repeated character, not containing the user name
// (of 3 or more characters).
func CheckPassword(name, password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return fmt.Errorf("password is not valid UTF-8: %w", ErrWeakPassword)
	case n < MinPasswordLen:
		return fmt.Errorf("password of %d characters (at least %d): %w", n, MinPasswordLen, ErrWeakPassword)
	case len(password) > maxPasswordBytes:
		return fmt.Errorf("password of %d bytes (at most %d): %w", len(password), maxPasswordBytes, ErrWeakPassword)
	case strings.Trim(password, password[:firstRuneLen(password)]) == "":
		return fmt.Errorf("password is one repeated character: %w", ErrWeakPassword)
	case len(NormalizeUserName(name)) >= 3 && strings.Contains(strings.ToLower(password), NormalizeUserName(name)):
		return fmt.Errorf("password contains the user name: %w", ErrWeakPassword)
	}
	return nil
}

func firstRuneLen(s string) int {
	_, n := utf8.DecodeRuneInString(s)
	return n
}

// HashPassword hashes password with argon2id (RFC 9106) and a fresh random salt, and
// returns the hash in the PHC string format with its parameters:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<tag> (unpadded standard base64), so that
// VerifyPassword keeps working when DefaultArgon2 changes.
func HashPassword(password string, p Argon2Params) (string, error) {
	if p.Memory < 8*uint32(p.Threads) || p.Time < 1 || p.Threads < 1 || p.SaltLen < 8 || p.KeyLen < 16 {
		return "", fmt.Errorf("hash password: argon2 parameters %+v out of range (RFC 9106 §3.1)", p)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Bounds on the parameters VerifyPassword accepts from a stored hash, so that a damaged
// or hostile record cannot make a login allocate gigabytes.
const (
	maxArgonMemory = 1 << 20 // KiB = 1 GiB
	maxArgonTime   = 100
)

// parseHash splits a PHC argon2id string into parameters, salt and tag.
func parseHash(hash string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errors.New("not an argon2id v=19 PHC string")
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil {
		return p, nil, nil, fmt.Errorf("argon2 parameters %q: %w", parts[3], err)
	}
	if threads < 1 || threads > 255 || p.Time < 1 || p.Time > maxArgonTime || p.Memory < 8*threads || p.Memory > maxArgonMemory {
		return p, nil, nil, fmt.Errorf("argon2 parameters %q out of range", parts[3])
	}
	p.Threads = uint8(threads)
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("argon2 salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 1024 {
		return p, nil, nil, errors.New("argon2 tag")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// VerifyPassword reports whether password matches hash (a HashPassword result), comparing
// in constant time. A hash it cannot read gives an error.
func VerifyPassword(hash, password string) (bool, error) {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// writeBucket returns the top-level bucket name for writing, creating it on first use.
func writeBucket(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", name, err)
	}
	return b, nil
}

func getUser(tx *bolt.Tx, name string) (*userRecord, error) {
	b := bucket(tx, bucketUsers)
	var v []byte
	if b != nil {
		v = b.Get([]byte(name))
	}
	if v == nil {
		return nil, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	var u userRecord
	if err := json.Unmarshal(v, &u); err != nil {
		return nil, fmt.Errorf("decode user %q: %w", name, err)
	}
	return &u, nil
}

func putUser(tx *bolt.Tx, u *userRecord) error {
	b, err := writeBucket(tx, bucketUsers)
	if err != nil {
		return err
	}
	v, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encode user %q: %w", u.Name, err)
	}
	return b.Put([]byte(u.Name), v)
}

// AddUser stores a new user. u.Name is normalised (NormalizeUserName); passwordHash is a
// HashPassword result, or "" for a user without a local password (who can only log in
// through the trusted proxy header). A taken name gives an error wrapping ErrExists.
func (s *Store) AddUser(u User, passwordHash string, at time.Time) error {
	return s.addUser(u, passwordHash, at, nil)
}

// addUser is AddUser; a non-nil audit writes the change's audit entry in the same
// transaction.
func (s *Store) addUser(u User, passwordHash string, at time.Time, audit func(tx *bolt.Tx, u *User) error) error {
	u.Name = NormalizeUserName(u.Name)
	u.Mailboxes = normalizeGrants(u.Mailboxes)
	if err := checkUser(&u); err != nil {
		return fmt.Errorf("add user: %w", err)
	}
	if passwordHash != "" {
		if _, _, _, err := parseHash(passwordHash); err != nil {
			return fmt.Errorf("add user %q: %w", u.Name, err)
		}
		u.PasswordSet = at
	}
	u.Created = at
	err := s.db.Update(func(tx *bolt.Tx) error {
		if _, err := getUser(tx, u.Name); err == nil {
			return fmt.Errorf("user %q: %w", u.Name, ErrExists)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := putUser(tx, &userRecord{User: u, PasswordHash: passwordHash}); err != nil {
			return err
		}
		if audit == nil {
			return nil
		}
		return audit(tx, &u)
	})
	if err != nil {
		return fmt.Errorf("add user %q: %w", u.Name, err)
	}
	return nil
}

// normalizeGrants trims, sorts and de-duplicates mailbox names.
func normalizeGrants(m []string) []string {
	var out []string
	for _, s := range m {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// updateUser applies fn to the stored user name in one transaction.
func (s *Store) updateUser(what, name string, fn func(u *userRecord) error) error {
	return s.updateUserThen(what, name, fn, nil)
}

// updateUserThen is updateUser; a non-nil then runs in the same transaction after the
// changed user is stored (for its audit entry).
func (s *Store) updateUserThen(what, name string, fn func(u *userRecord) error, then func(tx *bolt.Tx, u *userRecord) error) error {
	name = NormalizeUserName(name)
	err := s.db.Update(func(tx *bolt.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		if err := fn(u); err != nil {
			return err
		}
		if err := putUser(tx, u); err != nil || then == nil {
			return err
		}
		return then(tx, u)
	})
	if err != nil {
		return fmt.Errorf("%s of user %q: %w", what, name, err)
	}
	return nil
}

// SetPassword replaces the password hash of user name ("" removes the local password).
func (s *Store) SetPassword(name, passwordHash string, at time.Time) error {
	if passwordHash != "" {
		if _, _, _, err := parseHash(passwordHash); err != nil {
			return fmt.Errorf("set password of user %q: %w", name, err)
		}
	}
	return s.updateUser("set password", name, func(u *userRecord) error {
		u.PasswordHash = passwordHash
		u.PasswordSet = time.Time{}
		if passwordHash != "" {
			u.PasswordSet = at
		}
		return nil
	})
}

// SetDisabled disables or enables user name. A disabled user cannot log in, and their
// sessions and API tokens stop working at their next request.
func (s *Store) SetDisabled(name string, disabled bool) error {
	return s.updateUser("set disabled", name, func(u *userRecord) error {
		u.Disabled = disabled
		return nil
	})
}

// SetGrants sets the role and the granted mailboxes of user name.
func (s *Store) SetGrants(name string, role Role, mailboxes []string) error {
	return s.updateUser("set grants", name, func(u *userRecord) error {
		u.Role, u.Mailboxes = role, normalizeGrants(mailboxes)
		return checkUser(&u.User)
	})
}

// User returns user name (normalised), or an error wrapping ErrNotFound.
func (s *Store) User(name string) (*User, error) {
	var u *userRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		u, err = getUser(tx, NormalizeUserName(name))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	return &u.User, nil
}

// Users returns every user, sorted by name.
func (s *Store) Users() ([]User, error) {
	var out []User
	err := s.db.View(func(tx *bolt.Tx) error {
		b := bucket(tx, bucketUsers)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var u userRecord
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("decode user %q: %w", k, err)
			}
			out = append(out, u.User)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// dummyAuth spends about the work of one password check, so that an unknown user name
// answers no faster than a wrong password (no user enumeration by timing).
func dummyAuth(password string) {
	p := DefaultArgon2()
	_ = argon2.IDKey([]byte(password), make([]byte, p.SaltLen), p.Time, p.Memory, p.Threads, p.KeyLen)
}

// Authenticate checks a user name and password. An unknown user, a wrong password or a
// user without a local password gives an error wrapping ErrBadCredentials; a disabled
// user (with the right password) one wrapping ErrDisabled. The argon2id work runs outside
// any database transaction.
func (s *Store) Authenticate(name, password string) (*User, error) {
	name = NormalizeUserName(name)
	var u *userRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		u, err = getUser(tx, name)
		return err
	})
	if errors.Is(err, ErrNotFound) || (err == nil && u.PasswordHash == "") {
		dummyAuth(password)
		return nil, fmt.Errorf("authenticate %q: %w", name, ErrBadCredentials)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate %q: %w", name, err)
	}
	ok, err := VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return nil, fmt.Errorf("authenticate %q: %w", name, err)
	}
	if !ok {
		return nil, fmt.Errorf("authenticate %q: %w", name, ErrBadCredentials)
	}
	if u.Disabled {
		return nil, fmt.Errorf("authenticate %q: %w", name, ErrDisabled)
	}
	return &u.User, nil
}

// Token is the stored description of an API token (never the token itself).
type Token struct {
	ID      string    `json:"id"` // first 12 hex digits of the SHA-256 of the token
	User    string    `json:"user"`
	Label   string    `json:"label,omitempty"`
	Created time.Time `json:"created"`
	// Scope is ScopeRead or ScopeReadWrite (admin.go); records without one read as
	// ScopeReadWrite.
	Scope string `json:"scope,omitempty"`
	// Expires is when the token stops working; zero = never.
	Expires time.Time `json:"expires,omitzero"`
}

// tokenPrefix marks intake tokens so that secret scanners and people recognise them.
const tokenPrefix = "itk_"

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateToken creates an API token for user name and returns it. Only its SHA-256 is
// stored: the token is shown once and cannot be recovered. The token is "itk_" followed
// by 32 random bytes in unpadded base64url.
func (s *Store) CreateToken(name, label string, at time.Time) (string, Token, error) {
	name = NormalizeUserName(name)
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", Token{}, fmt.Errorf("create token for %q: %w", name, err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	h := tokenHash(token)
	rec := Token{ID: h[:12], User: name, Label: truncate(strings.TrimSpace(label), maxName), Created: at, Scope: ScopeReadWrite}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if _, err := getUser(tx, name); err != nil {
			return err
		}
		return putToken(tx, h, &rec)
	})
	if err != nil {
		return "", Token{}, fmt.Errorf("create token for %q: %w", name, err)
	}
	return token, rec, nil
}

// putToken stores the token record rec under its hash h.
func putToken(tx *bolt.Tx, h string, rec *Token) error {
	b, err := writeBucket(tx, bucketTokens)
	if err != nil {
		return err
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.Put([]byte(h), v)
}

// AuthenticateToken returns the user of an API token, whatever its scope and expiry
// (AuthenticateTokenAt checks both). An unknown token gives an error wrapping
// ErrBadCredentials, a token of a disabled (or deleted) user one wrapping ErrDisabled or
// ErrBadCredentials.
func (s *Store) AuthenticateToken(token string) (*User, error) {
	u, _, err := s.AuthenticateTokenAt(token, time.Time{})
	return u, err
}

// Tokens returns the tokens of user name ("" = of all users), oldest first.
func (s *Store) Tokens(name string) ([]Token, error) {
	name = NormalizeUserName(name)
	var out []Token
	err := s.db.View(func(tx *bolt.Tx) error {
		b := bucket(tx, bucketTokens)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			t, err := decodeToken(v)
			if err != nil {
				return fmt.Errorf("decode token %.12s: %w", k, err)
			}
			if name == "" || t.User == name {
				out = append(out, t)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	slices.SortFunc(out, func(a, b Token) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// RevokeToken deletes the token of user name whose ID (Token.ID) is id; an unknown one
// gives an error wrapping ErrNotFound.
func (s *Store) RevokeToken(name, id string) error {
	name = NormalizeUserName(name)
	err := s.db.Update(func(tx *bolt.Tx) error { return revokeToken(tx, name, id) })
	if err != nil {
		return fmt.Errorf("revoke token %s of %q: %w", id, name, err)
	}
	return nil
}

// revokeToken deletes the token id of user name in tx.
func revokeToken(tx *bolt.Tx, name, id string) error {
	b := bucket(tx, bucketTokens)
	if b == nil || len(id) != 12 {
		return ErrNotFound
	}
	c := b.Cursor()
	for k, v := c.Seek([]byte(id)); k != nil && strings.HasPrefix(string(k), id); k, v = c.Next() {
		t, err := decodeToken(v)
		if err != nil {
			return fmt.Errorf("decode token %.12s: %w", k, err)
		}
		if t.User == name {
			return b.Delete(k)
		}
	}
	return ErrNotFound
}
