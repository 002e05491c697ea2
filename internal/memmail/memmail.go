package memmail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"
)

// Options configure a System.
type Options struct {
	// IMAPAddr and SMTPAddr are the listen addresses; default 127.0.0.1:0.
	IMAPAddr, SMTPAddr string
	// Users maps address to password; every user gets an INBOX.
	Users map[string]string
	// NoIdle leaves IDLE out of the capabilities (IMAP4rev1 only), to test
	// the polling fallback.
	NoIdle bool
}

// Delivery is one mail the SMTP side accepted.
type Delivery struct {
	From string
	To   []string
	Data []byte
	At   time.Time
}

// System is a running in-memory mail system.
type System struct {
	IMAPAddr, SMTPAddr string

	mem   *imapmemserver.Server
	imap  *imapserver.Server
	smtp  *smtp.Server
	mu    sync.Mutex
	users map[string]*imapmemserver.User
	// Reject, when set, decides per recipient whether RCPT is refused
	// (tests of 4xx/5xx handling).
	reject     func(rcpt string) error
	deliveries []Delivery
	sessions   int // SMTP connections accepted
}

// Start listens and serves until Close.
func Start(o Options) (*System, error) {
	if o.IMAPAddr == "" {
		o.IMAPAddr = "127.0.0.1:0"
	}
	if o.SMTPAddr == "" {
		o.SMTPAddr = "127.0.0.1:0"
	}
	s := &System{mem: imapmemserver.New(), users: map[string]*imapmemserver.User{}}
	for addr, pw := range o.Users {
		if err := s.AddUser(addr, pw); err != nil {
			return nil, err
		}
	}
	caps := imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	if o.NoIdle {
		caps = imap.CapSet{imap.CapIMAP4rev1: {}}
	}
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return s.mem.NewSession(), nil, nil
		},
		Caps:         caps,
		InsecureAuth: true, // loopback only
		Logger:       log.New(io.Discard, "", 0),
	})
	iln, err := net.Listen("tcp", o.IMAPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen imap on %s: %w", o.IMAPAddr, err)
	}
	sln, err := net.Listen("tcp", o.SMTPAddr)
	if err != nil {
		iln.Close()
		return nil, fmt.Errorf("listen smtp on %s: %w", o.SMTPAddr, err)
	}
	s.IMAPAddr, s.SMTPAddr = iln.Addr().String(), sln.Addr().String()
	s.smtp = smtp.NewServer(backend{s})
	s.smtp.Domain = "localhost"
	s.smtp.ReadTimeout, s.smtp.WriteTimeout = time.Minute, time.Minute
	s.smtp.MaxMessageBytes = 64 << 20
	s.smtp.AllowInsecureAuth = true
	go func() { _ = s.imap.Serve(iln) }()
	go func() { _ = s.smtp.Serve(sln) }()
	return s, nil
}

// Close stops both servers.
func (s *System) Close() error {
	return errors.Join(s.imap.Close(), s.smtp.Close())
}

// AddUser creates a user with an INBOX.
func (s *System) AddUser(addr, password string) error {
	addr = strings.ToLower(addr)
	u := imapmemserver.NewUser(addr, password)
	if err := u.Create("INBOX", nil); err != nil {
		return fmt.Errorf("create INBOX of %s: %w", addr, err)
	}
	s.mu.Lock()
	s.users[addr] = u
	s.mu.Unlock()
	s.mem.AddUser(u)
	return nil
}

// SetReject installs (or with nil removes) the RCPT refusal hook.
func (s *System) SetReject(f func(rcpt string) error) {
	s.mu.Lock()
	s.reject = f
	s.mu.Unlock()
}

// Deliveries returns what the SMTP side accepted so far.
func (s *System) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// SMTPSessions returns how many SMTP connections the SMTP side accepted so far.
func (s *System) SMTPSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Append puts raw into a user's folder as if delivered at t.
func (s *System) Append(user, folder string, raw []byte, t time.Time) error {
	s.mu.Lock()
	u := s.users[strings.ToLower(user)]
	s.mu.Unlock()
	if u == nil {
		return fmt.Errorf("no user %s", user)
	}
	_, err := u.Append(folder, bytes.NewReader(raw), &imap.AppendOptions{Time: t})
	return err
}

type backend struct{ s *System }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	b.s.mu.Lock()
	b.s.sessions++
	b.s.mu.Unlock()
	return &session{s: b.s}, nil
}

type session struct {
	s    *System
	from string
	to   []string
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	to = strings.ToLower(to)
	x.s.mu.Lock()
	_, known := x.s.users[to]
	reject := x.s.reject
	x.s.mu.Unlock()
	if reject != nil {
		if err := reject(to); err != nil {
			return err
		}
	}
	if !known {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	now := time.Now()
	x.s.mu.Lock()
	x.s.deliveries = append(x.s.deliveries, Delivery{From: x.from, To: x.to, Data: body, At: now})
	x.s.mu.Unlock()
	for _, rcpt := range x.to {
		// RFC 5321 §4.4: the final delivery adds Return-Path.
		raw := append([]byte("Return-Path: <"+x.from+">\r\nDelivered-To: "+rcpt+"\r\n"), body...)
		if err := x.s.Append(rcpt, "INBOX", raw, now); err != nil {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "delivery failed: " + err.Error()}
		}
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }
