package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

var (
	mailboxNameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)
	prefixRE      = regexp.MustCompile(`^[A-Z0-9]{1,10}$`)
)

// Validate checks the whole configuration and returns every problem at once
// as Errors (nil when there is none). It expects defaults to be applied
// (ApplyDefaults) and reads password files, environment variables, CA files
// and the templates folder to check that they are usable.
func (c *Config) Validate() error {
	col := &collector{file: c.Path, idx: c.index}
	c.validate(col, Options{})
	return col.result()
}

func (c *Config) validate(v *collector, opts Options) {
	if strings.TrimSpace(c.DataDir) == "" {
		v.add("data_dir", "is required (the folder for the register and the raw mails)")
	}
	switch {
	case c.Timezone == "Local":
		v.add("timezone", `must name a time zone such as "Europe/Berlin", not the host's "Local"`)
	default:
		if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
			v.add("timezone", "unknown time zone %q (use an IANA name such as \"Europe/Berlin\")", c.Timezone)
		}
	}
	if c.MaxMessageSize <= 0 {
		v.add("max_message_size", "must be greater than 0")
	}
	if n := c.WorkNiceness(); n < 0 || n > 19 {
		v.add("work_nice", "must be between 0 (off) and 19 (last), got %d: it lowers the priority of the mail work below the clerks' requests", n)
	}
	if c.TemplatesDir != "" {
		if fi, err := os.Stat(c.TemplatesDir); err != nil {
			v.add("templates_dir", "cannot use templates folder: %v", err)
		} else if !fi.IsDir() {
			v.add("templates_dir", "%s is not a folder", c.TemplatesDir)
		}
	}

	o := c.Office
	v.text("office.name", o.Name, false)
	v.text("office.phone", o.Phone, false)
	v.text("office.postal_address", o.PostalAddress, true)
	v.httpURL("office.contact_url", o.ContactURL)
	v.httpURL("office.privacy_url", o.PrivacyURL)
	v.text("office.legal_basis", o.LegalBasis, false)
	v.text("office.signature", o.Signature, true)
	if o.Hostname != "" && !validHostname(o.Hostname) {
		v.add("office.hostname", "%q is not a valid host name", o.Hostname)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "must be one of debug, info, warn, error (got %q)", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		v.add("log.format", "must be text or json (got %q)", c.Log.Format)
	}

	c.validateWeb(v)
	c.validateAdmin(v)
	c.validateBackup(v)

	if len(c.Mailboxes) == 0 {
		v.add("mailbox", "at least one [[mailbox]] is required")
	}
	names := map[string]string{}    // name -> path of first mailbox with it
	prefixes := map[string]string{} // prefix -> path
	addrs := map[string]string{}    // lower-cased address -> key path
	for i := range c.Mailboxes {
		m := &c.Mailboxes[i]
		p := fmt.Sprintf("mailbox[%d]", i)
		switch {
		case m.Name == "":
			v.add(p+".name", "is required")
		case !mailboxNameRE.MatchString(m.Name):
			v.add(p+".name", "%q must consist of a-z, 0-9, _ and - only", m.Name)
		case names[m.Name] != "":
			v.add(p+".name", "%q is already used by %s", m.Name, names[m.Name])
		default:
			names[m.Name] = p
		}

		addrKey := func(key, a string) {
			if !ValidAddrSpec(a) {
				v.add(key, "%q is not a valid e-mail address (write the address only, e.g. poststelle@stk.example.de)", a)
				return
			}
			l := strings.ToLower(a)
			if prev, ok := addrs[l]; ok {
				v.add(key, "%s is already used by %s", a, prev)
				return
			}
			addrs[l] = key
		}
		if m.Address == "" {
			v.add(p+".address", "is required")
		} else {
			addrKey(p+".address", m.Address)
		}
		for j, a := range m.Aliases {
			addrKey(fmt.Sprintf("%s.aliases[%d]", p, j), a)
		}

		switch {
		case m.Prefix == "":
			v.add(p+".prefix", "is required (the reference prefix, e.g. \"STK\")")
		case !prefixRE.MatchString(m.Prefix):
			v.add(p+".prefix", "%q must be 1 to 10 characters A-Z or 0-9 (upper case)", m.Prefix)
		case prefixes[m.Prefix] != "":
			v.add(p+".prefix", "%q is already used by %s", m.Prefix, prefixes[m.Prefix])
		default:
			prefixes[m.Prefix] = p
		}
		switch m.Language {
		case "de", "en":
		default:
			v.add(p+".language", "must be de or en (got %q)", m.Language)
		}

		// IMAP
		ip := p + ".imap"
		v.server(ip, m.IMAP.Host, m.IMAP.Port, m.IMAP.TLS)
		if m.IMAP.Username == "" {
			v.add(ip+".username", "is required")
		}
		if m.IMAP.OAuth2 != nil {
			v.oauth2(ip+".oauth2", m.IMAP.OAuth2, opts)
			if src := m.IMAP.Secret.sources(); len(src) > 0 {
				v.add(ip+"."+src[0], "must not be set together with [%s.oauth2]: the account signs in with a token", ip)
			}
		} else {
			v.secret(ip, m.IMAP.Secret, true, opts)
		}
		v.caFile(ip+".ca_file", m.IMAP.CAFile)
		v.text(ip+".folder", m.IMAP.Folder, false)
		if m.IMAP.Folder == "" {
			v.add(ip+".folder", "must not be empty")
		}
		if m.IMAP.Keyword != "" && !validAtom(m.IMAP.Keyword) {
			v.add(ip+".keyword", `%q is not a valid IMAP keyword: no spaces, no non-ASCII or control characters and none of ( ) { %% * " \ ] (e.g. "$Registered")`, m.IMAP.Keyword)
		}
		v.text(ip+".move_to", m.IMAP.MoveTo, false)
		if m.IMAP.MoveTo != "" && m.IMAP.MoveTo == m.IMAP.Folder {
			v.add(ip+".move_to", "must differ from folder %q", m.IMAP.Folder)
		}
		if m.IMAP.PollInterval.Duration < time.Second {
			v.add(ip+".poll_interval", "must be at least 1s (got %s)", m.IMAP.PollInterval.Duration)
		}

		// SMTP
		sp := p + ".smtp"
		v.server(sp, m.SMTP.Host, m.SMTP.Port, m.SMTP.TLS)
		if m.SMTP.OAuth2 != nil {
			v.oauth2(sp+".oauth2", m.SMTP.OAuth2, opts)
			if m.SMTP.Username == "" {
				v.add(sp+".username", "is required with [%s.oauth2] (the token is sent for this user)", sp)
			}
			if src := m.SMTP.Secret.sources(); len(src) > 0 {
				v.add(sp+"."+src[0], "must not be set together with [%s.oauth2]: the account signs in with a token", sp)
			}
		} else if m.SMTP.Username != "" {
			v.secret(sp, m.SMTP.Secret, true, opts)
		} else if src := m.SMTP.Secret.sources(); len(src) > 0 {
			v.add(sp+"."+src[0], "is set but username is empty (without a username intake does not authenticate)")
		}
		v.caFile(sp+".ca_file", m.SMTP.CAFile)
		switch ef := m.SMTP.EnvelopeFrom; {
		case ef == "" || ef == "<>":
		case strings.HasPrefix(ef, "<") && strings.HasSuffix(ef, ">"):
			v.add(sp+".envelope_from", "write the address without angle brackets; only the null sender is written \"<>\"")
		case !ValidAddrSpec(ef):
			v.add(sp+".envelope_from", "%q is not a valid e-mail address (or \"<>\" for the null sender)", ef)
		}
		if m.SMTP.HELO != "" && m.SMTP.HELO != c.Office.Hostname && !validHostname(m.SMTP.HELO) && !validAddressLiteral(m.SMTP.HELO) {
			v.add(sp+".helo", "%q is not a host name or address literal (RFC 5321 §4.1.1.1)", m.SMTP.HELO)
		}

		if m.HandlingTime.Duration < 24*time.Hour {
			v.add(p+".handling_time", "must be at least 24h (got %s), e.g. \"672h\" for four weeks", m.HandlingTime.Duration)
		}
		if m.Retention.Duration < 0 {
			v.add(p+".retention", "must be 0 (keep forever) or more (got %s)", m.Retention.Duration)
		} else if m.Retention.Duration > 0 && m.Retention.Duration < 24*time.Hour {
			v.add(p+".retention", "must be at least 24h or 0 (keep forever) (got %s)", m.Retention.Duration)
		}

		// ack
		if m.Ack.MaxAge.Duration <= 0 {
			v.add(p+".ack.max_age", "must be greater than 0 (got %s)", m.Ack.MaxAge.Duration)
		}
		v.text(p+".ack.from_name", m.Ack.FromName, false)
		switch m.Ack.Echo {
		case EchoVerified, EchoAlways, EchoNever:
		default:
			v.add(p+".ack.echo", "must be %q, %q or %q (got %q)", EchoVerified, EchoAlways, EchoNever, m.Ack.Echo)
		}
		// interim notices (issue 11): the acknowledgement names the handling time.
		if a := m.Interim.After.Duration; a < time.Minute || a > 366*24*time.Hour {
			v.add(p+".interim.after", "must be from \"1m\" to \"52w\", e.g. \"4w\" or \"30d\" (got %s)", a)
		}
		pol := m.Policy
		if pol.PerSenderLimit != nil && *pol.PerSenderLimit < 0 {
			v.add(p+".policy.per_sender_limit", "must be 0 (no limit) or more (got %d)", *pol.PerSenderLimit)
		}
		if pol.HourlyCap != nil && *pol.HourlyCap < 1 {
			v.add(p+".policy.hourly_cap", "must be at least 1 (got %d)", *pol.HourlyCap)
		}
		if pol.PerDomainLimit != nil && *pol.PerDomainLimit < 0 {
			v.add(p+".policy.per_domain_limit", "must be 0 (no limit) or more (got %d)", *pol.PerDomainLimit)
		}
		if u := pol.UnverifiedHourlyCap; u != nil && (*u < 0 || pol.HourlyCap != nil && *pol.HourlyCap >= 1 && *u >= *pol.HourlyCap) {
			v.add(p+".policy.unverified_hourly_cap", "must be 0 (no acknowledgements to unverified senders) or more, and less than hourly_cap, so that unverified mail cannot use up the whole cap (got %d)", *u)
		}
		if pol.AuthservID != "" && strings.ContainsAny(pol.AuthservID, " \t;()\"") {
			v.add(p+".policy.authserv_id", "must be a host name such as \"mx.stk.example.de\" (got %q)", pol.AuthservID)
		}
		switch pol.Verification {
		case "", VerifyNone:
			// Validate runs after ApplyDefaults, so "none" with an authserv_id was asked for.
			if pol.Verification == VerifyNone && pol.AuthservID != "" {
				v.add(p+".policy.verification", "is \"none\" but authserv_id is set: use verification = \"authserv-id\" or remove authserv_id")
			}
		case VerifyAuthservID:
			if pol.AuthservID == "" {
				v.add(p+".policy.verification", "\"authserv-id\" needs authserv_id (the authserv-id of the office's own MTA)")
			}
		case VerifyExchangeOnline, VerifyGoogleWorkspace:
			if pol.AuthservID != "" {
				v.add(p+".policy.authserv_id", "is only used with verification = \"authserv-id\" (verification is %q)", pol.Verification)
			}
		default:
			v.add(p+".policy.verification", "must be %q, %q, %q or %q (got %q)",
				VerifyAuthservID, VerifyExchangeOnline, VerifyGoogleWorkspace, VerifyNone, pol.Verification)
		}
		for _, sealer := range pol.TrustedARCSealers {
			if !validHostname(sealer) {
				v.add(p+".policy.trusted_arc_sealers", "%q is not a host name such as \"mx.microsoft.com\" (the authserv-id the sealer writes)", sealer)
			}
		}
		if pol.RequireAuthenticated != nil && *pol.RequireAuthenticated && !pol.VerificationActive() {
			v.add(p+".policy.require_authenticated", "needs authserv_id, verification or trusted_arc_sealers: without a sender verification no authentication result can be trusted")
		}
	}
}

