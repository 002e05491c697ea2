package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"
	_ "time/tzdata" // a static binary must load the office time zone without system tzdata

	"github.com/pelletier/go-toml/v2"
)

// Defaults applied by ApplyDefaults.
const (
	DefaultTimezone       = "Europe/Berlin"
	DefaultMaxMessageSize = 50 * MB
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "text"
	DefaultLanguage       = "de"
	DefaultFolder         = "INBOX"
	DefaultPollInterval   = 60 * time.Second
	DefaultAckMaxAge      = 72 * time.Hour
	DefaultPerSenderLimit = 3
	DefaultHourlyCap      = 500
	DefaultSessionIdle    = 30 * time.Minute
	DefaultSessionMax     = 12 * time.Hour
	DefaultReadyMaxAge    = 5 * time.Minute
	// DefaultHandlingTime is the handling time the acknowledgement promises (four weeks).
	DefaultHandlingTime = 4 * 7 * 24 * time.Hour
)

// Defaults of the limits on unverified senders (issue 8), applied by ApplyDefaults.
const (
	// DefaultPerDomainLimit: acks per 24 h to unverified senders of one domain.
	DefaultPerDomainLimit = 50
	// DefaultUnverifiedShare: unverified_hourly_cap defaults to hourly_cap divided by this.
	DefaultUnverifiedShare = 5
)

// Config is the whole configuration file.
type Config struct {
	Path           string         `toml:"-"`                // file it was read from ("" when parsed from memory)
	DataDir        string         `toml:"data_dir"`         // required; register and raw mails
	Timezone       string         `toml:"timezone"`         // IANA name, default Europe/Berlin
	Location       *time.Location `toml:"-"`                // Timezone loaded by ApplyDefaults
	MaxMessageSize ByteSize       `toml:"max_message_size"` // default 50 MB (50*1000*1000)
	TemplatesDir   string         `toml:"templates_dir"`    // optional override folder for ack texts
	Office         Office         `toml:"office"`
	Log            Log            `toml:"log"`
	Mailboxes      []Mailbox      `toml:"mailbox"`
	Web            Web            `toml:"web"`
	Admin          Admin          `toml:"admin"`
	Backup         Backup         `toml:"backup"`

	// WorkNice is the nice value (0..19, 0 = off) intake's mail work runs at — watching, parsing,
	// registering, indexing, sending — so that the threads that answer clerks
	// (web.request_nice) come first also against intake's own work and whatever shares its
	// scheduling group (issue 12; Linux). Default 10. Applied at start only with a
	// web interface and only when the kernel lets intake raise the clerks' threads to
	// web.request_nice; otherwise nothing is lowered.
	WorkNice *int `toml:"work_nice"`

	// KeepRegisterInMemory locks the register's pages in memory (mlock), up to a quarter of
	// the memory intake may use (the machine's, or its cgroup's limit), so that a clerk's lookup of an old case does not wait for the
	// disk after the kernel wrote its pages out (issue 12; Linux). Default true.
	KeepRegisterInMemory *bool `toml:"keep_register_in_memory"`

	index *keyIndex // key path -> line, for Validate's messages
}

// Office describes the authority; it is shown in the acknowledgement.
type Office struct {
	Name          string `toml:"name"`           // e.g. "Staatskanzlei des Landes Beispiel"
	Phone         string `toml:"phone"`          // citizens' contact phone
	PostalAddress string `toml:"postal_address"` // may span several lines ("\n")
	ContactURL    string `toml:"contact_url"`    // http(s) URL
	PrivacyURL    string `toml:"privacy_url"`    // http(s) URL of the Art. 13 GDPR notice
	Hostname      string `toml:"hostname"`       // EHLO and Message-ID domain; default: domain of the first mailbox address
	// LegalBasis is the provision on electronic written form the acknowledgement cites
	// (issue 11): the state's own administrative procedure act, e.g. "§ 3a VwVfG NRW";
	// default DefaultLegalBasis, the federal one.
	LegalBasis string `toml:"legal_basis"`
	// Signature are the lines under "Mit freundlichen Grüßen" (several lines: "\n"); default
	// the mailbox's ack.from_name, followed by office.name when that differs.
	Signature string `toml:"signature"`
}

