package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// base is a small valid config. Tests edit single lines of it, so the line
// numbers below stay valid; keep them in sync when changing it.
const base = `data_dir = "/var/lib/intake"
timezone = "Europe/Berlin"

[office]
name = "Staatskanzlei"
privacy_url = "https://stk.example.de/datenschutz"

[log]
level = "info"

[[mailbox]]
name = "poststelle"
address = "poststelle@stk.example.de"
prefix = "STK"

[mailbox.imap]
host = "127.0.0.1"
port = 1143
tls = "none"
username = "office"
password = "secret"

[mailbox.smtp]
host = "localhost"
port = 1025
tls = "none"

[mailbox.ack]
max_age = "72h"
`

// second is a second mailbox appended to base (starting at line 31).
const second = `
[[mailbox]]
name = "presse"
address = "presse@stk.example.de"
prefix = "PR"
[mailbox.imap]
host = "localhost"
tls = "none"
username = "presse"
password = "secret"
[mailbox.smtp]
host = "localhost"
tls = "none"
`

// edit replaces the single occurrence of old in doc.
func edit(t *testing.T, doc, old, new string) string {
	t.Helper()
	if strings.Count(doc, old) != 1 {
		t.Fatalf("edit: %q occurs %d times", old, strings.Count(doc, old))
	}
	return strings.Replace(doc, old, new, 1)
}

func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	c, err := Parse([]byte(doc), "intake.toml")
	if err != nil {
		t.Fatalf("Parse: unexpected error:\n%v", err)
	}
	return c
}

