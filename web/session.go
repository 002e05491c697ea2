package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// session is one login. It lives in the memory of the server only.
type session struct {
	user    string
	created time.Time
	seen    time.Time
}

// sessions holds the sessions by the SHA-256 of their ID, so that the map never holds
// a usable cookie value.
type sessions struct {
	mu   sync.Mutex
	m    map[[32]byte]*session
	idle time.Duration
	max  time.Duration
}

func newSessions(idle, max time.Duration) *sessions {
	return &sessions{m: map[[32]byte]*session{}, idle: idle, max: max}
}

func sessionKey(id string) [32]byte { return sha256.Sum256([]byte(id)) }

// create starts a session for user and returns its ID: 32 random bytes, base64url.
func (ss *sessions) create(user string, now time.Time) string {
	b := make([]byte, 32)
	rand.Read(b) // crypto/rand.Read never fails (Go 1.24+); it crashes the program instead
	id := base64.RawURLEncoding.EncodeToString(b)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.sweep(now)
	ss.m[sessionKey(id)] = &session{user: user, created: now, seen: now}
	return id
}

// expired reports whether se has passed its idle or absolute timeout at now.
func (ss *sessions) expired(se *session, now time.Time) bool {
	return now.Sub(se.seen) >= ss.idle || now.Sub(se.created) >= ss.max
}

// get returns the user of session id and marks it used at now; an unknown or expired
// session gives "", false (and an expired one is removed).
func (ss *sessions) get(id string, now time.Time) (string, bool) {
	if id == "" {
		return "", false
	}
	k := sessionKey(id)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	se, ok := ss.m[k]
	if !ok {
		return "", false
	}
	if ss.expired(se, now) {
		delete(ss.m, k)
		return "", false
	}
	se.seen = now
	return se.user, true
}

// remove ends session id.
func (ss *sessions) remove(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, sessionKey(id))
}

// sweep drops expired sessions; the caller holds mu.
func (ss *sessions) sweep(now time.Time) {
	for k, se := range ss.m {
		if ss.expired(se, now) {
			delete(ss.m, k)
		}
	}
}

// count returns the number of sessions (tests).
func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}