// DefaultLegalBasis is the default of office.legal_basis: § 3a of the federal
// Verwaltungsverfahrensgesetz (electronic communication, written form).
const DefaultLegalBasis = "§ 3a VwVfG"

// DefaultInterimAfter is the default handling time after which an open case gets an
// interim notice: four weeks.
const DefaultInterimAfter = 4 * 7 * 24 * time.Hour

// Interim configures the interim notices (Zwischennachricht) of a mailbox (issue 11).
type Interim struct {
	// Enabled: a case not closed After its receipt gets one interim notice. Default true:
	// the acknowledgement promises it, and a promise the office makes automatically must
	// be kept automatically. false also removes the promise from the acknowledgement.
	Enabled *bool `toml:"enabled"`
	// After is the handling time the acknowledgement names; default DefaultInterimAfter.
	After Period `toml:"after"`
}

// IsEnabled reports whether interim notices are sent (default true).
func (i Interim) IsEnabled() bool { return i.Enabled == nil || *i.Enabled }

// Log configures log/slog.
type Log struct {
	Level  string `toml:"level"`  // debug | info (default) | warn | error
	Format string `toml:"format"` // text (default) | json
}

// Web configures the clerks' web interface and JSON API (package web).
type Web struct {
	// Listen is the address the web server listens on, e.g. "127.0.0.1:8080"; "" = no
	// web server.
	Listen string `toml:"listen"`
	// BaseURL is the URL users reach the interface under (e.g. behind a reverse proxy,
	// "https://intake.stk.example.de"); its origin is trusted for state-changing requests
	// (the proxy may rewrite Host) and shown by "intake demo". "" = derived from Listen.
	BaseURL string `toml:"base_url"`
	// TrustedProxyHeader names a request header (e.g. "X-Remote-User") whose value is the
	// name of the logged-in user, for single sign-on by a reverse proxy. "" = off
	// (default). Only safe when every request reaches intake through a proxy that sets
	// or removes the header: anyone who can reach Listen directly can send it.
	TrustedProxyHeader string `toml:"trusted_proxy_header"`
	// TrustedProxies are the addresses of the reverse proxies in front of intake, as
	// CIDRs ("127.0.0.1/32", "10.1.2.0/24") or single addresses. Only a request whose
	// TCP peer is in them may name the user in TrustedProxyHeader or the client address
	// in X-Forwarded-For (used by the login throttling and the audit log). Required with
	// TrustedProxyHeader. Default none: X-Forwarded-For is ignored.
	TrustedProxies []string `toml:"trusted_proxies"`
	// SessionIdle ends a session after this long without a request; default 30m.
	SessionIdle Duration `toml:"session_idle"`
	// SessionMax ends a session this long after login, however active; default 12h.
	SessionMax Duration `toml:"session_max"`
	// CookieSecure marks the session cookie Secure (sent over HTTPS only); default true.
	// false only for a plain-HTTP demo on a loopback address.
	CookieSecure *bool `toml:"cookie_secure"`
	// RequestNice is the nice value (-20..0) of the threads that answer clerks and the
	// JSON API, so that a lookup is not queued behind the drain's work on a busy machine
	// (Linux; needs CAP_SYS_NICE or a nice limit such as systemd's LimitNICE=-10); default
	// -10, 0 = off. Without the right intake answers at the normal priority and says so
	// once in its log.
	RequestNice *int `toml:"request_nice"`
}

// DefaultRequestNice is web.request_nice when the file does not set it.
const DefaultRequestNice = -10

// DefaultWorkNice is work_nice when the file does not set it.
const DefaultWorkNice = 10

// WorkNiceness returns work_nice, DefaultWorkNice when unset.
func (c *Config) WorkNiceness() int {
	if c.WorkNice == nil {
		return DefaultWorkNice
	}
	return *c.WorkNice
}

