package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/ticket"
)

// SearchIndex is the part of the full-text index (*search.Index) the web interface uses.
type SearchIndex interface {
	Search(q search.Query) (search.Result, error)
	// Update re-indexes message seq with the new status of its case.
	Update(seq uint64, status string) error
}

// Options for New.
type Options struct {
	Store *ticket.Store // required
	// Search is the full-text index; nil = no full-text search (the search page then
	// filters the register and matches words in subjects, senders and attachment names
	// of the newest cases only).
	Search SearchIndex
	Config *config.Config // required; the [web] table and the mailboxes are used
	// CurrentConfig, when set, returns the configuration in force after a
	// reload (intake.Daemon.Config): the mailboxes and the office follow
	// it; the [web] table and the time zone stay those of Config (they need
	// a restart). nil: Config for ever.
	CurrentConfig func() *config.Config
	Logger        *slog.Logger // nil = discard
	Now           func() time.Time
	// Clerks is told of every authenticated request while it is answered, so that the
	// mail work can step aside for it (clerkgate.Gate); nil: nobody is told.
	Clerks ClerkActivity
}

// ClerkActivity counts the clerks' requests in flight (clerkgate.Gate): Begin when an
// authenticated request starts to be answered, End when it is.
type ClerkActivity interface {
	Begin()
	End()
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Limits of what a request may send.
const (
	maxFormBytes       = 64 << 10
	maxConcurrentLogin = 4 // argon2id with 64 MiB each
	userThreshold      = 5
	ipThreshold        = 20
	apiThreshold       = 20
	pageSizeDefault    = 20
	pageSizeMax        = 100
)

type server struct {
	store      *ticket.Store
	search     SearchIndex
	cfg        *config.Config
	current    func() *config.Config // nil = cfg
	log        *slog.Logger
	now        func() time.Time
	loc        *time.Location
	pages      map[string]*template.Template
	msgs       catalog
	sessions   *sessions
	limiter    *limiter
	loginSlots chan struct{}
	cookie     string // session cookie name
	secure     bool
	proxy      string // trusted proxy header, "" = off
	hsts       bool
	html       *bluemonday.Policy
	static     fs.FS
	clerks     ClerkActivity // nil: none

	// trusted are the networks of the reverse proxies whose proxy header and
	// X-Forwarded-For are honoured (config web.trusted_proxies).
	trusted []netip.Prefix
	// authenticate checks a user name and password (Store.Authenticate); tests count
	// the password verifications through it.
	authenticate func(name, password string) (*ticket.User, error)
	// argon hashes the passwords the admin pages generate; zero = ticket.DefaultArgon2.
	argon ticket.Argon2Params
}

// New returns the handler of the web interface and the JSON API.
func New(opts Options) (http.Handler, error) {
	_, h, err := newServer(opts)
	return h, err
}

func newServer(opts Options) (*server, http.Handler, error) {
	if opts.Store == nil || opts.Config == nil {
		return nil, nil, errors.New("web: Options.Store and Options.Config are required")
	}
	// A nil *search.Index in the interface would pass a nil check and then panic.
	if opts.Search != nil {
		if v := reflect.ValueOf(opts.Search); v.Kind() == reflect.Pointer && v.IsNil() {
			opts.Search = nil
		}
	}
	if v := reflect.ValueOf(opts.Clerks); opts.Clerks != nil && v.Kind() == reflect.Pointer && v.IsNil() {
		opts.Clerks = nil
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	wc := opts.Config.Web
	var err error
	idle, maxAge := wc.SessionIdle.Duration, wc.SessionMax.Duration
	if idle <= 0 {
		idle = config.DefaultSessionIdle
	}
	if maxAge <= 0 {
		maxAge = config.DefaultSessionMax
	}
	s := &server{
		store:      opts.Store,
		search:     opts.Search,
		cfg:        opts.Config,
		current:    opts.CurrentConfig,
		log:        opts.Logger.With("component", "web"),
		now:        opts.Now,
		loc:        opts.Config.Location,
		msgs:       withInterimTexts(newCatalog()),
		sessions:   newSessions(idle, maxAge),
		limiter:    newLimiter(),
		loginSlots: make(chan struct{}, maxConcurrentLogin),
		secure:     wc.SecureCookies(),
		proxy:      wc.TrustedProxyHeader,
		html:       mailPolicy(),
		clerks:     opts.Clerks,
	}
	s.authenticate = opts.Store.Authenticate
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.trusted, err = config.ParsePrefixes(wc.TrustedProxies); err != nil {
		return nil, nil, fmt.Errorf("web: trusted_proxies: %w", err)
	}
	if s.proxy != "" && len(s.trusted) == 0 {
		return nil, nil, errors.New("web: trusted_proxy_header needs trusted_proxies (the proxies' addresses)")
	}
	// RFC 6265bis §4.1.3.2: a __Host- cookie must be Secure, with Path=/ and no Domain.
	s.cookie = "intake_session"
	if s.secure {
		s.cookie = "__Host-intake_session"
	}
	if s.pages, err = s.parseTemplates(); err != nil {
		return nil, nil, err
	}
	if s.static, err = fs.Sub(staticFS, "static"); err != nil {
		return nil, nil, fmt.Errorf("web: static files: %w", err)
	}

	cop := http.NewCrossOriginProtection()
	if wc.BaseURL != "" {
		u, err := url.Parse(wc.BaseURL)
		if err != nil {
			return nil, nil, fmt.Errorf("web: base_url: %w", err)
		}
		if err := cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, nil, fmt.Errorf("web: base_url: %w", err)
		}
		s.hsts = u.Scheme == "https"
	}
	cop.SetDenyHandler(http.HandlerFunc(s.crossOriginDenied))

	mux := http.NewServeMux()
	s.routes(mux)
	return s, s.securityHeaders(cop.Handler(mux)), nil
}

func (s *server) routes(mux *http.ServeMux) {
	files := http.StripPrefix("/static/", http.FileServerFS(s.static))
	mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)

	mux.HandleFunc("GET /{$}", s.page(s.searchPage))
	mux.HandleFunc("GET /cases/{ref}", s.page(s.casePage))
	mux.HandleFunc("POST /cases/bulk", s.page(s.bulk))
	mux.HandleFunc("POST /cases/{ref}/status", s.page(s.caseStatus))
	mux.HandleFunc("POST /cases/{ref}/note", s.page(s.caseNote))
	mux.HandleFunc("POST /cases/{ref}/assign", s.page(s.caseAssign))
	mux.HandleFunc("POST /cases/{ref}/interim", s.page(s.caseInterim))
	mux.HandleFunc("GET /cases/{ref}/messages/{seq}/raw", s.download(s.downloadRaw))
	mux.HandleFunc("GET /cases/{ref}/messages/{seq}/attachments/{n}", s.download(s.downloadAttachment))
	mux.HandleFunc("GET /admin/audit", s.page(s.auditPage))
	s.adminRoutes(mux) // admin.go
	mux.HandleFunc("/", s.page(func(w http.ResponseWriter, r *http.Request, u *ticket.User) {
		s.notFound(w, r, u)
	}))

	mux.HandleFunc("GET /api/cases", s.api(s.apiCases))
	mux.HandleFunc("GET /api/cases/{ref}", s.api(s.apiCase))
	mux.HandleFunc("POST /api/cases/{ref}/status", s.api(s.apiStatus))
	mux.HandleFunc("/api/", s.api(func(w http.ResponseWriter, r *http.Request, u *ticket.User) {
		writeJSONError(w, http.StatusNotFound, "not found")
	}))
}

