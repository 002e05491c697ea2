package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/intake-office/intake/ticket"
)

// pageHandler is a handler of a page that needs a logged-in user.
type pageHandler func(w http.ResponseWriter, r *http.Request, u *ticket.User)

// page wraps h: the user comes from the trusted proxy header (when configured) or the
// session cookie, and is reloaded from the register at every request, so that a disabled
// user or changed grants take effect at once. Without one, the browser is sent to the
// login page.
func (s *server) page(h pageHandler) http.HandlerFunc {
	return s.pageCounted(h, true)
}

// download is page for a handler that streams a file (a raw mail, an attachment): it
// takes as long as the clerk's connection, not the CPU, so the mail work does not wait
// for it (clerkRequest).
func (s *server) download(h pageHandler) http.HandlerFunc {
	return s.pageCounted(h, false)
}

func (s *server) pageCounted(h pageHandler, counted bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, status := s.pageUser(w, r)
		switch status {
		case http.StatusOK:
			raiseClerk(r) // a user's connection runs before the mail work (priority.go)
			if counted {
				defer s.clerkRequest()()
			}
			h(w, r.WithContext(withUser(r.Context(), u)), u)
		case http.StatusForbidden:
			s.errorPage(w, r, nil, http.StatusForbidden, "err.proxyuser")
		default:
			s.redirectToLogin(w, r)
		}
	}
}

// pageUser finds the user of a page request: 200 with the user, 403 for a proxy header
// naming no usable user, 401 for no login.
func (s *server) pageUser(w http.ResponseWriter, r *http.Request) (*ticket.User, int) {
	// The header counts only when the TCP peer is a trusted proxy: anyone else could
	// send it and pose as any account.
	if s.proxy != "" && s.fromTrustedProxy(r) {
		if raw := r.Header.Get(s.proxy); strings.TrimSpace(raw) != "" {
			name, valid := boundedUserName(raw)
			if !valid {
				s.log.Warn("proxy header names no valid user", "header", s.proxy, "bytes", len(raw))
				return nil, http.StatusForbidden
			}
			u, err := s.store.User(name)
			if err != nil || u.Disabled {
				s.log.Warn("proxy header names no usable user", "header", s.proxy, "err", err)
				return nil, http.StatusForbidden
			}
			return u, http.StatusOK
		}
	}
	c, err := r.Cookie(s.cookie)
	if err != nil {
		return nil, http.StatusUnauthorized
	}
	name, ok := s.sessions.get(c.Value, s.now())
	if !ok {
		s.clearCookie(w)
		return nil, http.StatusUnauthorized
	}
	u, err := s.store.User(name)
	if err != nil || u.Disabled {
		s.sessions.remove(c.Value)
		s.clearCookie(w)
		return nil, http.StatusUnauthorized
	}
	return u, http.StatusOK
}

func (s *server) redirectToLogin(w http.ResponseWriter, r *http.Request) {
	target := "/login"
	if r.Method == http.MethodGet && r.URL.RequestURI() != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeNext returns next when it is a path on this site, else "/": no open redirect to
// another host ("//evil", "/\evil", "https://evil").
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) ||
		strings.ContainsAny(next, "\r\n\t\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/login") {
		return "/"
	}
	return next
}

func (s *server) setSessionCookie(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookie, Value: id, Path: "/",
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	})
}

func (s *server) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	})
}

