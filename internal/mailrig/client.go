package mailrig

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const defaultOpTimeout = 30 * time.Second

// dialer is what the rig's helpers connect with: from 127.0.0.2 where that
// works (all of 127/8 is loopback on Linux), so that Dovecot's per-IP
// penalty after failed logins by the code under test (from 127.0.0.1) does
// not slow them down, and their own failures do not slow the code under test.
func (r *Rig) dialer() *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if r.helperAddr != nil {
		d.LocalAddr = r.helperAddr
	}
	return d
}

func (r *Rig) password(user string) (string, error) {
	r.usersMu.Lock()
	defer r.usersMu.Unlock()
	p, ok := r.Users[user]
	if !ok {
		return "", fmt.Errorf("mailrig: unknown user %q", user)
	}
	return p, nil
}

// Dial returns an IMAP client logged in as user over IMAPS, verifying the
// server against the rig's certificate. The caller closes it (Logout or
// Close).
func (r *Rig) Dial(user string) (*imapclient.Client, error) {
	pass, err := r.password(user)
	if err != nil {
		return nil, err
	}
	c, err := imapclient.DialTLS(r.IMAPSAddr, &imapclient.Options{
		TLSConfig: r.TLSConfig(),
		Dialer:    r.dialer(),
	})
	if err != nil {
		return nil, fmt.Errorf("mailrig: dial %s: %w", r.IMAPSAddr, err)
	}
	if err := c.Login(user, pass).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("mailrig: login %s: %w", user, err)
	}
	return c, nil
}

// withIMAP runs fn on a fresh logged-in connection; ending ctx closes it.
func (r *Rig) withIMAP(ctx context.Context, user string, fn func(*imapclient.Client) error) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	c, err := r.Dial(user)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	err = fn(c)
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	c.Logout().Wait()
	c.Close()
	return err
}

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, defaultOpTimeout)
}

