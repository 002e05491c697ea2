package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// OAuth2 signs an IMAP or SMTP account in with an OAuth2 access token
// (SASL XOAUTH2 or OAUTHBEARER, RFC 7628) instead of a password, as
// Microsoft 365 and Google require. Without RefreshToken the token comes
// from the client-credentials grant (RFC 6749 §4.4), with it from the
// refresh-token grant (RFC 6749 §6).
type OAuth2 struct {
	TokenURL         string   `toml:"token_url"`              // required, https (http only for loopback hosts)
	ClientID         string   `toml:"client_id"`              // required
	ClientSecret     string   `toml:"client_secret" json:"-"` // inline; discouraged outside tests
	ClientSecretFile string   `toml:"client_secret_file"`     // read at use; trailing CR/LF trimmed
	ClientSecretEnv  string   `toml:"client_secret_env"`      // name of an environment variable
	Scopes           []string `toml:"scopes"`                 // e.g. ["https://outlook.office365.com/.default"]
	RefreshToken     string   `toml:"refresh_token" json:"-"` // inline; discouraged outside tests
	RefreshTokenFile string   `toml:"refresh_token_file"`
	RefreshTokenEnv  string   `toml:"refresh_token_env"`
}

// String never shows a secret.
func (o *OAuth2) String() string {
	if o == nil {
		return "(none)"
	}
	flow := "client_credentials"
	if len(o.refreshSources()) > 0 {
		flow = "refresh_token"
	}
	return fmt.Sprintf("{token_url=%s client_id=%s flow=%s scopes=%v}", o.TokenURL, o.ClientID, flow, o.Scopes)
}

// GoString keeps %#v from printing inline secrets.
func (o *OAuth2) GoString() string { return "config.OAuth2" + o.String() }

func (o *OAuth2) clientSources() []string {
	return setKeys("client_secret", o.ClientSecret, "client_secret_file", o.ClientSecretFile, "client_secret_env", o.ClientSecretEnv)
}

func (o *OAuth2) refreshSources() []string {
	return setKeys("refresh_token", o.RefreshToken, "refresh_token_file", o.RefreshTokenFile, "refresh_token_env", o.RefreshTokenEnv)
}

// ResolveClientSecret returns the client secret from its single source, or
// "" when none is configured (a public client using a refresh token). The
// error is an *Error naming the key; it never contains the secret.
func (o *OAuth2) ResolveClientSecret() (string, error) {
	return resolveOptional("client_secret", o.ClientSecret, o.ClientSecretFile, o.ClientSecretEnv)
}

// ResolveRefreshToken returns the refresh token, or "" when none is
// configured (then the client-credentials grant is used).
func (o *OAuth2) ResolveRefreshToken() (string, error) {
	return resolveOptional("refresh_token", o.RefreshToken, o.RefreshTokenFile, o.RefreshTokenEnv)
}

func setKeys(kv ...string) []string {
	var keys []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			keys = append(keys, kv[i])
		}
	}
	return keys
}

// resolveOptional reads a secret given inline (key), as a file (key_file)
// or in an environment variable (key_env); "" when none is set.
func resolveOptional(key, inline, file, env string) (string, error) {
	src := setKeys(key, inline, key+"_file", file, key+"_env", env)
	switch len(src) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", &Error{Key: src[1], Msg: "only one of " + key + ", " + key + "_file and " + key + "_env may be set (found " + strings.Join(src, " and ") + ")"}
	}
	switch {
	case inline != "":
		return inline, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", &Error{Key: key + "_file", Msg: "cannot read " + key + " file: " + err.Error()}
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", &Error{Key: key + "_file", Msg: fmt.Sprintf("%s file %s is empty", key, file)}
		}
		return s, nil
	default:
		s, ok := os.LookupEnv(env)
		if !ok || s == "" {
			return "", &Error{Key: key + "_env", Msg: fmt.Sprintf("environment variable %s is not set or empty", env)}
		}
		return s, nil
	}
}

// oauth2 checks an [mailbox.imap.oauth2] or [mailbox.smtp.oauth2] table.
func (v *collector) oauth2(path string, o *OAuth2, opts Options) {
	switch u, err := url.Parse(o.TokenURL); {
	case o.TokenURL == "":
		v.add(path+".token_url", "is required")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		v.add(path+".token_url", "%q must be an absolute https URL", o.TokenURL)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		v.add(path+".token_url", "http is only allowed for a loopback host; use https (the client secret would cross the network unencrypted)")
	}
	if o.ClientID == "" {
		v.add(path+".client_id", "is required")
	}
	for i, s := range o.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			v.add(fmt.Sprintf("%s.scopes[%d]", path, i), "must be one scope without spaces (got %q)", s)
		}
	}
	cs, rs := o.clientSources(), o.refreshSources()
	if len(cs) == 0 && len(rs) == 0 {
		v.add(path, "one of client_secret, client_secret_file or client_secret_env is required (the client-credentials grant needs a client secret; or give a refresh_token)")
	}
	check := func(src []string, resolve func() (string, error), inline bool) {
		if len(src) == 0 || (opts.SkipSecrets && !inline) {
			return
		}
		if _, err := resolve(); err != nil {
			if e, ok := err.(*Error); ok {
				v.add(path+"."+e.Key, "%s", e.Msg)
			} else {
				v.add(path, "%v", err)
			}
		}
	}
	check(cs, o.ResolveClientSecret, o.ClientSecret != "")
	check(rs, o.ResolveRefreshToken, o.RefreshToken != "")
}