type loginData struct {
	Next  string
	Name  string
	Error string // message key
	Wait  int    // seconds, with err.ratelimit
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	if u, status := s.pageUser(w, r); status == http.StatusOK && u != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, nil, http.StatusOK, "login", "login.title", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// login checks a user name and password (POST /login). The attempt is reserved in the
// limiter before the password is verified, so that parallel guesses cannot pass the
// check together; see limiter for the buckets.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, nil, http.StatusBadRequest, "err.badrequest")
		return
	}
	raw := r.PostForm.Get("name")
	name, valid := boundedUserName(raw)
	password := r.PostForm.Get("password")
	data := loginData{Next: safeNext(r.PostForm.Get("next")), Name: name}
	ip := s.clientIP(r)
	now := s.now()
	if strings.TrimSpace(raw) == "" || password == "" {
		data.Error = "err.login"
		s.render(w, r, nil, http.StatusOK, "login", "login.title", data)
		return
	}
	// All invalid names of a client share one bucket (account ""): none can succeed.
	att, wait := s.limiter.admit(name, clientKey(ip), now)
	if wait > 0 {
		secs := seconds(wait)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		data.Error, data.Wait = "err.ratelimit", secs
		s.log.Warn("login refused: too many failures", "user", logName(name), "remote", ip)
		s.render(w, r, nil, http.StatusTooManyRequests, "login", "login.title", data)
		return
	}
	defer att.abandon() // a no-op once the attempt has ended as failure or success
	var u *ticket.User
	err := fmt.Errorf("user name of %d bytes: %w", len(raw), ticket.ErrBadCredentials)
	if valid { // an invalid name cannot be an account: no password check
		select {
		case s.loginSlots <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		u, err = checkOffRaisedThread(func() (*ticket.User, error) { return s.authenticate(name, password) })
		<-s.loginSlots
	}
	if err != nil {
		if !errors.Is(err, ticket.ErrBadCredentials) && !errors.Is(err, ticket.ErrDisabled) {
			att.fail(s.now()) // a password was checked: it counts
			s.log.Error("login", "err", err)
			s.errorPage(w, r, nil, http.StatusInternalServerError, "err.internal")
			return
		}
		att.fail(s.now()) // the time the check ended, not the time it began
		if _, aerr := s.store.AppendAudit(ticket.AuditEntry{At: now, Actor: logName(name), Remote: ip, Action: ticket.AuditLoginFailed}); aerr != nil {
			s.log.Error("audit log", "err", aerr)
		}
		s.log.Info("login failed", "user", logName(name), "remote", ip)
		data.Error = "err.login"
		s.render(w, r, nil, http.StatusOK, "login", "login.title", data)
		return
	}
	att.succeed()
	if err := s.audit(r, u, ticket.AuditLogin, ticket.Reference{}, 0, ""); err != nil {
		s.errorPage(w, r, nil, http.StatusInternalServerError, "err.internal")
		return
	}
	// A fresh session ID at every login (no session fixation).
	if c, err := r.Cookie(s.cookie); err == nil {
		s.sessions.remove(c.Value)
	}
	s.setSessionCookie(w, s.sessions.create(u.Name, now))
	s.log.Info("login", "user", u.Name, "remote", ip)
	http.Redirect(w, r, data.Next, http.StatusSeeOther)
}

// maxUserNameInput bounds what is even normalised of a submitted user name; a valid
// name has at most 64 bytes (ticket.ValidUserName).
const maxUserNameInput = 256

// boundedUserName returns the normalised form of a submitted user name and whether it
// is a valid one; an invalid name gives "". Only names that passed here are hashed,
// logged or used as limiter keys, so a 60 KB name never reaches those.
func boundedUserName(raw string) (string, bool) {
	if len(raw) > maxUserNameInput {
		return "", false
	}
	name := ticket.NormalizeUserName(raw)
	if !ticket.ValidUserName(name) {
		return "", false
	}
	return name, true
}

// logName is name for the log and the audit log: "?" for an invalid (empty) one.
func logName(name string) string {
	if name == "" {
		return "?"
	}
	return name
}

// logout ends the session (POST /logout).
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.cookie); err == nil {
		if name, ok := s.sessions.get(c.Value, s.now()); ok {
			if u, err := s.store.User(name); err == nil {
				_ = s.audit(r, u, ticket.AuditLogout, ticket.Reference{}, 0, "")
			}
		}
		s.sessions.remove(c.Value)
	}
	s.clearCookie(w)
	http.Redirect(w, r, "/login?done=logout", http.StatusSeeOther)
}

// apiHandler is a handler of the JSON API.
type apiHandler func(w http.ResponseWriter, r *http.Request, u *ticket.User)