// KeepsRegisterInMemory returns keep_register_in_memory, true when unset.
func (c *Config) KeepsRegisterInMemory() bool {
	return c.KeepRegisterInMemory == nil || *c.KeepRegisterInMemory
}

// SecureCookies reports whether the session cookie is marked Secure (default true).
func (w Web) SecureCookies() bool { return w.CookieSecure == nil || *w.CookieSecure }

// RequestNiceness returns web.request_nice, DefaultRequestNice when unset.
func (w Web) RequestNiceness() int {
	if w.RequestNice == nil {
		return DefaultRequestNice
	}
	return *w.RequestNice
}

// Admin configures the operators' endpoints /healthz, /readyz and /metrics.
// They need no login: Listen must stay on a loopback address or behind a
// proxy that restricts access.
type Admin struct {
	// Listen is the address of the endpoints, e.g. "127.0.0.1:9464"; "" = off.
	Listen string `toml:"listen"`
	// ReadyMaxAge: /readyz fails when a mailbox's oldest unregistered mail is
	// older than this; default 5m.
	ReadyMaxAge Duration `toml:"ready_max_age"`
}

// Mailbox is one office address with its IMAP folder and SMTP account.
type Mailbox struct {
	Name     string   `toml:"name"`     // required, unique, [a-z0-9_-]+
	Address  string   `toml:"address"`  // required addr-spec, e.g. poststelle@stk.example.de
	Aliases  []string `toml:"aliases"`  // further addresses of this mailbox (RFC 3834 §2, RFC 5230 §4.5)
	Prefix   string   `toml:"prefix"`   // required, unique, 1-10 of A-Z0-9: the reference prefix
	Language string   `toml:"language"` // de (default) | en
	// Retention is how long a closed case keeps its mails and personal data after it
	// was closed (GDPR Art. 5(1)(e)); then the daily sweep and `intake purge` delete
	// them and keep a minimal register entry. 0 (default) = keep forever.
	Retention Duration `toml:"retention"`
	IMAP      IMAP     `toml:"imap"`
	SMTP      SMTP     `toml:"smtp"`
	Ack       Ack      `toml:"ack"`
	Interim   Interim  `toml:"interim"`
	Policy    Policy   `toml:"policy"`

	// HandlingTime is how long a case may stay open before the clerks' worklist shows
	// it as overdue ("Frist überschritten"). Default DefaultHandlingTime (672h).
	HandlingTime Duration `toml:"handling_time"`
}

// IMAP is the account the mailbox is read from.
type IMAP struct {
	Host     string  `toml:"host"`
	Port     int     `toml:"port"` // default 993 for tls, 143 otherwise
	TLS      TLSMode `toml:"tls"`  // tls (default) | starttls | none (loopback only)
	Username string  `toml:"username"`
	Secret
	CAFile       string   `toml:"ca_file"`       // extra trust anchor (PEM); verification is never switched off
	Folder       string   `toml:"folder"`        // default INBOX
	Keyword      string   `toml:"keyword"`       // IMAP keyword set after registration; "" = none
	MoveTo       string   `toml:"move_to"`       // folder to move registered mails to; "" = leave them
	PollInterval Duration `toml:"poll_interval"` // polling interval without IDLE, default 60s
	OAuth2       *OAuth2  `toml:"oauth2"`        // sign in with an OAuth2 token instead of the password
}

// SMTP is the account acknowledgements are sent through.
type SMTP struct {
	Host         string  `toml:"host"`
	Port         int     `toml:"port"` // default 465 for tls, 587 for starttls, 25 for none
	TLS          TLSMode `toml:"tls"`  // tls (default) | starttls | none (loopback only)
	Username     string  `toml:"username"`
	Secret               // required iff Username is set (no AUTH without a username)
	CAFile       string  `toml:"ca_file"`
	EnvelopeFrom string  `toml:"envelope_from"` // "" = mailbox address, "<>" = null sender, else an address
	HELO         string  `toml:"helo"`          // default office.hostname
	OAuth2       *OAuth2 `toml:"oauth2"`        // sign in with an OAuth2 token instead of the password
}

