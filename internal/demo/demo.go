package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/app"
	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/ticket"
	"github.com/intake-office/intake/web"
)

// The demo's addresses and password.
const (
	Office   = "poststelle@intake.test"
	Citizen  = "buerger@intake.test"
	Password = "demo"
)

// Options configure the demo.
type Options struct {
	DataDir  string // "" = a new temporary folder, removed at the end
	IMAPAddr string // default 127.0.0.1:1143 (any free port if taken)
	SMTPAddr string // default 127.0.0.1:2525 (any free port if taken)
	WebAddr  string // default 127.0.0.1:8080 (any free port if taken)
	Logger   *slog.Logger
	// Ready, when set, is called once the daemon runs and the samples are sent.
	Ready func(cfgPath string, sys *memmail.System)
}

// Run runs the demo until ctx ends, printing the guide to out.
func Run(ctx context.Context, out io.Writer, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dataDir := o.DataDir
	if dataDir == "" {
		dir, err := os.MkdirTemp("", "intake-demo-")
		if err != nil {
			return fmt.Errorf("create demo folder: %w", err)
		}
		defer os.RemoveAll(dir)
		dataDir = dir
	}
	sys, err := memmail.Start(memmail.Options{
		IMAPAddr: freeOr(o.IMAPAddr, "127.0.0.1:1143"),
		SMTPAddr: freeOr(o.SMTPAddr, "127.0.0.1:2525"),
		Users:    map[string]string{Office: Password, Citizen: Password},
	})
	webAddr := freeOr(o.WebAddr, "127.0.0.1:8080")
	if webAddr == "127.0.0.1:0" {
		webAddr = freePort()
	}
	if err != nil {
		return err
	}
	defer sys.Close()

	cfgPath := filepath.Join(dataDir, "intake.toml")
	if err := os.WriteFile(cfgPath, []byte(configText(dataDir, sys, webAddr)), 0o600); err != nil {
		return fmt.Errorf("write demo config: %w", err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	var token string
	var store *ticket.Store
	return app.Run(ctx, cfg, app.Options{
		Daemon:        intake.Options{Logger: o.Logger, InterimPoll: 2 * time.Second},
		RequireSearch: true,
		Prepare: func(st *ticket.Store) (err error) {
			store = st
			token, err = addDemoClerk(st)
			return err
		},
		Started: func(ctx context.Context) error {
			if err := sendSamples(sys.SMTPAddr); err != nil {
				return fmt.Errorf("send sample letters: %w", err)
			}
			if err := seedOverdue(sys, time.Now()); err != nil {
				return err
			}
			first := ticket.Reference{Prefix: "STK", Year: time.Now().In(cfg.Location).Year(), Number: 1}
			printGuide(out, cfgPath, sys, first.String(), web.URL(cfg), token)
			printDayGuide(out)
			go followDay(ctx, out, store, cfg.Location)
			if o.Ready != nil {
				o.Ready(cfgPath, sys)
			}
			return nil
		},
	})
}

// freeOr returns want if given, else def when it can be bound, else any
// free loopback port.
func freeOr(want, def string) string {
	if want != "" {
		return want
	}
	ln, err := net.Listen("tcp", def)
	if err != nil {
		return "127.0.0.1:0"
	}
	ln.Close()
	return def
}

// The demo's clerk login for the web interface.
const (
	DemoUser     = "demo"
	DemoPassword = "demo"
)

// addDemoClerk creates the demo's admin account (once per data folder) and
// an API token for this run.
func addDemoClerk(store *ticket.Store) (token string, err error) {
	if _, err := store.User(DemoUser); err != nil {
		hash, err := ticket.HashPassword(DemoPassword, ticket.DefaultArgon2())
		if err != nil {
			return "", err
		}
		if err := store.AddUser(ticket.User{Name: DemoUser, Role: ticket.RoleAdmin}, hash, time.Now()); err != nil {
			return "", fmt.Errorf("create demo login: %w", err)
		}
	}
	token, _, err = store.CreateToken(DemoUser, "demo", time.Now())
	if err != nil {
		return "", fmt.Errorf("create demo API token: %w", err)
	}
	return token, nil
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}

func configText(dataDir string, sys *memmail.System, webAddr string) string {
	ih, ip, _ := net.SplitHostPort(sys.IMAPAddr)
	sh, sp, _ := net.SplitHostPort(sys.SMTPAddr)
	return fmt.Sprintf(`# intake demo configuration (written by "intake demo")
data_dir = %q
timezone = "Europe/Berlin"

[office]
name = "Staatskanzlei (Demo)"
phone = "+49 211 000000"
postal_address = "Musterstraße 1, 40213 Düsseldorf"
contact_url = "https://intake.test/kontakt"
privacy_url = "https://intake.test/datenschutz"

[[mailbox]]
name = "poststelle"
address = %q
prefix = "STK"
language = "de"

[mailbox.imap]
host = %q
port = %s
tls = "none"
username = %q
password = %q
keyword = "$Registriert"

[mailbox.smtp]
host = %q
port = %s
tls = "none"

[mailbox.ack]
from_name = "Poststelle der Staatskanzlei (Demo)"

[mailbox.interim]
# A short handling time, so that the demo shows an interim notice (default "4w").
after = "10m"

[mailbox.policy]
# The demo citizen writes the three sample letters and then yours: allow
# more than the default 3 acknowledgements per sender and day.
per_sender_limit = 20

[web]
listen = %q
# plain HTTP on loopback for the demo; a real deployment sits behind TLS
cookie_secure = false
# one clerk and a few letters: no need to raise the clerks' threads (and no
# warning where the demo may not)
request_nice = 0
`, dataDir, Office, ih, ip, Office, Password, sh, sp, webAddr)
}

// Samples are the letters the demo delivers at start: three from a citizen
// (acknowledged) and two from robots (registered, not acknowledged).
func Samples() []struct{ From, Raw string } {
	date := time.Now().Format(time.RFC1123Z)
	mk := func(from, subject, extra, body string, n int) string {
		return "From: " + from + "\r\nTo: Poststelle <" + Office + ">\r\nSubject: " + subject +
			"\r\nDate: " + date + "\r\nMessage-ID: <demo-" + fmt.Sprint(n) + "@buerger.intake.test>\r\n" + extra +
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body
	}
	return []struct{ From, Raw string }{
		{Citizen, mk("Erika Mustermann <"+Citizen+">", "=?utf-8?q?Antrag_auf_F=C3=B6rderung_=E2=80=93_Gr=C3=BCnfl=C3=A4che?=", "",
			"Sehr geehrte Damen und Herren,\r\n\r\nich beantrage eine Förderung für die Grünfläche.\r\n\r\nMit freundlichen Grüßen\r\nErika Mustermann\r\n", 1)},
		{Citizen, mk("Erika Mustermann <"+Citizen+">", "Beschwerde über Baulärm", "",
			"Guten Tag,\r\nseit Wochen wird nachts gebaut.\r\n", 2)},
		{Citizen, mk(Citizen, "Question about my application", "",
			"Hello, when will I hear back?\r\n", 3)},
		{"", mk("Mail Delivery System <MAILER-DAEMON@intake.test>", "Undelivered Mail Returned to Sender",
			"Auto-Submitted: auto-replied\r\n", "This is the mail system. Your message could not be delivered.\r\n", 4)},
		{"newsletter@intake.test", mk("Newsletter <newsletter@intake.test>", "Newsletter November",
			"List-Id: <news.intake.test>\r\nList-Unsubscribe: <mailto:leave@intake.test>\r\nPrecedence: bulk\r\n", "Neuigkeiten ...\r\n", 5)},
	}
}

func sendSamples(addr string) error {
	for _, s := range Samples() {
		if err := sendMail(addr, s.From, Office, []byte(s.Raw)); err != nil {
			return err
		}
	}
	return nil
}

// sendMail delivers one mail over plain SMTP (loopback only).
func sendMail(addr, from, to string, raw []byte) error {
	c, err := dialSMTP(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func printGuide(out io.Writer, cfgPath string, sys *memmail.System, firstRef, webURL, token string) {
	ih, ip, _ := net.SplitHostPort(sys.IMAPAddr)
	_, sp, _ := net.SplitHostPort(sys.SMTPAddr)
	exe := "intake"
	if strings.Contains(os.Args[0], "go-build") {
		exe = "go run ./cmd/intake"
	}
	fmt.Fprintf(out, `intake demo läuft / is running — Strg-C beendet / Ctrl-C stops.

Weboberfläche / web interface:  %[10]s   Anmeldung / login: %[11]s / %[12]s
JSON-API:  curl -s -H 'Authorization: Bearer %[13]s' '%[10]s/api/cases?q=Grünfläche'

Eingebetteter Mailserver / embedded mail server (nur / only 127.0.0.1):
  SMTP  127.0.0.1:%[3]s   ohne TLS und Anmeldung / no TLS, no login
  IMAP  %[1]s:%[2]s  Postfach der Behörde / office:  %[4]s  Passwort %[6]s
                    Postfach Bürgerin / citizen:     %[5]s  Passwort %[6]s

Fünf Beispielbriefe wurden eingeliefert (drei Bürgerbriefe, ein Bounce, ein Newsletter).
Five sample letters were delivered (three from a citizen, one bounce, one newsletter).

Einen Brief senden / send a letter (any mail client works the same way):
  printf 'From: %[5]s\r\nTo: %[4]s\r\nSubject: Mein Antrag\r\n\r\nHallo!\r\n' > brief.eml
  curl -s smtp://127.0.0.1:%[3]s --mail-from %[5]s --mail-rcpt %[4]s --upload-file brief.eml

Die Eingangsbestätigung lesen / read the acknowledgement: sie erscheint unten, sobald
sie gesendet ist / it appears below once sent. Roh per IMAP / raw over IMAP (Ihre ist
die mit der höchsten UID / yours has the highest UID):
  curl -s 'imap://%[1]s:%[2]s/INBOX' --user '%[5]s:%[6]s' -X 'UID SEARCH ALL'
  curl -s 'imap://%[1]s:%[2]s/INBOX;UID=N' --user '%[5]s:%[6]s'

Vorgänge ansehen / look at the cases:
  %[7]s case list -config %[8]s
  %[7]s case list -kind citizen -json -config %[8]s
  %[7]s case show %[9]s -config %[8]s
`, ih, ip, sp, Office, Citizen, Password, exe, cfgPath, firstRef, webURL, DemoUser, DemoPassword, token)
}