// api wraps h with bearer-token authentication (RFC 6750 §2.1). A missing or unusable
// token answers 401 with WWW-Authenticate (RFC 6750 §3); failed tokens count against the
// client in a bucket of their own, apart from failed logins.
func (s *server) api(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w = &serverTiming{ResponseWriter: w, start: time.Now(), wake: wakeOf(r.Context())}
		client := clientKey(s.clientIP(r))
		now := s.now()
		if wait := s.limiter.apiWait(client, now); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(seconds(wait)))
			writeJSONError(w, http.StatusTooManyRequests, "too many failed attempts")
			return
		}
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="intake"`)
			writeJSONError(w, http.StatusUnauthorized, "authentication required")
			return
		}
		u, tok, err := s.store.AuthenticateTokenAt(strings.TrimSpace(token), now)
		if errors.Is(err, ticket.ErrTokenExpired) {
			// A real token past its expiry: 401 (RFC 6750 §3.1 invalid_token), not
			// counted as a guess.
			w.Header().Set("WWW-Authenticate", `Bearer realm="intake", error="invalid_token", error_description="token expired"`)
			writeJSONError(w, http.StatusUnauthorized, "token expired")
			return
		}
		if err != nil {
			if !errors.Is(err, ticket.ErrBadCredentials) && !errors.Is(err, ticket.ErrDisabled) {
				s.log.Error("api authentication", "err", err)
				writeJSONError(w, http.StatusInternalServerError, "internal error")
				return
			}
			s.limiter.apiFail(client, now)
			w.Header().Set("WWW-Authenticate", `Bearer realm="intake", error="invalid_token"`)
			writeJSONError(w, http.StatusUnauthorized, "invalid token")
			return
		}
		// A read token may only read: every method but GET and HEAD changes something
		// (RFC 6750 §3.1 insufficient_scope, 403).
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !tok.CanWrite() {
			w.Header().Set("WWW-Authenticate", `Bearer realm="intake", error="insufficient_scope", scope="`+ticket.ScopeReadWrite+`"`)
			writeJSONError(w, http.StatusForbidden, "this token may only read (scope "+tok.Scope+")")
			return
		}
		raiseClerk(r) // a user's connection runs before the mail work (priority.go)
		defer s.clerkRequest()()
		h(w, r.WithContext(withUser(r.Context(), u)), u)
	}
}

// clerkRequest counts an authenticated request in flight (Options.Clerks) until the
// returned func is called. Only requests of a user count: nobody without an account
// can make the mail work step aside (clerkgate).
func (s *server) clerkRequest() (end func()) {
	if s.clerks == nil {
		return func() {}
	}
	s.clerks.Begin()
	return s.clerks.End
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	// Encoded before the header goes out: Server-Timing then covers the whole answer.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		status, buf = http.StatusInternalServerError, bytes.Buffer{}
		buf.WriteString(`{"error": "internal error"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// serverTiming adds to an API answer how long the server took to produce it, from the
// request reaching the handler to the header going out (W3C Server Timing,
// "Server-Timing: app;dur=<ms>"): the time a client measures beyond it is the network's
// and the scheduler's. intake-bench reads it. On a clerk's connection whose thread is
// raised (priority.go) it adds "wake;dur=<ms>": from that thread seeing the request arrive
// to the handler starting, which is mostly the wait for one of the Go runtime's processors.
type serverTiming struct {
	http.ResponseWriter
	start time.Time
	wake  time.Duration // connPriority.wake; 0 = not measured
	sent  bool
}

func (t *serverTiming) WriteHeader(status int) {
	if !t.sent {
		t.sent = true
		ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64) }
		v := "app;dur=" + ms(time.Since(t.start))
		if t.wake > 0 {
			v += ", wake;dur=" + ms(t.wake)
		}
		t.Header().Set("Server-Timing", v)
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *serverTiming) Write(b []byte) (int, error) {
	if !t.sent {
		t.WriteHeader(http.StatusOK)
	}
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (t *serverTiming) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// seconds rounds d up to whole seconds (Retry-After, RFC 9110 §10.2.3).
func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