func parseErrors(t *testing.T, doc string) Errors {
	t.Helper()
	c, err := Parse([]byte(doc), "intake.toml")
	if err == nil {
		t.Fatalf("Parse: no error")
	}
	if c != nil {
		t.Errorf("Parse returned a config together with an error")
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse: error %T %v is not Errors", err, err)
	}
	return errs
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, c *Config)
	}{
		{"base", base, func(t *testing.T, c *Config) {
			m := c.Mailboxes[0]
			if c.DataDir != "/var/lib/intake" || m.Name != "poststelle" || m.Prefix != "STK" || m.IMAP.Port != 1143 || m.SMTP.Port != 1025 {
				t.Errorf("decoded wrong: %+v", c)
			}
			if c.Path != "intake.toml" {
				t.Errorf("Path = %q", c.Path)
			}
		}},
		{"two mailboxes", base + second, func(t *testing.T, c *Config) {
			if len(c.Mailboxes) != 2 || c.Mailboxes[1].Name != "presse" || c.Mailboxes[1].IMAP.Port != 143 {
				t.Errorf("second mailbox wrong: %+v", c.Mailboxes)
			}
			if c.Mailbox("presse") != &c.Mailboxes[1] || c.Mailbox("nope") != nil {
				t.Errorf("Mailbox lookup wrong")
			}
		}},
		{"work_nice off", edit(t, base, `timezone = "Europe/Berlin"`, `work_nice = 0`), func(t *testing.T, c *Config) {
			if c.WorkNiceness() != 0 {
				t.Errorf("work_nice = 0 read as %d", c.WorkNiceness())
			}
		}},
		{"work_nice 15", edit(t, base, `timezone = "Europe/Berlin"`, `work_nice = 15`), func(t *testing.T, c *Config) {
			if c.WorkNiceness() != 15 {
				t.Errorf("work_nice = 15 read as %d", c.WorkNiceness())
			}
		}},
		{"keep_register_in_memory off", edit(t, base, `timezone = "Europe/Berlin"`, `keep_register_in_memory = false`), func(t *testing.T, c *Config) {
			if c.KeepsRegisterInMemory() {
				t.Error("keep_register_in_memory = false read as true")
			}
		}},
		{"sizes: integer bytes", edit(t, base, `timezone = "Europe/Berlin"`, `max_message_size = 1000`), func(t *testing.T, c *Config) {
			if c.MaxMessageSize != 1000 {
				t.Errorf("MaxMessageSize = %d", c.MaxMessageSize)
			}
		}},
		{"sizes: MiB", edit(t, base, `timezone = "Europe/Berlin"`, `max_message_size = "20 MiB"`), func(t *testing.T, c *Config) {
			if c.MaxMessageSize != 20*1024*1024 {
				t.Errorf("MaxMessageSize = %d", c.MaxMessageSize)
			}
		}},
		{"sizes: kB", edit(t, base, `timezone = "Europe/Berlin"`, `max_message_size = "500kB"`), func(t *testing.T, c *Config) {
			if c.MaxMessageSize != 500000 {
				t.Errorf("MaxMessageSize = %d", c.MaxMessageSize)
			}
		}},
		{"tls starttls ports", edit(t, edit(t, base, `host = "127.0.0.1"
port = 1143
tls = "none"`, `host = "imap.stk.example.de"
tls = "starttls"`), `port = 1025
tls = "none"`, `tls = "starttls"`), func(t *testing.T, c *Config) {
			m := c.Mailboxes[0]
			if m.IMAP.Port != 143 || m.SMTP.Port != 587 {
				t.Errorf("ports = %d, %d; want 143, 587", m.IMAP.Port, m.SMTP.Port)
			}
		}},
		{"tls default ports", edit(t, edit(t, base, `host = "127.0.0.1"
port = 1143
tls = "none"`, `host = "imap.stk.example.de"`), `host = "localhost"
port = 1025
tls = "none"`, `host = "smtp.stk.example.de"`), func(t *testing.T, c *Config) {
			m := c.Mailboxes[0]
			if m.IMAP.TLS != TLSImplicit || m.IMAP.Port != 993 || m.SMTP.TLS != TLSImplicit || m.SMTP.Port != 465 {
				t.Errorf("imap %s:%d smtp %s:%d; want tls:993, tls:465", m.IMAP.TLS, m.IMAP.Port, m.SMTP.TLS, m.SMTP.Port)
			}
		}},
		{"tls none default port 25", edit(t, base, "port = 1025\n", ""), func(t *testing.T, c *Config) {
			if p := c.Mailboxes[0].SMTP.Port; p != 25 {
				t.Errorf("smtp port = %d, want 25", p)
			}
		}},
		{"loopback forms for tls none", edit(t, base, `host = "127.0.0.1"`, `host = "::1"`), func(t *testing.T, c *Config) {}},
		{"inline tables", `data_dir = "/d"
[[mailbox]]
name = "p"
address = "p@example.org"
prefix = "P1"
imap = { host = "localhost", tls = "none", username = "u", password_env = "INTAKE_TEST_PW" }
smtp = { host = "localhost", tls = "none" }
ack = { enabled = false }
`, func(t *testing.T, c *Config) {
			m := c.Mailboxes[0]
			if m.IMAP.Host != "localhost" || m.IMAP.PasswordEnv != "INTAKE_TEST_PW" || m.Ack.IsEnabled() {
				t.Errorf("inline tables decoded wrong: %+v", m)
			}
		}},
		{"smtp without auth, null sender, aliases", edit(t, edit(t, base, "port = 1025", `envelope_from = "<>"`), `prefix = "STK"`, `prefix = "STK"
aliases = ["Post@STK.example.de"]
language = "en"`), func(t *testing.T, c *Config) {
			m := &c.Mailboxes[0]
			if m.EnvelopeSender() != "" {
				t.Errorf("EnvelopeSender = %q, want null sender", m.EnvelopeSender())
			}
			if got := strings.Join(m.Addresses(), ","); got != "poststelle@stk.example.de,post@stk.example.de" {
				t.Errorf("Addresses = %s", got)
			}
			if m.Language != "en" {
				t.Errorf("Language = %q", m.Language)
			}
		}},
		{"keyword and move_to", edit(t, base, `password = "secret"`, `password = "secret"
keyword = "$Registered"
move_to = "Registriert"`), func(t *testing.T, c *Config) {
			if c.Mailboxes[0].IMAP.Keyword != "$Registered" || c.Mailboxes[0].IMAP.MoveTo != "Registriert" {
				t.Errorf("imap = %v", c.Mailboxes[0].IMAP)
			}
		}},
	}
	t.Setenv("INTAKE_TEST_PW", "pw")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, mustParse(t, tt.doc)) })
	}
}