// Append stores raw in folder (created when missing) as user via IMAP
// APPEND, with INTERNALDATE received unless that is zero, and returns the
// new message's UID.
func (r *Rig) Append(ctx context.Context, user, folder string, raw []byte, received time.Time) (uid uint32, err error) {
	err = r.withIMAP(ctx, user, func(c *imapclient.Client) error {
		opts := &imap.AppendOptions{}
		if !received.IsZero() {
			opts.Time = received
		}
		for created := false; ; created = true {
			cmd := c.Append(folder, int64(len(raw)), opts)
			if _, err := cmd.Write(raw); err != nil {
				return err
			}
			if err := cmd.Close(); err != nil {
				return err
			}
			data, err := cmd.Wait()
			var ie *imap.Error
			if !created && errors.As(err, &ie) && ie.Code == imap.ResponseCodeTryCreate {
				if err := c.Create(folder, nil).Wait(); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			uid = uint32(data.UID)
			return nil
		}
	})
	if err != nil {
		return 0, fmt.Errorf("mailrig: append to %s/%s: %w", user, folder, err)
	}
	return uid, nil
}

// Fetch returns every message in folder, ordered by UID, with flags,
// INTERNALDATE and raw bytes (BODY.PEEK[], so \Seen is not set). The folder
// is opened read-only.
func (r *Rig) Fetch(ctx context.Context, user, folder string) ([]Message, error) {
	var out []Message
	err := r.withIMAP(ctx, user, func(c *imapclient.Client) error {
		sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return err
		}
		if sel.NumMessages == 0 {
			return nil
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		body := &imap.FetchItemBodySection{Peek: true}
		msgs, err := c.Fetch(all, &imap.FetchOptions{
			UID: true, Flags: true, InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{body},
		}).Collect()
		if err != nil {
			return err
		}
		for _, m := range msgs {
			flags := make([]string, len(m.Flags))
			for i, f := range m.Flags {
				flags[i] = string(f)
			}
			out = append(out, Message{UID: uint32(m.UID), Flags: flags, InternalDate: m.InternalDate, Raw: m.FindBodySection(body)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mailrig: fetch %s/%s: %w", user, folder, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}

// WaitCount polls (STATUS, every 50 ms) until folder holds at least n
// messages, or ctx ends (then the error says how many there were). It
// reconnects when the connection fails, so it survives a Dovecot restart.
func (r *Rig) WaitCount(ctx context.Context, user, folder string, n int) error {
	var (
		c       *imapclient.Client
		lastErr error
		last    = -1
	)
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		if c == nil {
			c, lastErr = r.Dial(user)
		}
		if c != nil {
			st, err := c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
			switch {
			case err != nil:
				lastErr = err
				var ie *imap.Error
				if !errors.As(err, &ie) { // connection trouble, not e.g. "no such mailbox"
					c.Close()
					c = nil
				}
			case st.NumMessages != nil:
				last = int(*st.NumMessages)
				if last >= n {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			if last >= 0 {
				return fmt.Errorf("mailrig: %s/%s has %d messages, want >= %d: %w", user, folder, last, n, ctx.Err())
			}
			return fmt.Errorf("mailrig: waiting for %d messages in %s/%s: %w (last error: %v)", n, user, folder, ctx.Err(), lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Discarded counts the recipients Postfix has dropped through a discard transport
// (Options.DiscardUnknown): the delivery lines of its log with "relay=none" and
// "status=sent", one per recipient, which is how discard(8) reports what it dropped. For
// messages of one recipient each, as the benchmarks send, that is the messages.
func (r *Rig) Discarded() (int, error) {
	b, err := os.ReadFile(filepath.Join(r.Dir, "pf", "maillog"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mailrig: read Postfix's log: %w", err)
	}
	n := 0
	for line := range bytes.Lines(b) {
		if bytes.Contains(line, []byte(" relay=none,")) && bytes.Contains(line, []byte(" status=sent ")) {
			n++
		}
	}
	return n, nil
}

// WaitDiscarded polls (every 50 ms) until Postfix has discarded at least n recipients
// (Discarded), or ctx ends.
func (r *Rig) WaitDiscarded(ctx context.Context, n int) error {
	for {
		got, err := r.Discarded()
		if err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mailrig: Postfix discarded %d recipients, want >= %d: %w", got, n, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Send delivers raw over plain SMTP to SMTPAddr (no TLS, no AUTH, like a
// foreign MX client), so that Postfix hands it to Dovecot over LMTP. An SMTP
// rejection comes back as *smtp.SMTPError.
func (r *Rig) Send(ctx context.Context, from string, to []string, raw []byte) error {
	return r.smtpSend(ctx, r.SMTPAddr, nil, from, to, raw)
}

// Submit sends raw through the submission port: STARTTLS (verified against
// the rig's certificate), then AUTH PLAIN as user.
func (r *Rig) Submit(ctx context.Context, user, from string, to []string, raw []byte) error {
	pass, err := r.password(user)
	if err != nil {
		return err
	}
	return r.smtpSend(ctx, r.SubmissionAddr, sasl.NewPlainClient("", user, pass), from, to, raw)
}

func (r *Rig) smtpSend(ctx context.Context, addr string, auth sasl.Client, from string, to []string, raw []byte) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	var tlsConfig *tls.Config
	if auth != nil {
		tlsConfig = r.TLSConfig()
	}
	c, err := r.dialSMTP(ctx, addr, tlsConfig)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("mailrig: AUTH %s: %w", addr, err)
		}
	}
	if err := c.SendMail(from, to, bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("mailrig: send via %s: %w", addr, err)
	}
	return c.Quit()
}

// DialSMTP returns an SMTP client connected to addr (SMTPAddr or
// SubmissionAddr) after EHLO, and after STARTTLS when tlsConfig is not nil
// (use TLSConfig), for tests that need the raw dialogue. ctx bounds the dial
// and sets the command deadlines.
func (r *Rig) DialSMTP(ctx context.Context, addr string, tlsConfig *tls.Config) (*smtp.Client, error) {
	return r.dialSMTP(ctx, addr, tlsConfig)
}

func (r *Rig) dialSMTP(ctx context.Context, addr string, tlsConfig *tls.Config) (*smtp.Client, error) {
	conn, err := r.dialer().DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mailrig: dial %s: %w", addr, err)
	}
	timeout := defaultOpTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	// The client sets its own deadline per command (CommandTimeout, 5 min
	// until we set it); ending ctx interrupts the greeting and STARTTLS.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if tlsConfig != nil {
		c, err := smtp.NewClientStartTLS(conn, tlsConfig) // EHLO, STARTTLS, EHLO
		if err != nil {
			return nil, fmt.Errorf("mailrig: STARTTLS %s: %w", addr, err)
		}
		c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
		return c, nil
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
	if err := c.Hello("client.example.test"); err != nil {
		c.Close()
		return nil, fmt.Errorf("mailrig: EHLO %s: %w", addr, err)
	}
	return c, nil
}

// rcptProbe asks Postfix's SMTP port whether it accepts addr as a recipient.
func (r *Rig) rcptProbe(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := r.dialSMTP(ctx, r.SMTPAddr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail("", nil); err != nil {
		return err
	}
	if err := c.Rcpt(addr, nil); err != nil {
		return err
	}
	c.Reset()
	return c.Quit()
}
