package intake

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/intake-office/intake/config"
)

// CheckResult is the outcome of one live check of a mailbox.
type CheckResult struct {
	Mailbox string `json:"mailbox"`
	Check   string `json:"check"` // "imap" or "smtp"
	Target  string `json:"target"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail"`
}

// CheckMailbox connects to a mailbox's servers the way the daemon does: IMAP
// connect, TLS, LOGIN and SELECT of the folder; SMTP connect, EHLO, TLS and
// AUTH. It changes nothing on either server.
func CheckMailbox(ctx context.Context, mb config.Mailbox) []CheckResult {
	return []CheckResult{checkIMAP(mb), checkSMTP(ctx, mb)}
}

func checkIMAP(mb config.Mailbox) CheckResult {
	res := CheckResult{Mailbox: mb.Name, Check: "imap",
		Target: fmt.Sprintf("%s (%s)", net.JoinHostPort(mb.IMAP.Host, strconv.Itoa(mb.IMAP.Port)), tlsName(mb.IMAP.TLS))}
	c, err := DialIMAP(mb, nil)
	if err != nil {
		res.Detail = err.Error()
		return res
	}
	defer c.Close()
	t := time.AfterFunc(time.Minute, func() { c.Close() })
	defer t.Stop()
	sel, err := c.Select(mb.IMAP.Folder, nil).Wait()
	if err != nil {
		res.Detail = fmt.Sprintf("select folder %q: %v", mb.IMAP.Folder, err)
		return res
	}
	_ = c.Logout().Wait()
	res.OK = true
	res.Detail = fmt.Sprintf("login as %s, folder %q: %d messages, UIDVALIDITY %d", mb.IMAP.Username, mb.IMAP.Folder, sel.NumMessages, sel.UIDValidity)
	return res
}

func checkSMTP(ctx context.Context, mb config.Mailbox) CheckResult {
	res := CheckResult{Mailbox: mb.Name, Check: "smtp",
		Target: fmt.Sprintf("%s (%s)", net.JoinHostPort(mb.SMTP.Host, strconv.Itoa(mb.SMTP.Port)), tlsName(mb.SMTP.TLS))}
	client, err := NewSMTPClient(mb)
	if err != nil {
		res.Detail = err.Error()
		return res
	}
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		res.Detail = "connect, EHLO, TLS or AUTH: " + err.Error()
		return res
	}
	_ = client.CloseWithSMTPClient(sc)
	res.OK = true
	res.Detail = "EHLO"
	if mb.SMTP.TLS != config.TLSNone {
		res.Detail += ", TLS verified"
	}
	if mb.SMTP.Username != "" {
		res.Detail += ", AUTH as " + mb.SMTP.Username
	}
	return res
}