// TestPerDomainLimitDefault: the domain limit counts unverified senders, so it is on by
// default only where a sender verification makes "unverified" mean "possibly forged".
func TestPerDomainLimitDefault(t *testing.T) {
	base := `data_dir = "/d"
[[mailbox]]
name = "poststelle"
address = "poststelle@stk.example.de"
prefix = "STK"
[mailbox.imap]
host = "imap.stk.example.de"
username = "u"
password = "p"
[mailbox.smtp]
host = "smtp.stk.example.de"
[mailbox.policy]
`
	for _, tc := range []struct {
		name, policy string
		want         int
	}{
		{"none", ``, 0},
		{"authserv-id", `authserv_id = "mx.stk.example.de"`, DefaultPerDomainLimit},
		{"exchange-online", `verification = "exchange-online"`, DefaultPerDomainLimit},
		{"arc sealer only", `trusted_arc_sealers = ["gw.stk.example.de"]`, DefaultPerDomainLimit},
		{"explicit without verification", `per_domain_limit = 7`, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, base+tc.policy+"\n")
			if got := *c.Mailboxes[0].Policy.PerDomainLimit; got != tc.want {
				t.Errorf("per_domain_limit = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	doc := `data_dir = "/d"
[[mailbox]]
name = "poststelle"
address = "poststelle@STK.Example.de"
prefix = "STK"
[mailbox.imap]
host = "imap.stk.example.de"
username = "u"
password = "p"
[mailbox.smtp]
host = "smtp.stk.example.de"
`
	c := mustParse(t, doc)
	m := c.Mailboxes[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"timezone", c.Timezone, "Europe/Berlin"},
		{"location", c.Location.String(), "Europe/Berlin"},
		{"max_message_size", c.MaxMessageSize, ByteSize(50 * 1000 * 1000)},
		{"templates_dir", c.TemplatesDir, ""},
		{"work_nice", c.WorkNiceness(), 10},
		{"keep_register_in_memory", c.KeepsRegisterInMemory(), true},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"office.hostname", c.Office.Hostname, "stk.example.de"},
		{"language", m.Language, "de"},
		{"imap.tls", m.IMAP.TLS, TLSImplicit},
		{"imap.port", m.IMAP.Port, 993},
		{"imap.folder", m.IMAP.Folder, "INBOX"},
		{"imap.keyword", m.IMAP.Keyword, ""},
		{"imap.move_to", m.IMAP.MoveTo, ""},
		{"imap.poll_interval", m.IMAP.PollInterval.Duration, 60 * time.Second},
		{"smtp.tls", m.SMTP.TLS, TLSImplicit},
		{"smtp.port", m.SMTP.Port, 465},
		{"smtp.envelope_from", m.SMTP.EnvelopeFrom, ""},
		{"envelope sender", c.Mailboxes[0].EnvelopeSender(), "poststelle@STK.Example.de"},
		{"smtp.helo", m.SMTP.HELO, "stk.example.de"},
		{"ack.enabled", m.Ack.IsEnabled(), true},
		{"ack.max_age", m.Ack.MaxAge.Duration, 72 * time.Hour},
		{"ack.from_name", m.Ack.FromName, "poststelle"},
		{"policy.require_addressed", *m.Policy.RequireAddressed, true},
		{"policy.require_authenticated without authserv_id", *m.Policy.RequireAuthenticated, false},
		{"policy.per_sender_limit", *m.Policy.PerSenderLimit, 3},
		{"policy.follow_up_ack", *m.Policy.FollowUpAck, true},
		{"policy.hourly_cap", *m.Policy.HourlyCap, 500},
		{"policy.per_domain_limit without verification", *m.Policy.PerDomainLimit, 0},
		{"policy.unverified_hourly_cap", *m.Policy.UnverifiedHourlyCap, 100},
		{"policy.subject_heuristics", *m.Policy.SubjectHeuristics, true},
	}
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			if ck.got != ck.want {
				t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
			}
		})
	}
}

type wantErr struct {
	line int
	key  string
	msg  string // substring of Msg
}

func TestValidationErrors(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "missing-password")
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("INTAKE_TEST_EMPTY", "")
	tests := []struct {
		name string
		doc  string
		want wantErr
	}{
		{"data_dir missing", edit(t, base, `data_dir = "/var/lib/intake"`, ``), wantErr{0, "data_dir", "is required"}},
		{"timezone unknown", edit(t, base, `"Europe/Berlin"`, `"Mars/Olympus"`), wantErr{2, "timezone", `unknown time zone "Mars/Olympus"`}},
		{"timezone Local", edit(t, base, `"Europe/Berlin"`, `"Local"`), wantErr{2, "timezone", "must name a time zone"}},
		{"max_message_size negative", edit(t, base, `timezone = "Europe/Berlin"`, `max_message_size = -1`), wantErr{2, "max_message_size", "must be greater than 0"}},
		{"max_message_size unit", edit(t, base, `timezone = "Europe/Berlin"`, `max_message_size = "50 XB"`), wantErr{2, "max_message_size", `unknown unit "XB"`}},
		{"max_message_size float", edit(t, base, `timezone = "Europe/Berlin"`, `max_message_size = 1.5`), wantErr{2, "max_message_size", "must be an integer (bytes) or a size in quotes"}},
		{"work_nice raises", edit(t, base, `timezone = "Europe/Berlin"`, `work_nice = -5`), wantErr{2, "work_nice", "between 0 (off) and 19 (last), got -5"}},
		{"work_nice beyond 19", edit(t, base, `timezone = "Europe/Berlin"`, `work_nice = 20`), wantErr{2, "work_nice", "got 20"}},
		{"templates_dir missing", edit(t, base, `timezone = "Europe/Berlin"`, `templates_dir = "/nonexistent/intake-templates"`), wantErr{2, "templates_dir", "no such file or directory"}},
		{"office name line break", edit(t, base, `name = "Staatskanzlei"`, `name = "Staats\nkanzlei"`), wantErr{5, "office.name", "must not contain line breaks"}},
		{"office privacy_url relative", edit(t, base, `"https://stk.example.de/datenschutz"`, `"stk.example.de/datenschutz"`), wantErr{6, "office.privacy_url", "absolute http or https URL"}},
		{"office contact_url ftp", edit(t, base, `privacy_url =`, "contact_url = \"ftp://stk.example.de\"\nprivacy_url ="), wantErr{6, "office.contact_url", "absolute http or https URL"}},
		{"office hostname", edit(t, base, `name = "Staatskanzlei"`, `hostname = "stk_example.de"`), wantErr{5, "office.hostname", "not a valid host name"}},
		{"log level", edit(t, base, `level = "info"`, `level = "verbose"`), wantErr{9, "log.level", "must be one of debug, info, warn, error"}},
		{"log format", edit(t, base, `level = "info"`, `format = "xml"`), wantErr{9, "log.format", "must be text or json"}},
		{"no mailbox", base[:strings.Index(base, "[[mailbox]]")], wantErr{0, "mailbox", "at least one [[mailbox]] is required"}},
		{"mailbox name missing", edit(t, base, `name = "poststelle"`, ``), wantErr{11, "mailbox[0].name", "is required"}},
		{"mailbox name invalid", edit(t, base, `name = "poststelle"`, `name = "Post Stelle"`), wantErr{12, "mailbox[0].name", "must consist of a-z, 0-9, _ and - only"}},
		{"mailbox name duplicate", base + strings.Replace(second, `"presse"`, `"poststelle"`, 1), wantErr{32, "mailbox[1].name", `"poststelle" is already used by mailbox[0]`}},
		{"address missing", edit(t, base, `address = "poststelle@stk.example.de"`, ``), wantErr{11, "mailbox[0].address", "is required"}},
		{"address with display name", edit(t, base, `address = "poststelle@stk.example.de"`, `address = "Poststelle <poststelle@stk.example.de>"`), wantErr{13, "mailbox[0].address", "is not a valid e-mail address"}},
		{"address without domain", edit(t, base, `address = "poststelle@stk.example.de"`, `address = "poststelle"`), wantErr{13, "mailbox[0].address", "is not a valid e-mail address"}},
		{"alias invalid", edit(t, base, `prefix = "STK"`, `prefix = "STK"
aliases = ["post@stk.example.de", "nope"]`), wantErr{15, "mailbox[0].aliases[1]", `"nope" is not a valid e-mail address`}},
		{"alias repeats address", edit(t, base, `prefix = "STK"`, `prefix = "STK"
aliases = ["Poststelle@stk.example.de"]`), wantErr{15, "mailbox[0].aliases[0]", "is already used by mailbox[0].address"}},
		{"address used by two mailboxes", base + strings.Replace(second, "presse@", "poststelle@", 1), wantErr{33, "mailbox[1].address", "already used by mailbox[0].address"}},
		{"prefix missing", edit(t, base, `prefix = "STK"`, ``), wantErr{11, "mailbox[0].prefix", "is required"}},
		{"prefix lower case", edit(t, base, `prefix = "STK"`, `prefix = "stk"`), wantErr{14, "mailbox[0].prefix", "1 to 10 characters A-Z or 0-9"}},
		{"prefix too long", edit(t, base, `prefix = "STK"`, `prefix = "STAATSKANZL"`), wantErr{14, "mailbox[0].prefix", "1 to 10 characters"}},
		{"prefix duplicate", base + strings.Replace(second, `"PR"`, `"STK"`, 1), wantErr{34, "mailbox[1].prefix", `"STK" is already used by mailbox[0]`}},
		{"language", edit(t, base, `prefix = "STK"`, `prefix = "STK"
language = "fr"`), wantErr{15, "mailbox[0].language", "must be de or en"}},
		{"imap host missing", edit(t, base, `host = "127.0.0.1"`, ``), wantErr{16, "mailbox[0].imap.host", "is required"}},
		{"imap host with port", edit(t, base, `host = "127.0.0.1"`, `host = "127.0.0.1:993"`), wantErr{17, "mailbox[0].imap.host", "must not contain a port"}},
		{"imap port range", edit(t, base, `port = 1143`, `port = 70000`), wantErr{18, "mailbox[0].imap.port", "must be between 1 and 65535"}},
		{"imap port negative", edit(t, base, `port = 1143`, `port = -1`), wantErr{18, "mailbox[0].imap.port", "must be between 1 and 65535"}},
		{"imap port string", edit(t, base, `port = 1143`, `port = "993"`), wantErr{18, "mailbox[0].imap.port", "must be an integer, not a string"}},
		{"imap tls unknown", edit(t, base, `port = 1143
tls = "none"`, `port = 1143
tls = "ssl"`), wantErr{19, "mailbox[0].imap.tls", `must be tls, starttls or none (got "ssl")`}},
		{"imap tls none remote", edit(t, base, `host = "127.0.0.1"`, `host = "imap.stk.example.de"`), wantErr{19, "mailbox[0].imap.tls", "none is only allowed for a loopback host"}},
		{"imap username missing", edit(t, base, `username = "office"`, ``), wantErr{16, "mailbox[0].imap.username", "is required"}},
		{"imap no password", edit(t, base, `password = "secret"`, ``), wantErr{16, "mailbox[0].imap", "one of password, password_file or password_env is required"}},
		{"imap two passwords", edit(t, base, `password = "secret"`, `password = "secret"
password_env = "INTAKE_TEST_PW"`), wantErr{22, "mailbox[0].imap.password_env", "only one of password, password_file and password_env may be set (found password and password_env)"}},
		{"imap password_env unset", edit(t, base, `password = "secret"`, `password_env = "INTAKE_TEST_UNSET_VARIABLE"`), wantErr{21, "mailbox[0].imap.password_env", "environment variable INTAKE_TEST_UNSET_VARIABLE is not set"}},
		{"imap password_env empty", edit(t, base, `password = "secret"`, `password_env = "INTAKE_TEST_EMPTY"`), wantErr{21, "mailbox[0].imap.password_env", "environment variable INTAKE_TEST_EMPTY is empty"}},
		{"imap password_file missing", edit(t, base, `password = "secret"`, `password_file = "`+pwFile+`"`), wantErr{21, "mailbox[0].imap.password_file", "cannot read password file: open " + pwFile}},
		{"imap ca_file not PEM", edit(t, base, `password = "secret"`, `password = "secret"
ca_file = "`+notPEM+`"`), wantErr{22, "mailbox[0].imap.ca_file", "contains no PEM certificate"}},
		{"imap keyword", edit(t, base, `password = "secret"`, `password = "secret"
keyword = "$Regis tered"`), wantErr{22, "mailbox[0].imap.keyword", "not a valid IMAP keyword"}},
		{"imap keyword backslash", edit(t, base, `password = "secret"`, `password = "secret"
keyword = '\Seen'`), wantErr{22, "mailbox[0].imap.keyword", "not a valid IMAP keyword"}},
		{"imap move_to equals folder", edit(t, base, `password = "secret"`, `password = "secret"
move_to = "INBOX"`), wantErr{22, "mailbox[0].imap.move_to", `must differ from folder "INBOX"`}},
		{"imap poll_interval short", edit(t, base, `password = "secret"`, `password = "secret"
poll_interval = "500ms"`), wantErr{22, "mailbox[0].imap.poll_interval", "must be at least 1s"}},
		{"imap poll_interval days", edit(t, base, `password = "secret"`, `password = "secret"
poll_interval = "1d"`), wantErr{22, "mailbox[0].imap.poll_interval", `invalid duration "1d"`}},
		{"imap poll_interval integer", edit(t, base, `password = "secret"`, `password = "secret"
poll_interval = 60`), wantErr{22, "mailbox[0].imap.poll_interval", `must be a duration in quotes, e.g. "60s" or "72h", not an integer`}},
		{"smtp host missing", edit(t, base, `host = "localhost"`, ``), wantErr{23, "mailbox[0].smtp.host", "is required"}},
		{"smtp port", edit(t, base, `port = 1025`, `port = 0x10000`), wantErr{25, "mailbox[0].smtp.port", "must be between 1 and 65535"}},
		{"smtp tls none remote", edit(t, base, `host = "localhost"`, `host = "mail.example.de"`), wantErr{26, "mailbox[0].smtp.tls", "none is only allowed for a loopback host"}},
		{"smtp password without username", edit(t, base, `tls = "none"

[mailbox.ack]`, `tls = "none"
password_env = "INTAKE_TEST_PW"

[mailbox.ack]`), wantErr{27, "mailbox[0].smtp.password_env", "is set but username is empty"}},
		{"smtp username without password", edit(t, base, `tls = "none"

[mailbox.ack]`, `tls = "none"
username = "office"

[mailbox.ack]`), wantErr{23, "mailbox[0].smtp", "one of password, password_file or password_env is required"}},
		{"smtp envelope_from brackets", edit(t, base, "port = 1025", `envelope_from = "<poststelle@stk.example.de>"`), wantErr{25, "mailbox[0].smtp.envelope_from", "without angle brackets"}},
		{"smtp envelope_from invalid", edit(t, base, "port = 1025", `envelope_from = "poststelle"`), wantErr{25, "mailbox[0].smtp.envelope_from", "is not a valid e-mail address"}},
		{"smtp helo", edit(t, base, "port = 1025", `helo = "mail server"`), wantErr{25, "mailbox[0].smtp.helo", "is not a host name or address literal"}},
		{"ack max_age negative", edit(t, base, `max_age = "72h"`, `max_age = "-1h"`), wantErr{29, "mailbox[0].ack.max_age", "must be greater than 0"}},
		{"ack enabled not bool", edit(t, base, `max_age = "72h"`, `enabled = "yes"`), wantErr{29, "mailbox[0].ack.enabled", "must be true or false, not a string"}},
		{"ack from_name control", edit(t, base, `max_age = "72h"`, `from_name = "Post\u0007stelle"`), wantErr{29, "mailbox[0].ack.from_name", "must not contain line breaks or control characters"}},
		{"policy per_sender_limit negative", base + "[mailbox.policy]\nper_sender_limit = -1\n", wantErr{31, "mailbox[0].policy.per_sender_limit", "must be 0 (no limit) or more"}},
		{"policy hourly_cap zero", base + "[mailbox.policy]\nhourly_cap = 0\n", wantErr{31, "mailbox[0].policy.hourly_cap", "must be at least 1"}},
		{"policy per_domain_limit negative", base + "[mailbox.policy]\nper_domain_limit = -1\n", wantErr{31, "mailbox[0].policy.per_domain_limit", "must be 0 (no limit) or more"}},
		{"policy unverified_hourly_cap not below hourly_cap", base + "[mailbox.policy]\nhourly_cap = 10\nunverified_hourly_cap = 10\n", wantErr{32, "mailbox[0].policy.unverified_hourly_cap", "less than hourly_cap"}},
		{"policy unverified_hourly_cap negative", base + "[mailbox.policy]\nunverified_hourly_cap = -1\n", wantErr{31, "mailbox[0].policy.unverified_hourly_cap", "must be 0"}},
		{"policy require_authenticated without id", base + "[mailbox.policy]\nrequire_authenticated = true\n", wantErr{31, "mailbox[0].policy.require_authenticated", "needs authserv_id"}},
		{"policy authserv_id with space", base + "[mailbox.policy]\nauthserv_id = \"mx example\"\n", wantErr{31, "mailbox[0].policy.authserv_id", "must be a host name"}},
		{"aliases not a list", edit(t, base, `prefix = "STK"`, `prefix = "STK"
aliases = "post@stk.example.de"`), wantErr{15, "mailbox[0].aliases", "must be a list of strings"}},
		{"interim after not a period", base + "[mailbox.interim]\nafter = \"vier Wochen\"\n", wantErr{31, "mailbox[0].interim.after", "invalid period"}},
		{"interim after too short", base + "[mailbox.interim]\nafter = \"30s\"\n", wantErr{31, "mailbox[0].interim.after", "must be from"}},
		{"interim after a number", base + "[mailbox.interim]\nafter = 28\n", wantErr{31, "mailbox[0].interim.after", "a period in quotes"}},
		// Unknown keys, structure and syntax.
		{"unknown key with hint", edit(t, base, `port = 1143`, `prot = 1143`), wantErr{18, "mailbox[0].imap.prot", `unknown key (did you mean "port"?)`}},
		{"unknown key in second mailbox", base + strings.Replace(second, `username = "presse"`, "username = \"presse\"\nfodler = \"INBOX\"", 1), wantErr{39, "mailbox[1].imap.fodler", `unknown key (did you mean "folder"?)`}},
		{"unknown top-level key", edit(t, base, `timezone =`, `time_zone =`), wantErr{2, "time_zone", `did you mean "timezone"?`}},
		{"unknown table", base + "[smtp]\nhost = \"x\"\n", wantErr{30, "smtp", "unknown key (known keys here:"}},
		{"wrong case is unknown", edit(t, base, `timezone = "Europe/Berlin"`, `TimeZone = "Europe/Berlin"`), wantErr{2, "TimeZone", `did you mean "timezone"?`}},
		{"mailbox as table", edit(t, base, `[[mailbox]]`, `[mailbox]`), wantErr{11, "mailbox", "is a list of tables: write [[mailbox]]"}},
		{"office as array", edit(t, base, `[office]`, `[[office]]`), wantErr{4, "office", "is not a list of tables"}},
		{"syntax error", edit(t, base, `level = "info"`, `level = "info`), wantErr{9, "", "syntax error"}},
		{"key defined twice", edit(t, base, `level = "info"`, `level = "info"
level = "debug"`), wantErr{10, "log.level", "already defined"}},
	}
	t.Setenv("INTAKE_TEST_PW", "pw")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := parseErrors(t, tt.doc)
			if len(errs) != 1 {
				t.Errorf("got %d errors, want 1:\n%v", len(errs), errs)
			}
			e := errs[0]
			if e.File != "intake.toml" || e.Line != tt.want.line || e.Key != tt.want.key || !strings.Contains(e.Msg, tt.want.msg) {
				t.Errorf("got  %s\nwant intake.toml:%d: %s: …%s…", e, tt.want.line, tt.want.key, tt.want.msg)
			}
			if strings.Contains(e.Error(), "\n") {
				t.Errorf("error text spans lines: %q", e.Error())
			}
		})
	}
}