// headerNameRE is an HTTP field name (RFC 9110 §5.1: a token).
var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// validateWeb checks the [web] table.
func (c *Config) validateWeb(v *collector) {
	w := c.Web
	loopback := false
	if w.Listen != "" {
		host, port, err := net.SplitHostPort(w.Listen)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil:
			v.add("web.listen", "%q must be HOST:PORT, e.g. \"127.0.0.1:8080\"", w.Listen)
		case perr != nil || n < 1 || n > 65535:
			v.add("web.listen", "port %q must be between 1 and 65535", port)
		case host != "" && !validHostname(host) && net.ParseIP(host) == nil:
			v.add("web.listen", "%q is not a valid host name or IP address", host)
		default:
			loopback = host != "" && isLoopback(host)
		}
	}
	if w.BaseURL != "" {
		u, err := url.Parse(w.BaseURL)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(w.BaseURL, " \t\r\n"):
			v.add("web.base_url", "%q must be an absolute http or https URL", w.BaseURL)
		case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			v.add("web.base_url", "%q must be scheme and host only (serving below a path is not supported)", w.BaseURL)
		}
	}
	if h := w.TrustedProxyHeader; h != "" {
		switch strings.ToLower(h) {
		case "authorization", "cookie", "host", "origin", "referer", "x-forwarded-for", "forwarded", "content-type", "content-length":
			v.add("web.trusted_proxy_header", "%q is a standard header that clients set; use a header only the proxy sets, e.g. \"X-Remote-User\"", h)
		default:
			if !headerNameRE.MatchString(h) {
				v.add("web.trusted_proxy_header", "%q is not a valid header name", h)
			}
		}
	}
	for _, p := range w.TrustedProxies {
		if pp, err := parsePrefix(p); err != nil {
			v.add("web.trusted_proxies", "%q is not an IP network (CIDR, e.g. \"127.0.0.1/32\") or address", p)
		} else if pp.Bits() == 0 {
			v.add("web.trusted_proxies", "%q trusts every address; name the proxies' addresses", p)
		}
	}
	if w.TrustedProxyHeader != "" && len(w.TrustedProxies) == 0 {
		v.add("web.trusted_proxy_header", "needs web.trusted_proxies, the addresses of the proxies that set it: without them anyone who reaches %s can send the header and log in as any user", listenOrDefault(w.Listen))
	}
	if w.SessionIdle.Duration < time.Minute {
		v.add("web.session_idle", "must be at least 1m (got %s)", w.SessionIdle.Duration)
	}
	if w.SessionMax.Duration < w.SessionIdle.Duration {
		v.add("web.session_max", "must be at least session_idle (%s), got %s", w.SessionIdle.Duration, w.SessionMax.Duration)
	}
	if n := w.RequestNiceness(); n < -20 || n > 0 {
		v.add("web.request_nice", "must be between -20 (first) and 0 (off), got %d: it raises the priority of the threads that answer clerks above the mail work", n)
	}
	if !w.SecureCookies() && w.Listen != "" && !loopback {
		v.add("web.cookie_secure", "false is only allowed when listen is a loopback address (127.0.0.1, ::1, localhost): passwords and session cookies would cross the network unencrypted")
	}
}

