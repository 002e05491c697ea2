package intake

import (
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strings"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// smtpSend runs one mail transaction (RFC 5321 §3.3) and returns the server's reply to
// the end of data. beforeEnd, when set, runs after the message is written and before the
// end of data, from which on the server can accept it (RFC 5321 §4.1.1.4); its error ends
// the transaction unsent. The recipient asks for no delivery status notifications when
// the server offers DSN (RFC 3461 §4.1; RFC 3834 §3.3 for automatic replies).
//
// When the server offers PIPELINING (RFC 2920), MAIL, RCPT and DATA go out in one write
// and their three replies are read after it: one round trip instead of three (issue 12).
func smtpSend(sc *gosmtp.Client, from, rcpt string, msg *gomail.Msg, beforeEnd func() error) (string, error) {
	if err := checkEnvelope(from, rcpt); err != nil {
		return "", err
	}
	if ok, _ := sc.Extension("PIPELINING"); ok {
		return smtpSendPipelined(sc, from, rcpt, msg, beforeEnd)
	}
	sc.SetDSNRcptNotifyOption("NEVER")
	if err := sc.Mail("<" + from + ">"); err != nil {
		return "", err
	}
	if err := sc.Rcpt("<" + rcpt + ">"); err != nil {
		return "", err
	}
	w, err := sc.Data()
	if err != nil {
		return "", err
	}
	if err := writeData(w, msg, beforeEnd); err != nil {
		return "", err
	}
	if dc, ok := w.(*gosmtp.DataCloser); ok {
		return dc.ServerResponse(), nil
	}
	return "", nil
}

// writeData writes msg as the data of a transaction and ends it with Close (the end of
// data, RFC 5321 §4.1.1.4), running beforeEnd, when set, just before that.
func writeData(w io.WriteCloser, msg *gomail.Msg, beforeEnd func() error) error {
	if _, err := msg.WriteTo(w); err != nil {
		return err
	}
	if beforeEnd != nil {
		if err := beforeEnd(); err != nil {
			return err
		}
	}
	return w.Close()
}

// errBadEnvelope marks an envelope address that cannot be sent.
var errBadEnvelope = errors.New("bad envelope")

// smtpSendPipelined is smtpSend on a server that offers PIPELINING.
func smtpSendPipelined(sc *gosmtp.Client, from, rcpt string, msg *gomail.Msg, beforeEnd func() error) (string, error) {
	env := newEnvelopeWriter(sc, from)
	t := sc.Text
	// RFC 2920 §3.1: DATA ends the group; the client then waits for its reply.
	env.write(t.W, rcpt)
	if err := t.W.Flush(); err != nil {
		return "", err
	}
	if err := readEnvelopeReplies(t); err != nil {
		return "", err
	}
	if err := writeData(t.DotWriter(), msg, beforeEnd); err != nil {
		return "", err
	}
	_, reply, err := t.ReadResponse(250)
	if err != nil {
		return "", err
	}
	return reply, nil
}

// envelopeWriter writes the commands that open a transaction on a server that offers
// PIPELINING: MAIL, RCPT and DATA, for one writer (RFC 2920 §3.1). The MAIL parameters
// are those go-mail's Client.Mail sends: BODY=8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531)
// when offered; the recipient asks for no delivery status notifications when the server
// offers DSN (RFC 3461 §4.1).
type envelopeWriter struct {
	from, mailParams, rcptParams string
}

func newEnvelopeWriter(sc *gosmtp.Client, from string) envelopeWriter {
	env := envelopeWriter{from: from}
	if ok, _ := sc.Extension("8BITMIME"); ok {
		env.mailParams += " BODY=8BITMIME"
	}
	if ok, _ := sc.Extension("SMTPUTF8"); ok {
		env.mailParams += " SMTPUTF8"
	}
	if ok, _ := sc.Extension("DSN"); ok {
		env.rcptParams = " NOTIFY=NEVER"
	}
	return env
}

// write puts the three commands for rcpt into w, unflushed. The caller has checked both
// addresses for line breaks (checkEnvelope).
func (env envelopeWriter) write(w io.Writer, rcpt string) {
	fmt.Fprintf(w, "MAIL FROM:<%s>%s\r\nRCPT TO:<%s>%s\r\nDATA\r\n", env.from, env.mailParams, rcpt, env.rcptParams)
}

// checkEnvelope refuses an envelope address with a line break: the recipient comes from
// a mail, and a line break in it would be a command of its own.
func checkEnvelope(from, rcpt string) error {
	if strings.ContainsAny(from, "\r\n") || strings.ContainsAny(rcpt, "\r\n") {
		return fmt.Errorf("%w: line break in an envelope address", errBadEnvelope)
	}
	return nil
}

// readEnvelopeReplies reads the replies to a pipelined MAIL, RCPT and DATA. Every reply is
// read, in order, even after a refusal (RFC 2920 §3.2); the first refusal is the
// transaction's error, and the server is then out of the transaction's data. A nil error
// means the server waits for the data (354).
func readEnvelopeReplies(t *textproto.Conn) error {
	var first error
	for _, want := range []int{250, 25} {
		if _, _, err := t.ReadResponse(want); err != nil {
			if !isReply(err) {
				return err // the connection is gone
			}
			if first == nil {
				first = err
			}
		}
	}
	if _, _, err := t.ReadResponse(354); err != nil {
		if !isReply(err) {
			return err
		}
		return errors.Join(first, err)
	}
	if first != nil {
		// The server took DATA after refusing MAIL or RCPT, which RFC 2920 §3.1 says it
		// must not: end the data at once, with nothing in it, and report the refusal.
		if err := t.PrintfLine("."); err != nil {
			return err
		}
		if _, _, err := t.ReadResponse(0); err != nil && !isReply(err) {
			return err
		}
		return first
	}
	return nil
}

// isReply reports whether err is the server's reply (a refusal), not a broken connection.
func isReply(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te)
}