// Ack configures the acknowledgements of a mailbox.
type Ack struct {
	Enabled  *bool    `toml:"enabled"`   // default true
	MaxAge   Duration `toml:"max_age"`   // older mails (by INTERNALDATE) get no ack; default 72h
	FromName string   `toml:"from_name"` // display name in From; default the mailbox name
	// Echo says when an acknowledgement repeats the sender's subject and attachment names
	// (issue 8): EchoVerified (default) only to a sender a trusted authentication result
	// verified, EchoAlways to everyone (a phishing relay risk), EchoNever to nobody.
	Echo string `toml:"echo"`
}

// Values of [mailbox.ack] echo.
const (
	EchoVerified = "verified"
	EchoAlways   = "always"
	EchoNever    = "never"
)

// String describes the account without its password (Secret's String
// would otherwise be promoted and hide every other field).
func (i IMAP) String() string {
	return fmt.Sprintf("{host=%s port=%d tls=%s username=%s %s ca_file=%s folder=%s keyword=%s move_to=%s poll_interval=%s oauth2=%s}",
		i.Host, i.Port, i.TLS, i.Username, i.Secret, i.CAFile, i.Folder, i.Keyword, i.MoveTo, i.PollInterval.Duration, i.OAuth2)
}

// GoString keeps %#v from printing the inline password.
func (i IMAP) GoString() string { return "config.IMAP" + i.String() }

// String describes the account without its password.
func (s SMTP) String() string {
	return fmt.Sprintf("{host=%s port=%d tls=%s username=%s %s ca_file=%s envelope_from=%s helo=%s oauth2=%s}",
		s.Host, s.Port, s.TLS, s.Username, s.Secret, s.CAFile, s.EnvelopeFrom, s.HELO, s.OAuth2)
}

// GoString keeps %#v from printing the inline password.
func (s SMTP) GoString() string { return "config.SMTP" + s.String() }

// Policy tunes when a mailbox's mail is acknowledged (autoreply-rules.md:
// A1, B1–B4, R2, R3, S9). Pointers tell "unset" from false/0; ApplyDefaults
// fills them.
type Policy struct {
	RequireAddressed     *bool  `toml:"require_addressed"`     // A1; default true
	AuthservID           string `toml:"authserv_id"`           // B1: authserv-id of the office's own MTA; "" = no B rules
	RequireAuthenticated *bool  `toml:"require_authenticated"` // B2; default true when authserv_id is set
	PerSenderLimit       *int   `toml:"per_sender_limit"`      // R2: acks per recipient per 24 h; default 3; 0 = no limit
	FollowUpAck          *bool  `toml:"follow_up_ack"`         // follow-ups acknowledged (at most once per case per 24 h); default true
	HourlyCap            *int   `toml:"hourly_cap"`            // R3: acks per hour for the whole daemon (the smallest of the mailboxes' applies); default 500
	PerDomainLimit       *int   `toml:"per_domain_limit"`      // R2: acks per 24 h to unverified senders of one domain; default 50 with a sender verification, else 0; 0 = no limit
	UnverifiedHourlyCap  *int   `toml:"unverified_hourly_cap"` // R3: acks per hour to unverified senders (whole daemon); default hourly_cap/5; 0 = none
	SubjectHeuristics    *bool  `toml:"subject_heuristics"`    // S9; default true
	// Verification says whose Authentication-Results are trusted to verify a sender:
	// "authserv-id" (the fields of authserv_id), "exchange-online" (the topmost field that
	// Exchange Online stamps, with compauth), "google-workspace" (the topmost field of
	// mx.google.com) or "none". Default "authserv-id" when authserv_id is set, else "none".
	Verification string `toml:"verification"`
	// TrustedARCSealers are the authserv-ids of ARC sealers on the office's delivery path
	// whose newest ARC-Authentication-Results verify a sender too (RFC 8617). Default none.
	TrustedARCSealers []string `toml:"trusted_arc_sealers"`
}