func listenOrDefault(listen string) string {
	if listen == "" {
		return "the web server"
	}
	return listen
}

// parsePrefix reads a CIDR ("10.0.0.0/8") or a single address (as /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParsePrefixes reads web.trusted_proxies (CIDRs or single addresses).
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// validateAdmin checks the [admin] table.
func (c *Config) validateAdmin(v *collector) {
	a := c.Admin
	if a.Listen != "" {
		host, port, err := net.SplitHostPort(a.Listen)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil:
			v.add("admin.listen", "%q must be HOST:PORT, e.g. \"127.0.0.1:9464\"", a.Listen)
		case perr != nil || n < 1 || n > 65535:
			v.add("admin.listen", "port %q must be between 1 and 65535", port)
		case host != "" && !validHostname(host) && net.ParseIP(host) == nil:
			v.add("admin.listen", "%q is not a valid host name or IP address", host)
		case c.Web.Listen != "" && a.Listen == c.Web.Listen:
			v.add("admin.listen", "must differ from web.listen (%q)", c.Web.Listen)
		}
	}
	if a.ReadyMaxAge.Duration < time.Second {
		v.add("admin.ready_max_age", "must be at least 1s (got %s)", a.ReadyMaxAge.Duration)
	}
}

// server checks host, port and tls of an IMAP or SMTP table.
func (v *collector) server(path, host string, port int, mode TLSMode) {
	hostOK := false
	switch {
	case host == "":
		v.add(path+".host", "is required")
	case strings.Count(host, ":") == 1:
		v.add(path+".host", "%q must not contain a port; use port", host)
	case !validHostname(host) && net.ParseIP(strings.Trim(host, "[]")) == nil:
		v.add(path+".host", "%q is not a valid host name or IP address", host)
	default:
		hostOK = true
	}
	if port < 1 || port > 65535 {
		v.add(path+".port", "must be between 1 and 65535")
	}
	switch {
	case !mode.Valid():
		v.add(path+".tls", "must be tls, starttls or none (got %q)", mode)
	case mode == TLSNone && hostOK && !isLoopback(host):
		v.add(path+".tls", "none is only allowed for a loopback host (localhost, 127.0.0.1, ::1), not %q; use tls or starttls", host)
	}
}

