package ticket

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestTokenScopeExpiry: a token is read or read-write, and stops working at its expiry.
func TestTokenScopeExpiry(t *testing.T) {
	s := newTestStore(t)
	admin := Actor{Name: "root-admin", Remote: "127.0.0.1", At: t0}
	if err := s.AdminAddUser(admin, User{Name: "erika", Role: RoleClerk, Mailboxes: []string{"post"}}, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		opts      TokenOptions
		at        time.Time
		wantErr   error // of AuthenticateTokenAt
		wantWrite bool
	}{
		{"read, no expiry", TokenOptions{Scope: ScopeRead}, t0.Add(1000 * time.Hour), nil, false},
		{"default is read-write", TokenOptions{}, t0, nil, true},
		{"before expiry", TokenOptions{Scope: ScopeReadWrite, Expires: t0.Add(time.Hour)}, t0.Add(time.Hour - time.Second), nil, true},
		{"at expiry", TokenOptions{Scope: ScopeReadWrite, Expires: t0.Add(time.Hour)}, t0.Add(time.Hour), ErrTokenExpired, false},
		{"after expiry", TokenOptions{Scope: ScopeRead, Expires: t0.Add(time.Hour)}, t0.Add(48 * time.Hour), ErrTokenExpired, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, rec, err := s.AdminCreateToken(admin, "erika", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			u, got, err := s.AuthenticateTokenAt(tok, tt.at)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || u != nil {
					t.Fatalf("AuthenticateTokenAt = %v, %v; want %v", u, err, tt.wantErr)
				}
				return
			}
			if err != nil || u.Name != "erika" || got.ID != rec.ID {
				t.Fatalf("AuthenticateTokenAt = %+v, %+v, %v", u, got, err)
			}
			if got.CanWrite() != tt.wantWrite {
				t.Errorf("CanWrite = %v, want %v (scope %q)", got.CanWrite(), tt.wantWrite, got.Scope)
			}
		})
	}
}

func TestAdminCreateTokenRefuses(t *testing.T) {
	s := newTestStore(t)
	a := Actor{Name: "admin", At: t0}
	if err := s.AdminAddUser(a, User{Name: "erika", Role: RoleClerk}, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.AdminAddUser(a, User{Name: "gone", Role: RoleClerk}, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.AdminSetDisabled(a, "gone", true); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user string
		opts       TokenOptions
		want       error
	}{
		{"unknown scope", "erika", TokenOptions{Scope: "admin"}, ErrBadUser},
		{"expiry in the past", "erika", TokenOptions{Expires: t0.Add(-time.Second)}, ErrBadUser},
		{"disabled user", "gone", TokenOptions{}, ErrDisabled},
		{"unknown user", "nobody", TokenOptions{}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := s.AdminCreateToken(a, tt.user, tt.opts); !errors.Is(err, tt.want) {
				t.Errorf("AdminCreateToken = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestOldTokenRecordIsReadWrite: a token record written before scopes existed (no
// scope, no expiry) keeps working as read-write without expiry.
func TestOldTokenRecordIsReadWrite(t *testing.T) {
	s := newTestStore(t)
	if err := s.AddUser(User{Name: "erika", Role: RoleClerk}, "", t0); err != nil {
		t.Fatal(err)
	}
	tok := tokenPrefix + "old-token-of-an-older-release-000000000000000"
	old, _ := json.Marshal(map[string]any{"id": tokenHash(tok)[:12], "user": "erika", "created": t0})
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := writeBucket(tx, bucketTokens)
		if err != nil {
			return err
		}
		return b.Put([]byte(tokenHash(tok)), old)
	}); err != nil {
		t.Fatal(err)
	}
	_, rec, err := s.AuthenticateTokenAt(tok, t0.AddDate(10, 0, 0))
	if err != nil || rec.Scope != ScopeReadWrite || !rec.CanWrite() || !rec.Expires.IsZero() {
		t.Fatalf("old token: %+v, %v", rec, err)
	}
	list, err := s.Tokens("erika")
	if err != nil || len(list) != 1 || list[0].Scope != ScopeReadWrite {
		t.Fatalf("Tokens = %+v, %v", list, err)
	}
}

// TestAdminChangesAreAudited: every account change writes its entry with actor, action
// and target.
func TestAdminChangesAreAudited(t *testing.T) {
	s := newTestStore(t)
	a := Actor{Name: "chefin", Remote: "192.0.2.7", At: t0}
	if err := s.AdminAddUser(a, User{Name: "Erika", Role: RoleClerk, Mailboxes: []string{"post"}}, mustHash(t, "a long enough pass")); err != nil {
		t.Fatal(err)
	}
	if err := s.AdminSetPassword(a, "erika", mustHash(t, "another long pass")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AdminSetGrants(a, "erika", RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AdminSetDisabled(a, "erika", true); err != nil {
		t.Fatal(err)
	}
	if err := s.AdminSetDisabled(a, "erika", false); err != nil {
		t.Fatal(err)
	}
	_, rec, err := s.AdminCreateToken(a, "erika", TokenOptions{Scope: ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AdminRevokeToken(a, "erika", rec.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.AdminRevokeToken(a, "erika", rec.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second revoke = %v", err)
	}
	entries, _, err := s.AuditLog(AuditFilter{Actor: "chefin"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, detail string }{
		{AuditUserAdd, "erika role=clerk mailboxes=post"},
		{AuditUserPassword, "erika"},
		{AuditUserGrant, "erika role=admin mailboxes="},
		{AuditUserDisable, "erika"},
		{AuditUserEnable, "erika"},
		{AuditTokenCreate, "erika id=" + rec.ID + " scope=read"},
		{AuditTokenRevoke, "erika id=" + rec.ID},
	}
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(entries), len(want), entries)
	}
	// AuditLog gives the newest first.
	for i, w := range want {
		e := entries[len(entries)-1-i]
		if e.Action != w.action || e.Detail != w.detail || e.Remote != "192.0.2.7" {
			t.Errorf("entry %d = %s %q %q, want %s %q", i, e.Action, e.Detail, e.Remote, w.action, w.detail)
		}
	}
	if u, err := s.User("erika"); err != nil || !u.IsAdmin() || u.Disabled {
		t.Errorf("user after changes: %+v, %v", u, err)
	}
}

func TestParseExpiry(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"", time.Time{}, false},
		{"never", time.Time{}, false},
		{"30d", now.AddDate(0, 0, 30), false},
		{"4W", now.AddDate(0, 0, 28), false},
		{"36h", now.Add(36 * time.Hour), false},
		{"2026-03-31", time.Date(2026, 4, 1, 0, 0, 0, 0, loc), false},
		{"0d", time.Time{}, true},
		{"-1h", time.Time{}, true},
		{"2026-03-01", time.Time{}, true},
		{"bald", time.Time{}, true},
		{"30x", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseExpiry(tt.in, now, loc)
			if (err != nil) != tt.err || !got.Equal(tt.want) {
				t.Errorf("ParseExpiry(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}
