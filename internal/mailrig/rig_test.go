package mailrig

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const (
	office  = "office@example.test"
	citizen = "citizen@example.test"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mail(from, to, subject, id string) []byte {
	return []byte("From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nDate: Mon, 02 Mar 2026 10:00:00 +0100\r\nMessage-ID: <" + id + ">\r\n\r\nHello,\r\nthis is " + id + ".\r\n")
}

// find returns the message whose raw bytes contain needle.
func find(msgs []Message, needle string) (Message, bool) {
	for _, m := range msgs {
		if bytes.Contains(m.Raw, []byte(needle)) {
			return m, true
		}
	}
	return Message{}, false
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// One rig, many non-disruptive checks.
func TestRig(t *testing.T) {
	t.Parallel()
	start := time.Now()
	r := StartT(t, Options{})
	t.Logf("started in %v: dir %s imap %s imaps %s lmtp %s smtp %s submission %s",
		time.Since(start), r.Dir, r.IMAPAddr, r.IMAPSAddr, r.LMTPAddr, r.SMTPAddr, r.SubmissionAddr)

	t.Run("Layout", func(t *testing.T) {
		for _, a := range []string{r.IMAPAddr, r.IMAPSAddr, r.LMTPAddr, r.SMTPAddr, r.SubmissionAddr} {
			if host, _, err := net.SplitHostPort(a); err != nil || host != "127.0.0.1" {
				t.Errorf("address %q is not on 127.0.0.1", a)
			}
		}
		// Dovecot's longest socket names are about 30 bytes below base_dir.
		if n := len(filepath.Join(r.Dir, "dv", "run")); n > 60 {
			t.Errorf("base_dir %d bytes long: unix socket paths may pass 108 bytes", n)
		}
		if fi, err := os.Stat(r.Dir); err != nil || fi.Mode().Perm()&0o005 != 0o005 {
			t.Errorf("rig dir must be world-traversable: %v %v", fi.Mode(), err)
		}
		if _, err := os.Stat(r.CAFile); err != nil {
			t.Error(err)
		}
		if len(r.Users) != 3 || r.Users[office] != "office-pass" || r.Users[citizen] != "citizen-pass" || r.Users["other@example.test"] != "other-pass" {
			t.Errorf("default users: %v", r.Users)
		}
	})

	t.Run("OnlyLoopbackListeners", func(t *testing.T) {
		want := map[string]bool{r.IMAPAddr: true, r.IMAPSAddr: true, r.LMTPAddr: true, r.SMTPAddr: true, r.SubmissionAddr: true}
		got := listeners(t, r)
		for a := range got {
			if !want[a] {
				t.Errorf("a rig process listens on %s, which is none of the rig's addresses", a)
			}
		}
		for a := range want {
			if !got[a] {
				t.Errorf("no rig process listens on %s (listening: %v)", a, got)
			}
		}
	})

	t.Run("AppendFetch", func(t *testing.T) {
		ctx := testCtx(t)
		received := time.Date(2025, 12, 31, 23, 59, 58, 0, time.FixedZone("CET", 3600))
		raw := mail(citizen, office, "Antrag", "append-1@example.test")
		// "Eingang" does not exist: Append creates it.
		uid, err := r.Append(ctx, office, "Eingang", raw, received)
		if err != nil {
			t.Fatal(err)
		}
		uid2, err := r.Append(ctx, office, "Eingang", mail(citizen, office, "Zweiter", "append-2@example.test"), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if uid == 0 || uid2 <= uid {
			t.Fatalf("UIDs %d then %d", uid, uid2)
		}
		msgs, err := r.Fetch(ctx, office, "Eingang")
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 2 || msgs[0].UID != uid || msgs[1].UID != uid2 {
			t.Fatalf("fetched %d messages %+v, want UIDs %d, %d", len(msgs), msgs, uid, uid2)
		}
		if !bytes.Equal(msgs[0].Raw, raw) {
			t.Errorf("raw differs:\n%q\nwant\n%q", msgs[0].Raw, raw)
		}
		if !msgs[0].InternalDate.Equal(received) {
			t.Errorf("INTERNALDATE %v, want %v", msgs[0].InternalDate, received)
		}
		if slices.Contains(msgs[0].Flags, string(imap.FlagSeen)) {
			t.Errorf("message is \\Seen after BODY.PEEK[]: %v", msgs[0].Flags)
		}
		if _, err := r.Fetch(ctx, "other@example.test", "Eingang"); err == nil {
			t.Error("another user sees office's folder")
		}
	})

	t.Run("AutoFoldersAndKeywords", func(t *testing.T) {
		ctx := testCtx(t)
		for _, f := range []string{"INBOX", "Archive", "Sent", "Trash", "Drafts", "Junk"} {
			if _, err := r.Fetch(ctx, citizen, f); err != nil {
				t.Errorf("folder %s: %v", f, err)
			}
		}
		uid, err := r.Append(ctx, citizen, "Archive", mail(office, citizen, "kw", "kw@example.test"), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.Dial(citizen)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Select("Archive", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		kws := []imap.Flag{"$Acknowledged", "$Ticket_2026-000042", "ack-sent"}
		if err := c.Store(imap.UIDSetNum(imap.UID(uid)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: kws}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		c.Logout().Wait()
		msgs, err := r.Fetch(ctx, citizen, "Archive")
		if err != nil || len(msgs) != 1 {
			t.Fatalf("%v %+v", err, msgs)
		}
		for _, k := range kws {
			if !slices.Contains(msgs[0].Flags, string(k)) {
				t.Errorf("keyword %s missing: %v", k, msgs[0].Flags)
			}
		}
	})

	t.Run("SendDeliversViaLMTP", func(t *testing.T) {
		ctx := testCtx(t)
		before, err := r.Fetch(ctx, office, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		id := "send-1@example.test"
		t0 := time.Now()
		if err := r.Send(ctx, citizen, []string{office}, mail(citizen, office, "Anfrage", id)); err != nil {
			t.Fatal(err)
		}
		if err := r.WaitCount(ctx, office, "INBOX", len(before)+1); err != nil {
			t.Fatal(err)
		}
		t.Logf("SMTP → Postfix → LMTP → IMAP in %v", time.Since(t0))
		msgs, err := r.Fetch(ctx, office, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		m, ok := find(msgs, "Message-ID: <"+id+">")
		if !ok {
			t.Fatalf("sent message not in INBOX (%d messages)", len(msgs))
		}
		for _, h := range []string{"Return-Path: <citizen@example.test>", "Delivered-To: office@example.test", "by mail.example.test (Postfix)"} {
			if !bytes.Contains(m.Raw, []byte(h)) {
				t.Errorf("delivered message lacks %q:\n%s", h, m.Raw)
			}
		}
	})

	t.Run("SendRejects", func(t *testing.T) {
		ctx := testCtx(t)
		err := r.Send(ctx, citizen, []string{"nobody@example.test"}, mail(citizen, "nobody@example.test", "x", "rej-1@example.test"))
		if smtpCode(err) != 550 || !strings.Contains(err.Error(), "User unknown") {
			t.Errorf("unknown local user: %v, want 550 User unknown", err)
		}
		err = r.Send(ctx, office, []string{"buerger@example.org"}, mail(office, "buerger@example.org", "x", "rej-2@example.test"))
		if smtpCode(err) != 550 || !strings.Contains(err.Error(), "outbound mail disabled") {
			t.Errorf("external recipient: %v, want 550 outbound mail disabled", err)
		}
	})

	t.Run("IMAPSVerifiesWithCA", func(t *testing.T) {
		c, err := r.Dial(office)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Caps().Has(imap.CapIdle) || !c.Caps().Has(imap.CapMove) || !c.Caps().Has(imap.CapUIDPlus) {
			t.Errorf("capabilities after login: %v", c.Caps())
		}
		c.Logout().Wait()
		c.Close()

		pem, err := os.ReadFile(r.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatal("CAFile holds no certificate")
		}
		for _, name := range []string{"localhost", "127.0.0.1"} {
			conn, err := tls.Dial("tcp", r.IMAPSAddr, &tls.Config{RootCAs: pool, ServerName: name})
			if err != nil {
				t.Errorf("IMAPS with CAFile as %s: %v", name, err)
				continue
			}
			conn.Close()
		}
		// Without the CA the handshake must fail: verification really happens.
		_, err = tls.Dial("tcp", r.IMAPSAddr, &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"})
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &ua) {
			t.Errorf("IMAPS without the CA: %v, want x509.UnknownAuthorityError", err)
		}
		// STARTTLS on the plain port verifies too.
		sc, err := imapclient.DialStartTLS(r.IMAPAddr, &imapclient.Options{TLSConfig: r.TLSConfig()})
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.Login(office, "office-pass").Wait(); err != nil {
			t.Error(err)
		}
		sc.Logout().Wait()
		sc.Close()
	})

	t.Run("SubmissionNeedsSTARTTLSAndAUTH", func(t *testing.T) {
		ctx := testCtx(t)
		// Before STARTTLS: no AUTH offered, AUTH and MAIL refused.
		c, err := r.DialSMTP(ctx, r.SubmissionAddr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.Extension("STARTTLS"); !ok {
			t.Error("submission does not offer STARTTLS")
		}
		if ok, _ := c.Extension("AUTH"); ok {
			t.Error("submission offers AUTH before STARTTLS")
		}
		c.Close()
		// go-smtp's Auth sends "*" after a refusal, which Postfix takes as
		// a non-SMTP command and hangs up on: talk raw here.
		tc, err := textproto.Dial("tcp", r.SubmissionAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		step := func(cmd string) (int, string) {
			if cmd != "" {
				if err := tc.PrintfLine("%s", cmd); err != nil {
					t.Fatal(err)
				}
			}
			code, msg, err := tc.ReadResponse(0)
			if err != nil && code == 0 {
				t.Fatalf("%q: %v", cmd, err)
			}
			return code, msg
		}
		step("")
		step("EHLO client.example.test")
		plain := base64.StdEncoding.EncodeToString([]byte("\x00" + citizen + "\x00citizen-pass"))
		if code, msg := step("AUTH PLAIN " + plain); code < 500 {
			t.Errorf("AUTH before STARTTLS: %d %s, want a 5xx", code, msg)
		}
		if code, msg := step("MAIL FROM:<" + citizen + ">"); code < 500 || !strings.Contains(msg, "STARTTLS") {
			t.Errorf("MAIL before STARTTLS: %d %s, want 530 Must issue a STARTTLS command first", code, msg)
		}
		step("QUIT")

		// After STARTTLS but without AUTH: the recipient is refused.
		c, err = r.DialSMTP(ctx, r.SubmissionAddr, r.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		if ok, params := c.Extension("AUTH"); !ok || !strings.Contains(params, "PLAIN") {
			t.Errorf("no AUTH PLAIN after STARTTLS: %q", params)
		}
		err = c.Mail(citizen, nil)
		if err == nil {
			err = c.Rcpt(office, nil)
		}
		if code := smtpCode(err); code < 500 {
			t.Errorf("RCPT without AUTH: %v, want a 5xx", err)
		}
		c.Close()

		// A wrong password: 535. (From 127.0.0.1, so Dovecot's penalty for
		// it does not hit the helpers' logins from 127.0.0.2.)
		c, err = smtp.DialStartTLS(r.SubmissionAddr, r.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Auth(sasl.NewPlainClient("", citizen, "wrong")); smtpCode(err) != 535 {
			t.Errorf("wrong password: %v, want 535", err)
		}
		c.Close()

		// The right one: delivered.
		before, err := r.Fetch(ctx, office, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Submit(ctx, citizen, citizen, []string{office}, mail(citizen, office, "per Submission", "sub-1@example.test")); err != nil {
			t.Fatal(err)
		}
		if err := r.WaitCount(ctx, office, "INBOX", len(before)+1); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("FailedLoginDoesNotSlowHelpers", func(t *testing.T) {
		c, err := imapclient.DialTLS(r.IMAPSAddr, &imapclient.Options{TLSConfig: r.TLSConfig()})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login(office, "wrong").Wait(); err == nil {
			t.Fatal("login with a wrong password succeeded")
		}
		c.Close()
		// Dovecot now delays the next login from 127.0.0.1 (its auth penalty is
		// kept per remote IP); the helpers come from another address, so the
		// penalty never reaches them. Shown by where Dovecot saw them come from,
		// not by a time bound.
		count := func(parts ...string) int {
			data, err := os.ReadFile(filepath.Join(r.Dir, "dv/dovecot.log"))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for line := range strings.Lines(string(data)) {
				if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
					n++
				}
			}
			return n
		}
		// Dovecot's log process writes a line shortly after the event.
		waitLogged := func(what string, want int, parts ...string) {
			deadline := time.Now().Add(time.Minute)
			for count(parts...) < want {
				if time.Now().After(deadline) {
					t.Fatalf("Dovecot did not log %s\n%s", what, r.Logs())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		helper := []string{"Login: user=<" + office + ">, method=PLAIN, rip=127.0.0.2,"}
		before := count(helper...)
		for range 3 {
			c, err := r.Dial(office)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		waitLogged("three helper logins from 127.0.0.2", before+3, helper...)
		waitLogged("the failed login from 127.0.0.1", 1, "auth failed", "user=<"+office+">", "rip=127.0.0.1,")
	})

	t.Run("AddUser", func(t *testing.T) {
		ctx := testCtx(t)
		for _, u := range []string{"Neu@Example.test", "clerk@amt.example"} {
			if err := r.AddUser(u, "pw-"+u); err != nil {
				t.Fatal(err)
			}
			addr := strings.ToLower(u)
			if err := r.Send(ctx, citizen, []string{addr}, mail(citizen, addr, "hallo", "new-"+addr)); err != nil {
				t.Fatalf("send to new user %s: %v", addr, err)
			}
			if err := r.WaitCount(ctx, addr, "INBOX", 1); err != nil {
				t.Fatal(err)
			}
		}
		// A changed password takes effect (same length, same second).
		if err := r.AddUser("clerk@amt.example", "pw-clerk@amt.examplX"); err != nil {
			t.Fatal(err)
		}
		c, err := r.Dial("clerk@amt.example")
		if err != nil {
			t.Fatalf("login with the new password: %v", err)
		}
		c.Close()
		if err := r.AddUser("bad", "x"); err == nil {
			t.Error("AddUser accepted an address without @")
		}
	})
}

// listeners returns the TCP addresses on which the rig's processes listen.
func listeners(t *testing.T, r *Rig) map[string]bool {
	t.Helper()
	r.procMu.Lock()
	groups := map[int]bool{r.postfixPID: true}
	if r.dovecot != nil {
		groups[r.dovecot.Process.Pid] = true
	}
	r.procMu.Unlock()
	inodes := map[string]bool{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, pg, ok := procStat(pid); !ok || !groups[pg] {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if ino, ok := strings.CutPrefix(l, "socket:["); ok {
				inodes[strings.TrimSuffix(ino, "]")] = true
			}
		}
	}
	out := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A = LISTEN
				continue
			}
			hexIP, hexPort, _ := strings.Cut(f[1], ":")
			port, _ := strconv.ParseUint(hexPort, 16, 16)
			ip := hexIP
			if len(hexIP) == 8 { // IPv4, little-endian
				v, _ := strconv.ParseUint(hexIP, 16, 32)
				ip = net.IPv4(byte(v), byte(v>>8), byte(v>>16), byte(v>>24)).String()
			}
			out[net.JoinHostPort(ip, strconv.Itoa(int(port)))] = true
		}
	}
	return out
}

// Restarts keep mail and ports; mail sent while Dovecot is down is queued by
// Postfix and delivered after the restart.
func TestRestarts(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	r := StartT(t, Options{})
	raw := mail(citizen, office, "bleibt", "keep-1@example.test")
	uid, err := r.Append(ctx, office, "INBOX", raw, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Dial(office)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	validity := sel.UIDValidity

	t0 := time.Now()
	if err := r.StopDovecot(); err != nil {
		t.Fatal(err)
	}
	t.Logf("StopDovecot: %v", time.Since(t0))
	select { // the open connection notices
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Error("IMAP connection still open after StopDovecot")
	}
	if _, err := r.Dial(office); err == nil {
		t.Fatal("IMAP login works while Dovecot is stopped")
	}
	if err := r.Send(ctx, citizen, []string{office}, mail(citizen, office, "queued", "queued-1@example.test")); err != nil {
		t.Fatalf("Postfix should queue while Dovecot is down: %v", err)
	}
	t0 = time.Now()
	if err := r.StartDovecot(); err != nil {
		t.Fatal(err)
	}
	t.Logf("StartDovecot: %v", time.Since(t0))
	msgs, err := r.Fetch(ctx, office, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := find(msgs, "keep-1@example.test"); !ok || m.UID != uid || !bytes.Equal(m.Raw, raw) {
		t.Fatalf("mail lost or changed over a Dovecot restart: %+v", msgs)
	}
	c, err = r.Dial(office)
	if err != nil {
		t.Fatal(err)
	}
	if sel, err := c.Select("INBOX", nil).Wait(); err != nil || sel.UIDValidity != validity {
		t.Errorf("UIDVALIDITY %d after restart, was %d (%v)", sel.UIDValidity, validity, err)
	}
	c.Close()
	t0 = time.Now()
	if err := r.WaitCount(ctx, office, "INBOX", 2); err != nil {
		t.Fatalf("queued mail not delivered after the restart: %v\n%s", err, r.Logs())
	}
	t.Logf("queued mail delivered %v after StartDovecot", time.Since(t0))

	t0 = time.Now()
	if err := r.StopPostfix(); err != nil {
		t.Fatal(err)
	}
	t.Logf("StopPostfix: %v", time.Since(t0))
	err = r.Send(ctx, citizen, []string{office}, mail(citizen, office, "x", "down@example.test"))
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Send with Postfix stopped: %v, want connection refused", err)
	}
	t0 = time.Now()
	if err := r.StartPostfix(); err != nil {
		t.Fatal(err)
	}
	t.Logf("StartPostfix: %v", time.Since(t0))
	if err := r.Send(ctx, citizen, []string{office}, mail(citizen, office, "wieder da", "up-1@example.test")); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitCount(ctx, office, "INBOX", 3); err != nil {
		t.Fatal(err)
	}
	// Stop and start are idempotent.
	if err := r.StartPostfix(); err != nil {
		t.Error(err)
	}
	if err := r.StartDovecot(); err != nil {
		t.Error(err)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	r := StartT(t, Options{
		DiscardUnknown:   true,
		Users:            map[string]string{"Poststelle@Amt.Example": "geheim", "buerger@example.test": "pw"},
		AuthFailureDelay: 2 * time.Second,
	})
	t0 := time.Now()
	c, err := imapclient.DialTLS(r.IMAPSAddr, &imapclient.Options{TLSConfig: r.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("poststelle@amt.example", "wrong").Wait(); err == nil {
		t.Error("login with a wrong password succeeded")
	}
	c.Close()
	// Dovecot 2.3 compares whole seconds, on a 0.5 s timer.
	if d := time.Since(t0); d < time.Second {
		t.Errorf("AuthFailureDelay 2s: a failed login took only %v", d)
	}
	if len(r.Users) != 2 || r.Users["poststelle@amt.example"] != "geheim" {
		t.Fatalf("users: %v", r.Users)
	}
	if _, err := r.Dial(office); err == nil {
		t.Error("default user exists although Options.Users was given")
	}
	if err := r.Send(ctx, "buerger@example.test", []string{"poststelle@amt.example"}, mail("buerger@example.test", "poststelle@amt.example", "Antrag", "opt-1@example.test")); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitCount(ctx, "poststelle@amt.example", "INBOX", 1); err != nil {
		t.Fatal(err)
	}
	// DiscardUnknown: external mail is accepted (and dropped) ...
	if err := r.Send(ctx, "poststelle@amt.example", []string{"someone@example.org"}, mail("poststelle@amt.example", "someone@example.org", "ack", "opt-2@example.test")); err != nil {
		t.Errorf("external recipient with DiscardUnknown: %v", err)
	}
	if err := r.WaitDiscarded(ctx, 1); err != nil {
		t.Error(err)
	}
	// ... but unknown users of the rig's domains are still rejected.
	if err := r.Send(ctx, "x@example.org", []string{"nobody@amt.example"}, mail("x@example.org", "nobody@amt.example", "x", "opt-3@example.test")); smtpCode(err) != 550 {
		t.Errorf("unknown local user with DiscardUnknown: %v, want 550", err)
	}
	// Only the dropped message counts: the one delivered over LMTP and the one refused do not.
	if n, err := r.Discarded(); err != nil || n != 1 {
		t.Errorf("Discarded = %d, %v; want 1", n, err)
	}
}

// TestCloseStopsEverything: Close stops every process and removes Dir; Stop stops every
// process and keeps Dir, which the Close after it removes (intake-bench ratio removes its
// rigs only after its last run).
func TestCloseStopsEverything(t *testing.T) {
	t.Parallel()
	if err := Available(); err != nil {
		StartT(t, Options{}) // skips or fails with the reason
	}
	for _, tc := range []struct {
		name      string
		stopFirst bool
	}{
		{name: "Close"},
		{name: "Stop, then Close", stopFirst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			r, err := Start(ctx, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() }) // a no-op once the test closed it
			r.procMu.Lock()
			dovecotPID, postfixPID := r.dovecot.Process.Pid, r.postfixPID
			r.procMu.Unlock()
			addrs := []string{r.IMAPAddr, r.IMAPSAddr, r.LMTPAddr, r.SMTPAddr, r.SubmissionAddr}
			t0 := time.Now()
			stop := r.Close
			if tc.stopFirst {
				stop = r.Stop
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %v", tc.name, time.Since(t0))
			for _, pg := range []int{dovecotPID, postfixPID} {
				if pidAlive(pg) || groupAlive(pg) {
					t.Errorf("process group %d still alive", pg)
				}
			}
			for _, a := range addrs {
				if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
					c.Close()
					t.Errorf("%s still accepts connections", a)
				}
			}
			if tc.stopFirst {
				if _, err := os.Stat(filepath.Join(r.Dir, "pf", "etc", "main.cf")); err != nil {
					t.Errorf("after Stop: %v, want the rig's files kept", err)
				}
				if err := r.Close(); err != nil {
					t.Fatalf("Close after Stop: %v", err)
				}
			}
			if _, err := os.Stat(r.Dir); !os.IsNotExist(err) {
				t.Errorf("%s still exists: %v", r.Dir, err)
			}
			if err := r.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := r.StartDovecot(); err == nil {
				t.Error("StartDovecot after Close succeeded")
			}
		})
	}
}

func TestReapOrphans(t *testing.T) {
	t.Parallel()
	if err := Available(); err != nil {
		StartT(t, Options{})
	}
	ctx := testCtx(t)
	r, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.procMu.Lock()
	dovecotPID, postfixPID, dovecotDone := r.dovecot.Process.Pid, r.postfixPID, r.dovecotDone
	r.procMu.Unlock()
	// Pretend the owner died: a PID that is not running.
	if err := os.WriteFile(filepath.Join(r.Dir, "owner"), []byte("999999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reapOrphans()
	if _, err := os.Stat(r.Dir); !os.IsNotExist(err) {
		t.Errorf("orphaned rig dir not removed: %v", err)
	}
	if pidAlive(postfixPID) || groupAlive(postfixPID) {
		t.Error("orphaned Postfix still running")
	}
	select {
	case <-dovecotDone:
	case <-time.After(5 * time.Second):
		t.Errorf("orphaned Dovecot (pid %d) still running", dovecotPID)
	}
}

// A port taken while a server is down is reported as errPortInUse (Start
// retries with new ports on that error) and the server starts once it is
// free again.
func TestPortInUseIsDetected(t *testing.T) {
	t.Parallel()
	r := StartT(t, Options{})
	for _, c := range []struct {
		name        string
		addr        string
		stop, start func() error
	}{
		{"dovecot", r.IMAPSAddr, r.StopDovecot, r.StartDovecot},
		{"postfix", r.SubmissionAddr, r.StopPostfix, r.StartPostfix},
	} {
		if err := c.stop(); err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp4", c.addr)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		t0 := time.Now()
		err = c.start()
		l.Close()
		t.Logf("%s: start with its port taken failed after %v", c.name, time.Since(t0))
		if !errors.Is(err, errPortInUse) {
			t.Errorf("%s with %s taken: %v, want errPortInUse", c.name, c.addr, err)
		}
		if err := c.start(); err != nil {
			t.Fatalf("%s after the port is free again: %v", c.name, err)
		}
	}
	if err := r.Send(testCtx(t), citizen, []string{office}, mail(citizen, office, "x", "port@example.test")); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitCount(testCtx(t), office, "INBOX", 1); err != nil {
		t.Fatal(err)
	}
}