// secret checks that exactly one password source is set and, unless
// skipped, that it can be read.
func (v *collector) secret(path string, s Secret, required bool, opts Options) {
	src := s.sources()
	switch {
	case len(src) == 0:
		if required {
			v.add(path, "one of password, password_file or password_env is required")
		}
		return
	case len(src) > 1:
		v.add(path+"."+src[1], "only one of password, password_file and password_env may be set (found %s)", strings.Join(src, " and "))
		return
	}
	if opts.SkipSecrets && s.Password == "" {
		return
	}
	if _, err := s.Resolve(); err != nil {
		var e *Error
		if errors.As(err, &e) {
			v.add(path+"."+e.Key, "%s", e.Msg)
		} else {
			v.add(path, "%v", err)
		}
	}
}

// caFile checks that a CA file holds at least one PEM certificate.
func (v *collector) caFile(path, file string) {
	if file == "" {
		return
	}
	b, err := os.ReadFile(file)
	if err != nil {
		v.add(path, "cannot read CA file: %v", err)
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		v.add(path, "%s contains no PEM certificate", file)
	}
}

// text rejects control characters (and line breaks unless multiline): the
// values end up in mail headers or in the acknowledgement text.
func (v *collector) text(path, s string, multiline bool) {
	for _, r := range s {
		if r == '\n' && multiline {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			if multiline {
				v.add(path, "must not contain control characters other than line breaks")
			} else {
				v.add(path, "must not contain line breaks or control characters")
			}
			return
		}
	}
}

