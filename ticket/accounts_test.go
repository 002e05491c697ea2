package ticket

import (
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fastArgon2 keeps tests quick; the parameters travel with the hash.
var fastArgon2 = Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func mustHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := HashPassword(pw, fastArgon2)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashPassword(t *testing.T) {
	h1 := mustHash(t, "correct horse battery")
	h2 := mustHash(t, "correct horse battery")
	if h1 == h2 {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q does not carry its parameters", h1)
	}
	tests := []struct {
		name, hash, pw string
		ok             bool
		err            bool
	}{
		{"right", h1, "correct horse battery", true, false},
		{"wrong", h1, "correct horse batterY", false, false},
		{"empty", h1, "", false, false},
		{"not phc", "plain", "x", false, true},
		{"argon2i", strings.Replace(h1, "argon2id", "argon2i", 1), "correct horse battery", false, true},
		{"huge memory", strings.Replace(h1, "m=64", "m=99999999", 1), "correct horse battery", false, true},
		{"bad salt", strings.Replace(h1, "$m=64,t=1,p=1$", "$m=64,t=1,p=1$!!", 1), "x", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword(tt.hash, tt.pw)
			if ok != tt.ok || (err != nil) != tt.err {
				t.Errorf("VerifyPassword = %v, %v; want %v, err %v", ok, err, tt.ok, tt.err)
			}
		})
	}
	if _, err := HashPassword("x", Argon2Params{Memory: 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}); err == nil {
		t.Error("HashPassword accepted memory below 8*threads")
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		user, pw string
		ok       bool
	}{
		{"erika", "Sommer-Regen-2026", true},
		{"erika", "kurz", false},
		{"erika", "aaaaaaaaaaaaaaaa", false},
		{"erika", "ääääääääääääää", false},
		{"erika", "meinname-ERIKA-123", false},
		{"erika", strings.Repeat("ab", 600), false},
		{"erika", "Grüße aus Köln!", true},
		{"ab", "abcdefghijklmn", true}, // a name that short is not checked
		{"erika", "invalid\xffutf8-text", false},
	}
	for _, tt := range tests {
		t.Run(tt.pw, func(t *testing.T) {
			err := CheckPassword(tt.user, tt.pw)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrWeakPassword)) {
				t.Errorf("CheckPassword = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestUsers(t *testing.T) {
	s := newTestStore(t)
	if err := s.AddUser(User{Name: " Erika ", Role: RoleClerk, Mailboxes: []string{"post", "presse", "post"}}, mustHash(t, "Sommer-Regen-2026"), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(User{Name: "admin", Role: RoleAdmin}, mustHash(t, "Winter-Schnee-2026"), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(User{Name: "sso.only", Role: RoleClerk}, "", t0); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		u    User
		hash string
		want error
	}{
		{"taken", User{Name: "ERIKA", Role: RoleClerk}, "", ErrExists},
		{"bad name", User{Name: "erika mustermann", Role: RoleClerk}, "", ErrBadUser},
		{"empty name", User{Name: "", Role: RoleClerk}, "", ErrBadUser},
		{"bad role", User{Name: "x", Role: "root"}, "", ErrBadUser},
		{"bad grant", User{Name: "y", Role: RoleClerk, Mailboxes: []string{"Post Stelle"}}, "", ErrBadUser},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.AddUser(tt.u, tt.hash, t0); !errors.Is(err, tt.want) {
				t.Errorf("AddUser = %v, want %v", err, tt.want)
			}
		})
	}
	if err := s.AddUser(User{Name: "z", Role: RoleClerk}, "not-a-hash", t0); err == nil {
		t.Error("AddUser accepted a hash that is not one")
	}

	u, err := s.User("ERIKA")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "erika" || strings.Join(u.Mailboxes, ",") != "post,presse" || !u.PasswordSet.Equal(t0) {
		t.Errorf("user = %+v", u)
	}
	if !u.CanSee("post") || u.CanSee("other") || u.Visible() == nil {
		t.Errorf("clerk access wrong: %+v", u)
	}
	list, err := s.Users()
	if err != nil || len(list) != 3 || list[0].Name != "admin" {
		t.Fatalf("Users = %+v, %v", list, err)
	}
	if a := list[0]; !a.CanSee("anything") || a.Visible() != nil {
		t.Errorf("admin access wrong: %+v", a)
	}

	auth := []struct {
		name, user, pw string
		want           error
	}{
		{"right", "erika", "Sommer-Regen-2026", nil},
		{"right any case", "Erika", "Sommer-Regen-2026", nil},
		{"wrong password", "erika", "sommer-regen-2026", ErrBadCredentials},
		{"unknown user", "nobody", "Sommer-Regen-2026", ErrBadCredentials},
		{"no local password", "sso.only", "", ErrBadCredentials},
	}
	for _, tt := range auth {
		t.Run("authenticate "+tt.name, func(t *testing.T) {
			u, err := s.Authenticate(tt.user, tt.pw)
			if !errors.Is(err, tt.want) || (err == nil && u.Name != "erika") {
				t.Errorf("Authenticate = %+v, %v; want %v", u, err, tt.want)
			}
		})
	}

	if err := s.SetPassword("erika", mustHash(t, "Herbst-Laub-2026x"), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("erika", "Sommer-Regen-2026"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password still works: %v", err)
	}
	if _, err := s.Authenticate("erika", "Herbst-Laub-2026x"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := s.SetDisabled("erika", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("erika", "Herbst-Laub-2026x"); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled user: %v", err)
	}
	if u, _ := s.User("erika"); u.CanSee("post") || len(u.Visible()) != 0 || u.Visible() == nil {
		t.Errorf("disabled user sees %v", u.Visible())
	}
	if err := s.SetDisabled("nobody", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetDisabled unknown = %v", err)
	}
	if err := s.SetGrants("sso.only", RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGrants("sso.only", "boss", nil); !errors.Is(err, ErrBadUser) {
		t.Errorf("SetGrants bad role = %v", err)
	}
	if u, _ := s.User("sso.only"); u.Role != RoleAdmin {
		t.Errorf("grants not kept: %+v", u)
	}
}

func TestTokens(t *testing.T) {
	s := newTestStore(t)
	for _, n := range []string{"erika", "max"} {
		if err := s.AddUser(User{Name: n, Role: RoleClerk, Mailboxes: []string{"post"}}, "", t0); err != nil {
			t.Fatal(err)
		}
	}
	tok, rec, err := s.CreateToken("Erika", "script", t0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "itk_") || len(tok) != 4+43 || rec.User != "erika" || len(rec.ID) != 12 {
		t.Fatalf("token %q, %+v", tok, rec)
	}
	tok2, _, err := s.CreateToken("max", "", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateToken("nobody", "", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("token for unknown user: %v", err)
	}
	tests := []struct {
		name, token, user string
		want              error
	}{
		{"erika", tok, "erika", nil},
		{"max", tok2, "max", nil},
		{"unknown", "itk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", ErrBadCredentials},
		{"no prefix", strings.TrimPrefix(tok, "itk_"), "", ErrBadCredentials},
		{"empty", "", "", ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.AuthenticateToken(tt.token)
			if !errors.Is(err, tt.want) || (err == nil && u.Name != tt.user) {
				t.Errorf("AuthenticateToken = %+v, %v", u, err)
			}
		})
	}
	// Only the hash is stored.
	if err := s.db.View(func(tx *bolt.Tx) error {
		return bucket(tx, bucketTokens).ForEach(func(k, v []byte) error {
			if strings.Contains(string(k)+string(v), strings.TrimPrefix(tok, "itk_")) {
				t.Errorf("token stored in clear: %s %s", k, v)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	list, err := s.Tokens("erika")
	if err != nil || len(list) != 1 || list[0].Label != "script" {
		t.Fatalf("Tokens = %+v, %v", list, err)
	}
	if all, _ := s.Tokens(""); len(all) != 2 {
		t.Errorf("all tokens = %+v", all)
	}
	if err := s.SetDisabled("erika", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateToken(tok); !errors.Is(err, ErrDisabled) {
		t.Errorf("token of disabled user: %v", err)
	}
	if err := s.RevokeToken("max", list[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke another user's token: %v", err)
	}
	if err := s.RevokeToken("erika", list[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled("erika", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateToken(tok); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("revoked token: %v", err)
	}
}

// TestAccountsOnOldRegister: a register written before the account buckets existed is
// read without error (no buckets yet) and gets them on the first write.
func TestAccountsOnOldRegister(t *testing.T) {
	s := newTestStore(t)
	if list, err := s.Users(); err != nil || len(list) != 0 {
		t.Fatalf("Users = %v, %v", list, err)
	}
	if _, err := s.AuthenticateToken("itk_x"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("AuthenticateToken = %v", err)
	}
	if _, err := s.User("x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("User = %v", err)
	}
	if entries, more, err := s.AuditLog(AuditFilter{}); err != nil || len(entries) != 0 || more {
		t.Errorf("AuditLog = %v, %v, %v", entries, more, err)
	}
}