// Values of [mailbox.policy] verification.
const (
	VerifyNone            = "none"
	VerifyAuthservID      = "authserv-id"
	VerifyExchangeOnline  = "exchange-online"
	VerifyGoogleWorkspace = "google-workspace"
)

// VerificationActive reports whether any sender verification is configured (a mode other
// than "none" or a trusted ARC sealer). Without one no sender is verified.
func (p Policy) VerificationActive() bool {
	return p.Verification != "" && p.Verification != VerifyNone || len(p.TrustedARCSealers) > 0
}

// IsEnabled reports whether acknowledgements are sent (default true).
func (a Ack) IsEnabled() bool { return a.Enabled == nil || *a.Enabled }

// Addresses returns the mailbox address and its aliases, lower-cased (for
// the "addressed to us" check, RFC 3834 §2).
func (m *Mailbox) Addresses() []string {
	out := make([]string, 0, 1+len(m.Aliases))
	for _, a := range append([]string{m.Address}, m.Aliases...) {
		out = append(out, strings.ToLower(a))
	}
	return out
}

// EnvelopeSender returns the SMTP envelope sender (MAIL FROM) of the
// mailbox's acknowledgements: the mailbox address by default, "" for the null
// sender (envelope_from = "<>", RFC 3834 §3.3), or the configured address.
func (m *Mailbox) EnvelopeSender() string {
	switch m.SMTP.EnvelopeFrom {
	case "":
		return m.Address
	case "<>":
		return ""
	}
	return m.SMTP.EnvelopeFrom
}

// Mailbox returns the mailbox with the given name, or nil.
func (c *Config) Mailbox(name string) *Mailbox {
	for i := range c.Mailboxes {
		if c.Mailboxes[i].Name == name {
			return &c.Mailboxes[i]
		}
	}
	return nil
}

// Options change what Load and Parse check.
type Options struct {
	// SkipSecrets leaves out reading password files and environment
	// variables. For commands that only need the register (e.g. "intake case
	// show") and run in a shell where the daemon's secrets are not available.
	// That exactly one password source is configured is still checked.
	SkipSecrets bool
}

// Load reads, decodes, completes and validates the file at path. A
// problem with the contents is returned as Errors (every problem at once,
// one line each); a file that cannot be read gives a wrapped *fs.PathError.
func Load(path string) (*Config, error) { return LoadWith(path, Options{}) }

// LoadWith is Load with options.
func LoadWith(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return ParseWith(data, path, opts)
}

// Parse decodes data as a config file named path (used in messages and to
// resolve relative paths; "" for none), applies defaults and validates. All
// problems are returned at once as Errors.
func Parse(data []byte, path string) (*Config, error) { return ParseWith(data, path, Options{}) }

// ParseWith is Parse with options.
func ParseWith(data []byte, path string, opts Options) (*Config, error) {
	col := &collector{file: path}
	if hasBOM(data) {
		data = data[3:] // lines stay the same
	}
	idx, ok := scanDocument(data, schemaOf(reflect.TypeFor[Config]()), col)
	col.idx = idx
	if !ok {
		return nil, col.result()
	}

	var c Config
	err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(&c)
	if err != nil {
		// The document scan reports unknown keys and type errors itself, in
		// more detail and all at once; go-toml's errors are the fallback for
		// anything it did not catch (e.g. a key defined twice).
		scanned := len(col.errs) > 0
		var strict *toml.StrictMissingError
		var derr *toml.DecodeError
		switch {
		case errors.As(err, &strict):
			if !scanned {
				for i := range strict.Errors {
					e := &strict.Errors[i]
					line, _ := e.Position()
					col.addAt(line, idx.pathAt(line, e.Key()), "unknown key")
				}
			}
		case errors.As(err, &derr):
			if !scanned {
				line, _ := derr.Position()
				col.addAt(line, idx.pathAt(line, derr.Key()), strings.TrimPrefix(derr.Error(), "toml: "))
			}
			return nil, col.result()
		default:
			if !scanned {
				col.addAt(0, "", strings.TrimPrefix(err.Error(), "toml: "))
			}
			return nil, col.result()
		}
	}
	// A key whose type was wrong may have been decoded to a half-useful
	// value; do not add validation errors for keys reported already.
	reported := map[string]bool{}
	for _, e := range col.errs {
		reported[e.Key] = true
	}
	c.Path = path
	c.index = idx
	if path != "" {
		c.resolvePaths(filepath.Dir(path))
	}
	c.ApplyDefaults()
	v := &collector{file: path, idx: idx}
	c.validate(v, opts)
	for _, e := range v.errs {
		if !reported[e.Key] {
			col.errs = append(col.errs, e)
		}
	}
	if err := col.result(); err != nil {
		return nil, err
	}
	return &c, nil
}