func TestMultipleErrors(t *testing.T) {
	doc := `data_dir = "/d"
timezone = "Mars/Olympus"
[[mailbox]]
name = "Poststelle"
address = "poststelle@stk.example.de"
prefix = "stk"
[mailbox.imap]
host = "imap.example.de"
prot = 993
tls = "none"
username = "u"
password = "p"
[mailbox.smtp]
host = "smtp.example.de"
port = 99999
`
	errs := parseErrors(t, doc)
	want := `intake.toml:2: timezone: unknown time zone "Mars/Olympus" (use an IANA name such as "Europe/Berlin")
intake.toml:4: mailbox[0].name: "Poststelle" must consist of a-z, 0-9, _ and - only
intake.toml:6: mailbox[0].prefix: "stk" must be 1 to 10 characters A-Z or 0-9 (upper case)
intake.toml:9: mailbox[0].imap.prot: unknown key (did you mean "port"?)
intake.toml:10: mailbox[0].imap.tls: none is only allowed for a loopback host (localhost, 127.0.0.1, ::1), not "imap.example.de"; use tls or starttls
intake.toml:15: mailbox[0].smtp.port: must be between 1 and 65535`
	if got := errs.Error(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	var one *Error
	if !errors.As(error(errs), &one) || one.Key != "timezone" {
		t.Errorf("errors.As(*Error) = %v", one)
	}
}

func TestTypeErrorsAllAtOnce(t *testing.T) {
	doc := `data_dir = 1
max_message_size = "lots"
[[mailbox]]
name = 2
aliases = ["a@example.org", 3]
[mailbox.ack]
max_age = 72
enabled = "no"
`
	errs := parseErrors(t, doc)
	var got []string
	for _, e := range errs {
		got = append(got, e.Key)
	}
	want := "data_dir max_message_size mailbox[0].name mailbox[0].aliases[1] mailbox[0].ack.max_age mailbox[0].ack.enabled"
	if strings.Join(got, " ") != want {
		t.Errorf("keys = %v, want %s\n%v", got, want, errs)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "imap.pw"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := edit(t, edit(t, base, `password = "secret"`, `password_file = "imap.pw"`), `data_dir = "/var/lib/intake"`, `data_dir = "data"`)
	path := filepath.Join(dir, "intake.toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "data"); c.DataDir != want {
		t.Errorf("DataDir = %q, want %q (relative to the config file)", c.DataDir, want)
	}
	pw, err := c.Mailboxes[0].IMAP.Resolve()
	if err != nil || pw != "s3cret" {
		t.Errorf("Resolve = %q, %v", pw, err)
	}
	if c.Line("mailbox[0].imap.password_file") != 21 || c.Line("mailbox[0].imap.ca_file") != 16 || c.Line("nothing") != 0 {
		t.Errorf("Line: %d %d %d", c.Line("mailbox[0].imap.password_file"), c.Line("mailbox[0].imap.ca_file"), c.Line("nothing"))
	}

	t.Run("errors name the file", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.toml")
		if err := os.WriteFile(bad, []byte(edit(t, base, `port = 1143`, `port = 0x10000`)), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(bad)
		if want := bad + ":18: mailbox[0].imap.port: must be between 1 and 65535"; err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(dir, "nope.toml"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("SkipSecrets", func(t *testing.T) {
		p := filepath.Join(dir, "env.toml")
		if err := os.WriteFile(p, []byte(edit(t, base, `password = "secret"`, `password_env = "INTAKE_TEST_UNSET_VARIABLE"`)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("Load: no error for an unset password_env")
		}
		if _, err := LoadWith(p, Options{SkipSecrets: true}); err != nil {
			t.Errorf("LoadWith SkipSecrets: %v", err)
		}
	})
	t.Run("byte order mark", func(t *testing.T) {
		if _, err := Parse(append([]byte("\xEF\xBB\xBF"), base...), "bom.toml"); err != nil {
			t.Errorf("Parse with BOM: %v", err)
		}
	})
}

func TestValidateInCode(t *testing.T) {
	c := &Config{DataDir: "/d", Mailboxes: []Mailbox{{
		Name: "p", Address: "p@example.org", Prefix: "P",
		IMAP: IMAP{Host: "localhost", TLS: TLSNone, Username: "u", Secret: Secret{Password: "x"}},
		SMTP: SMTP{Host: "localhost", TLS: TLSNone},
	}}}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if c.Location == nil || c.Mailboxes[0].SMTP.Port != 25 {
		t.Errorf("defaults not applied: %v %d", c.Location, c.Mailboxes[0].SMTP.Port)
	}
	c.Mailboxes[0].IMAP.Port = 0
	err := c.Validate()
	if err == nil || err.Error() != "mailbox[0].imap.port: must be between 1 and 65535" {
		t.Errorf("Validate = %v", err)
	}
}

func TestSecretsNotPrinted(t *testing.T) {
	c := mustParse(t, base)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"secret"`) {
		t.Errorf("JSON shows the password: %s", b)
	}
	for _, s := range []string{c.Mailboxes[0].IMAP.String(), c.Mailboxes[0].IMAP.GoString()} {
		if strings.Contains(s, `secret`) && !strings.Contains(s, "password (inline)") || strings.Contains(s, `"secret"`) {
			t.Errorf("printed config shows the password: %s", s)
		}
	}
}
