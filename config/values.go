package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in TOML as a string in Go syntax,
// e.g. "30s", "5m", "72h" or "1h30m".
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// ParseDuration parses a duration as accepted in the config file. It is
// time.ParseDuration with an error text that tells the administrator which
// units exist (Go durations have no unit for days).
func ParseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a number with a unit (s, m, h), e.g. \"60s\" or \"72h\"", s)
	}
	return v, nil
}

// ByteSize is a size in bytes. In TOML it is an integer (bytes) or a string
// with a unit: "500kB", "50 MB", "1 GB" (powers of 1000) or "20 MiB",
// "512KiB", "1 GiB" (powers of 1024). Units are case-insensitive, so "50mb"
// is 50 MB; a plain number in a string ("1024") or with "B" means bytes.
type ByteSize int64

// Common sizes.
const (
	KB  ByteSize = 1000
	MB  ByteSize = 1000 * KB
	GB  ByteSize = 1000 * MB
	KiB ByteSize = 1024
	MiB ByteSize = 1024 * KiB
	GiB ByteSize = 1024 * MiB
)

// UnmarshalText implements encoding.TextUnmarshaler (TOML strings; TOML
// integers are decoded directly as bytes).
func (s *ByteSize) UnmarshalText(b []byte) error {
	v, err := ParseByteSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (s ByteSize) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String formats the size with the largest unit that divides it exactly,
// e.g. "50 MB", "20 MiB", "1234 B".
func (s ByteSize) String() string {
	for _, u := range []struct {
		n    ByteSize
		name string
	}{{GiB, "GiB"}, {GB, "GB"}, {MiB, "MiB"}, {MB, "MB"}, {KiB, "KiB"}, {KB, "kB"}} {
		if s != 0 && s%u.n == 0 {
			return fmt.Sprintf("%d %s", s/u.n, u.name)
		}
	}
	return fmt.Sprintf("%d B", int64(s))
}

var errByteSize = errors.New(`use bytes as an integer or a string like "500kB", "50 MB", "20 MiB"`)

// ParseByteSize parses "50 MB", "20MiB", "500kB", "1.5 GB", "1024" or
// "1024 B".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: %w", s, errByteSize)
	}
	var mult ByteSize
	switch unit {
	case "", "b":
		mult = 1
	case "k", "kb":
		mult = KB
	case "m", "mb":
		mult = MB
	case "g", "gb":
		mult = GB
	case "kib":
		mult = KiB
	case "mib":
		mult = MiB
	case "gib":
		mult = GiB
	default:
		return 0, fmt.Errorf("invalid size %q: unknown unit %q: %w", s, strings.TrimSpace(t[i:]), errByteSize)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/int64(mult) {
			return 0, fmt.Errorf("invalid size %q: %w", s, errByteSize)
		}
		return ByteSize(n) * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f*float64(mult) >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: %w", s, errByteSize)
	}
	return ByteSize(f * float64(mult)), nil
}

// TLSMode says how a connection to a mail server is secured.
type TLSMode string

// TLS modes. TLS verification is never switched off; a private CA or a
// self-signed test server is trusted through ca_file.
const (
	// TLSImplicit: TLS from the first byte (IMAPS 993, SMTPS/submissions
	// 465, RFC 8314 §3). The default.
	TLSImplicit TLSMode = "tls"
	// TLSStartTLS: plain connection upgraded with STARTTLS (IMAP 143,
	// submission 587); a server without STARTTLS is an error, never a
	// fallback to plain text.
	TLSStartTLS TLSMode = "starttls"
	// TLSNone: no encryption. Only allowed for loopback hosts (a local
	// Dovecot/Postfix or a test server), because credentials and mail would
	// otherwise cross the network in clear text (Art. 32 GDPR).
	TLSNone TLSMode = "none"
)

// Valid reports whether m is one of the known modes.
func (m TLSMode) Valid() bool {
	return m == TLSImplicit || m == TLSStartTLS || m == TLSNone
}

// Secret is a password given inline, in a file or in an environment
// variable. Exactly one of the three must be set.
type Secret struct {
	Password     string `toml:"password" json:"-"` // inline; discouraged outside tests; never marshalled to JSON
	PasswordFile string `toml:"password_file"`     // read at use; trailing CR/LF trimmed
	PasswordEnv  string `toml:"password_env"`      // name of an environment variable
}

// sources returns the keys of the sources that are set.
func (s Secret) sources() []string {
	var keys []string
	if s.Password != "" {
		keys = append(keys, "password")
	}
	if s.PasswordFile != "" {
		keys = append(keys, "password_file")
	}
	if s.PasswordEnv != "" {
		keys = append(keys, "password_env")
	}
	return keys
}

// String never shows the secret itself, so that a Secret printed by mistake
// (%v of a Config) leaks nothing.
func (s Secret) String() string {
	switch {
	case s.Password != "":
		return "password (inline)"
	case s.PasswordFile != "":
		return "password_file " + s.PasswordFile
	case s.PasswordEnv != "":
		return "password_env " + s.PasswordEnv
	}
	return "(no password)"
}

// GoString keeps %#v from printing the inline password.
func (s Secret) GoString() string { return "config.Secret{" + s.String() + "}" }

// Resolve returns the password from its single source: the inline value,
// the contents of the file with trailing CR and LF removed, or the value of
// the environment variable, which must be set and not empty. The error is an
// *Error naming the key (password, password_file or password_env) and what
// failed; it never contains the secret.
func (s Secret) Resolve() (string, error) {
	switch src := s.sources(); len(src) {
	case 0:
		return "", &Error{Key: "password", Msg: "one of password, password_file or password_env is required"}
	case 1:
	default:
		return "", &Error{Key: src[1], Msg: "only one of password, password_file and password_env may be set (found " + strings.Join(src, " and ") + ")"}
	}
	switch {
	case s.Password != "":
		return s.Password, nil
	case s.PasswordFile != "":
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return "", &Error{Key: "password_file", Msg: "cannot read password file: " + err.Error()}
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", &Error{Key: "password_file", Msg: fmt.Sprintf("password file %s is empty", s.PasswordFile)}
		}
		return pw, nil
	default:
		pw, ok := os.LookupEnv(s.PasswordEnv)
		if !ok {
			return "", &Error{Key: "password_env", Msg: fmt.Sprintf("environment variable %s is not set", s.PasswordEnv)}
		}
		if pw == "" {
			return "", &Error{Key: "password_env", Msg: fmt.Sprintf("environment variable %s is empty", s.PasswordEnv)}
		}
		return pw, nil
	}
}