// pathAt finds the indexed path ("mailbox[1].imap.prot") of a go-toml key
// (["mailbox", "imap", "prot"]) reported at line.
func (k *keyIndex) pathAt(line int, key []string) string {
	plain := ""
	for _, p := range key {
		plain = joinKey(plain, p)
	}
	best := plain
	for _, at := range k.all {
		// go-toml gives either the full key or the key relative to its table.
		if s := stripIndices(at.path); at.line == line && (s == plain || strings.HasSuffix(s, "."+plain)) && len(at.path) >= len(best) {
			best = at.path
		}
	}
	return best
}

func stripIndices(path string) string {
	var b strings.Builder
	depth := 0
	for _, r := range path {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// resolvePaths makes relative file paths relative to dir, the directory
// of the config file (not the working directory of the daemon, which is
// "/" under systemd).
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.TemplatesDir)
	for i := range c.Mailboxes {
		m := &c.Mailboxes[i]
		abs(&m.IMAP.CAFile)
		abs(&m.IMAP.PasswordFile)
		abs(&m.SMTP.CAFile)
		abs(&m.SMTP.PasswordFile)
		for _, o := range []*OAuth2{m.IMAP.OAuth2, m.SMTP.OAuth2} {
			if o != nil {
				abs(&o.ClientSecretFile)
				abs(&o.RefreshTokenFile)
			}
		}
	}
}