// contentSecurityPolicy allows no script at all, styles and images only from this origin,
// forms only to it, no framing and no <base> (CSP Level 3, W3C).
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every response carries.
func (s *server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY") // for browsers without frame-ancestors
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		if s.hsts || r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000") // RFC 6797 §6.1
		}
		if strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-cache")
		} else {
			// Case data must not stay in shared or browser caches.
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	s.log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path, "remote", s.clientIP(r))
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSONError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	s.errorPage(w, r, nil, http.StatusForbidden, "err.crossorigin")
}

type ctxKey int

const userKey ctxKey = 0

func withUser(ctx context.Context, u *ticket.User) context.Context {
	return context.WithValue(ctx, userKey, u)
}

// maxForwardedHops bounds how many X-Forwarded-For entries are looked at.
const maxForwardedHops = 16

// peerAddr returns the address of the TCP peer of r.
func peerAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// isTrusted reports whether a is in one of the trusted proxy networks.
func (s *server) isTrusted(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// fromTrustedProxy reports whether the TCP peer of r is a trusted reverse proxy.
func (s *server) fromTrustedProxy(r *http.Request) bool {
	a, ok := peerAddr(r)
	return ok && s.isTrusted(a)
}

// clientIP returns the address of the client of r, for the limiter and the audit log:
// the TCP peer; when that is a trusted proxy, the right-most X-Forwarded-For entry that
// is not a trusted proxy (entries further left were written by the client and prove
// nothing). X-Forwarded-For from any other peer is ignored.
func (s *server) clientIP(r *http.Request) string {
	peer, ok := peerAddr(r)
	if !ok {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	if !s.isTrusted(peer) {
		return peer.String()
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
		a, err := parseHop(hops[i])
		if err != nil {
			break // a garbled entry: keep the last proxy's word
		}
		client = a.Unmap()
		if !s.isTrusted(client) {
			break
		}
	}
	return client.String()
}

// parseHop reads one X-Forwarded-For entry: an address, or an address with a port
// ("192.0.2.1:4711", "[2001:db8::1]:4711") as some proxies write it.
func parseHop(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr(), nil
}

// actor describes the user of r for the audit log.
func (s *server) actor(r *http.Request, u *ticket.User) ticket.Actor {
	return ticket.Actor{Name: u.Name, Remote: s.clientIP(r), At: s.now()}
}

// audit writes an audit entry; the caller refuses to answer when it fails, so that no
// view goes unrecorded.
func (s *server) audit(r *http.Request, u *ticket.User, action string, ref ticket.Reference, msg uint64, detail string) error {
	e := s.actor(r, u).NewAuditEntry(action, ref, detail)
	e.Message = msg
	var err error
	switch action {
	case ticket.AuditView, ticket.AuditSearch, ticket.AuditDownloadRaw, ticket.AuditDownloadAttachment:
		// Reads: in the audit journal before the answer, in the register with the
		// others of the next 0.1 s (ticket.Store.AppendAuditDeferred), so that a
		// lookup does not wait for an fsync of its own (issue 12).
		err = s.store.AppendAuditDeferred(e)
	default:
		_, err = s.store.AppendAudit(e)
	}
	if err != nil {
		s.log.Error("audit log", "action", action, "err", err)
		return err
	}
	return nil
}

// Server is the clerks' HTTP server: an http.Server whose Serve also lets the threads of
// clerks' connections wait for their next request themselves (priority.go). Serve is its
// entry point: the ListenAndServe it has from http.Server would skip that.
type Server struct {
	*http.Server
	prio *requestPriority
}

// Serve answers the connections of ln (http.Server.Serve). It returns once its sweeper
// (requestPriority.raiseSweeper) has ended too, so that no look for strays of this server
// runs on after it.
func (s *Server) Serve(ln net.Listener) error {
	ctx, stop := context.WithCancel(context.Background())
	swept := make(chan struct{})
	go func() { s.prio.raiseSweeper(ctx); close(swept) }()
	defer func() { stop(); <-swept }()
	return s.Server.Serve(s.prio.listener(ln))
}

// NewServer returns a Server for the handler with timeouts suited to it: short for
// headers, long enough for large attachment downloads. requestNice is web.request_nice:
// the nice value of the threads that answer clerks' connections (priority.go); 0 = off.
func NewServer(addr string, requestNice int, h http.Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return newHTTPServer(addr, newRequestPriority(requestNice, log), h, log)
}

func newHTTPServer(addr string, prio *requestPriority, h http.Handler, log *slog.Logger) *Server {
	return &Server{Server: prio.server(&http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      10 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}), prio: prio}
}

// URL returns the address users open for cfg: web.base_url, else http://listen (with
// 127.0.0.1 for an empty or wildcard host); "" when there is no web server.
func URL(cfg *config.Config) string {
	w := cfg.Web
	if w.BaseURL != "" {
		return strings.TrimSuffix(w.BaseURL, "/")
	}
	if w.Listen == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(w.Listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	// The server itself speaks plain HTTP; TLS is the reverse proxy's (then base_url is set).
	return "http://" + net.JoinHostPort(host, port)
}

// config returns the configuration in force: the reloaded one when the
// daemon provides it (Options.CurrentConfig), else the start-up one.
func (s *server) config() *config.Config {
	if s.current != nil {
		if c := s.current(); c != nil {
			return c
		}
	}
	return s.cfg
}