func (v *collector) httpURL(path, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(s, " \t\r\n") {
		v.add(path, "%q must be an absolute http or https URL", s)
	}
}

// ValidAddrSpec is a conservative check that s is a bare dot-atom addr-spec we may send to
// (no display name, no angle brackets, no comments)
// (RFC 5322 §3.4.1, RFC 5321 §4.5.3.1 lengths; UTF-8 allowed as in RFC 6531): one "@",
// local part up to 64 bytes of atext and dots, a domain of labels made of letters, digits,
// "-" or non-ASCII. Quoted local parts and address literals are refused: an
// acknowledgement is never worth the risk of a misparsed destination.
func ValidAddrSpec(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 254 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || len(domain) > 253 {
		return false
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}
	for _, r := range local {
		if r >= 0x80 && r != 0xFFFD {
			continue
		}
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r)) {
			return false
		}
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if r >= 0x80 && r != 0xFFFD {
				continue
			}
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// validHostname reports whether s is a DNS host name (RFC 1123 §2.1),
// optionally with a trailing dot.
func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// validAddressLiteral accepts "[192.0.2.1]" and "[IPv6:2001:db8::1]"
// (RFC 5321 §4.1.3).
func validAddressLiteral(s string) bool {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return false
	}
	inner := s[1 : len(s)-1]
	if v6, ok := strings.CutPrefix(inner, "IPv6:"); ok {
		ip := net.ParseIP(v6)
		return ip != nil && ip.To4() == nil
	}
	ip := net.ParseIP(inner)
	return ip != nil && ip.To4() != nil
}

// isLoopback reports whether host is localhost (RFC 6761 §6.3) or a
// loopback IP address.
func isLoopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// validAtom reports whether s is an IMAP atom usable as a flag keyword
// (RFC 3501 §9: flag-keyword = atom; ATOM-CHAR is any CHAR except
// atom-specials "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]").
func validAtom(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}