// ApplyDefaults fills every unset (zero) value with its default and loads
// Location. Parse and Load call it; call it yourself for a Config built in
// code, before Validate.
func (c *Config) ApplyDefaults() {
	if c.Timezone == "" {
		c.Timezone = DefaultTimezone
	}
	if c.Location == nil && c.Timezone != "Local" {
		if loc, err := time.LoadLocation(c.Timezone); err == nil {
			c.Location = loc
		}
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = DefaultLogFormat
	}
	if c.Office.LegalBasis == "" {
		c.Office.LegalBasis = DefaultLegalBasis
	}
	if c.Office.Hostname == "" && len(c.Mailboxes) > 0 {
		if a := c.Mailboxes[0].Address; ValidAddrSpec(a) {
			c.Office.Hostname = strings.ToLower(a[strings.LastIndexByte(a, '@')+1:])
		}
	}
	if c.Web.SessionIdle.Duration == 0 {
		c.Web.SessionIdle.Duration = DefaultSessionIdle
	}
	if c.Web.SessionMax.Duration == 0 {
		c.Web.SessionMax.Duration = DefaultSessionMax
	}
	if c.Admin.ReadyMaxAge.Duration == 0 {
		c.Admin.ReadyMaxAge.Duration = DefaultReadyMaxAge
	}
	if c.Web.CookieSecure == nil {
		secure := true
		c.Web.CookieSecure = &secure
	}
	for i := range c.Mailboxes {
		m := &c.Mailboxes[i]
		if m.Language == "" {
			m.Language = DefaultLanguage
		}
		if m.IMAP.TLS == "" {
			m.IMAP.TLS = TLSImplicit
		}
		if m.IMAP.Port == 0 {
			m.IMAP.Port = 143 // RFC 3501 §2.1; STARTTLS or none
			if m.IMAP.TLS == TLSImplicit {
				m.IMAP.Port = 993 // RFC 8314 §7.3
			}
		}
		if m.IMAP.Folder == "" {
			m.IMAP.Folder = DefaultFolder
		}
		if m.HandlingTime.Duration == 0 {
			m.HandlingTime.Duration = DefaultHandlingTime
		}
		if m.IMAP.PollInterval.Duration == 0 {
			m.IMAP.PollInterval.Duration = DefaultPollInterval
		}
		if m.SMTP.TLS == "" {
			m.SMTP.TLS = TLSImplicit
		}
		if m.SMTP.Port == 0 {
			switch m.SMTP.TLS {
			case TLSImplicit:
				m.SMTP.Port = 465 // submissions, RFC 8314 §7.3
			case TLSStartTLS:
				m.SMTP.Port = 587 // submission, RFC 6409 §3.1
			default:
				m.SMTP.Port = 25
			}
		}
		if m.SMTP.HELO == "" {
			m.SMTP.HELO = c.Office.Hostname
		}
		if m.Ack.Enabled == nil {
			enabled := true
			m.Ack.Enabled = &enabled
		}
		if m.Ack.MaxAge.Duration == 0 {
			m.Ack.MaxAge.Duration = DefaultAckMaxAge
		}
		if m.Ack.FromName == "" {
			m.Ack.FromName = m.Name
		}
		if m.Ack.Echo == "" {
			m.Ack.Echo = EchoVerified
		}
		if m.Interim.Enabled == nil {
			enabled := true
			m.Interim.Enabled = &enabled
		}
		if m.Interim.After.Duration == 0 {
			m.Interim.After.Duration = DefaultInterimAfter
		}
		m.Policy.applyDefaults()
	}
}

func (p *Policy) applyDefaults() {
	setBool := func(dst **bool, v bool) {
		if *dst == nil {
			*dst = &v
		}
	}
	setInt := func(dst **int, v int) {
		if *dst == nil {
			*dst = &v
		}
	}
	if p.Verification == "" {
		p.Verification = VerifyNone
		if p.AuthservID != "" {
			p.Verification = VerifyAuthservID
		}
	}
	setBool(&p.RequireAddressed, true)
	// B2 by default wherever the office's own receiving system's results are trusted (not
	// for ARC sealers alone: they only vouch for mail that passed through them).
	setBool(&p.RequireAuthenticated, p.Verification != VerifyNone)
	setInt(&p.PerSenderLimit, DefaultPerSenderLimit)
	setBool(&p.FollowUpAck, true)
	setInt(&p.HourlyCap, DefaultHourlyCap)
	// The per-domain limit counts acknowledgements to unverified senders. Without any
	// sender verification every sender is unverified, and the limit would suppress the
	// acknowledgements of the office's real correspondents at the big mail providers
	// (web.de, gmx.de, …): it is on by default only where senders can be verified, so that
	// unverified mail "from" a domain is what forged mail looks like.
	if p.Verification != VerifyNone || len(p.TrustedARCSealers) > 0 {
		setInt(&p.PerDomainLimit, DefaultPerDomainLimit)
	} else {
		setInt(&p.PerDomainLimit, 0)
	}
	setInt(&p.UnverifiedHourlyCap, *p.HourlyCap/DefaultUnverifiedShare)
	setBool(&p.SubjectHeuristics, true)
}

// Retention returns the retention of every mailbox with one, by mailbox name (the
// Mailbox of its cases in the register); mailboxes that keep cases forever are left out.
func (c *Config) Retention() map[string]time.Duration {
	r := map[string]time.Duration{}
	for _, m := range c.Mailboxes {
		if m.Retention.Duration > 0 {
			r[m.Name] = m.Retention.Duration
		}
	}
	return r
}
