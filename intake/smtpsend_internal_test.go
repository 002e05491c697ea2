package intake

import (
	"bufio"
	"errors"
	"net"
	"net/textproto"
	"strings"
	"testing"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// scriptedSMTP is the server end of one SMTP connection: it offers the given EHLO
// extensions, answers MAIL, RCPT and DATA with the scripted replies, and records the
// lines it read. Both ends run over net.Pipe: no network, no timing.
type scriptedSMTP struct {
	ext                    []string
	mail, rcpt, data, done string // replies; "" = the usual positive one

	lines []string // what the client sent, in order ("<data>" for the message)
}

func (s *scriptedSMTP) serve(conn net.Conn) {
	defer conn.Close()
	r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
	reply := func(line, def string) {
		if line == "" {
			line = def
		}
		w.WriteString(line + "\r\n")
		w.Flush()
	}
	reply("220 scripted ESMTP", "")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		if verb != "EHLO" {
			s.lines = append(s.lines, line)
		}
		switch verb {
		case "EHLO":
			var b strings.Builder
			b.WriteString("250-scripted\r\n")
			for _, e := range s.ext {
				b.WriteString("250-" + e + "\r\n")
			}
			reply(b.String()+"250 SIZE 10000000", "")
		case "MAIL":
			reply(s.mail, "250 2.1.0 Ok")
		case "RCPT":
			reply(s.rcpt, "250 2.1.5 Ok")
		case "DATA":
			reply(s.data, "354 End data with <CR><LF>.<CR><LF>")
			if s.data != "" {
				continue
			}
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			s.lines = append(s.lines, "<data>")
			reply(s.done, "250 2.0.0 Ok: queued as 4711")
		case "RSET", "NOOP":
			reply("250 2.0.0 Ok", "")
		case "QUIT":
			reply("221 2.0.0 Bye", "")
			return
		default:
			reply("502 5.5.2 Error: command not recognized", "")
		}
	}
}

func TestSMTPSend(t *testing.T) {
	pipelining := []string{"PIPELINING", "8BITMIME", "DSN"}
	plain := []string{"8BITMIME", "DSN"}
	tests := []struct {
		name      string
		server    scriptedSMTP
		rcpt      string
		beforeEnd error
		wantReply string
		wantCode  int    // the refusal's code; 0 = none
		wantErr   error  // errors.Is
		wantLines string // what the server read, joined by " | "
	}{
		{name: "pipelined", server: scriptedSMTP{ext: pipelining}, rcpt: "erika@example.org",
			wantReply: "2.0.0 Ok: queued as 4711",
			wantLines: "MAIL FROM:<post@amt.example> BODY=8BITMIME | RCPT TO:<erika@example.org> NOTIFY=NEVER | DATA | <data>"},
		{name: "one command at a time", server: scriptedSMTP{ext: plain}, rcpt: "erika@example.org",
			wantReply: "2.0.0 Ok: queued as 4711",
			wantLines: "MAIL FROM:<post@amt.example> BODY=8BITMIME | RCPT TO:<erika@example.org> NOTIFY=NEVER | DATA | <data>"},
		{name: "pipelined, recipient refused",
			server: scriptedSMTP{ext: pipelining, rcpt: "550 5.1.1 no such user", data: "554 5.5.1 no valid recipients"},
			rcpt:   "gone@example.org", wantCode: 550,
			wantLines: "MAIL FROM:<post@amt.example> BODY=8BITMIME | RCPT TO:<gone@example.org> NOTIFY=NEVER | DATA"},
		{name: "pipelined, sender refused for now",
			server: scriptedSMTP{ext: pipelining, mail: "451 4.3.0 try later", rcpt: "503 5.5.1 need MAIL", data: "503 5.5.1 need RCPT"},
			rcpt:   "erika@example.org", wantCode: 451,
			wantLines: "MAIL FROM:<post@amt.example> BODY=8BITMIME | RCPT TO:<erika@example.org> NOTIFY=NEVER | DATA"},
		{name: "pipelined, DATA taken after a refusal",
			server: scriptedSMTP{ext: pipelining, rcpt: "550 5.1.1 no such user"},
			rcpt:   "gone@example.org", wantCode: 550,
			wantLines: "MAIL FROM:<post@amt.example> BODY=8BITMIME | RCPT TO:<gone@example.org> NOTIFY=NEVER | DATA | <data>"},
		{name: "pipelined, message refused", server: scriptedSMTP{ext: pipelining, done: "554 5.7.1 spam"},
			rcpt: "erika@example.org", wantCode: 554,
			wantLines: "MAIL FROM:<post@amt.example> BODY=8BITMIME | RCPT TO:<erika@example.org> NOTIFY=NEVER | DATA | <data>"},
		{name: "one at a time, recipient refused", server: scriptedSMTP{ext: plain, rcpt: "550 5.1.1 no such user"},
			rcpt: "gone@example.org", wantCode: 550,
			wantLines: "MAIL FROM:<post@amt.example> BODY=8BITMIME | RCPT TO:<gone@example.org> NOTIFY=NEVER"},
		// The attack: a recipient with a line break would smuggle in commands of its own.
		{name: "line break in the recipient", server: scriptedSMTP{ext: pipelining},
			rcpt: "a@example.org>\r\nRCPT TO:<victim@example.net", wantErr: errBadEnvelope},
		{name: "register error before the end of data", server: scriptedSMTP{ext: pipelining},
			rcpt: "erika@example.org", beforeEnd: errRegister,
			wantErr: errRegister, wantLines: "MAIL FROM:<post@amt.example> BODY=8BITMIME | RCPT TO:<erika@example.org> NOTIFY=NEVER | DATA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli, srv := net.Pipe()
			served := make(chan struct{})
			go func() { defer close(served); tt.server.serve(srv) }()
			sc, err := gosmtp.NewClient(cli, "scripted")
			if err != nil {
				t.Fatal(err)
			}
			if err := sc.Hello("intake.test"); err != nil {
				t.Fatal(err)
			}
			msg := gomail.NewMsg()
			if err := msg.From("post@amt.example"); err != nil {
				t.Fatal(err)
			}
			if err := msg.To("erika@example.org"); err != nil {
				t.Fatal(err)
			}
			msg.Subject("Eingangsbestätigung")
			msg.SetBodyString(gomail.TypeTextPlain, "Ihre Nachricht ist eingegangen.")
			var beforeEnd func() error
			if tt.beforeEnd != nil {
				beforeEnd = func() error { return tt.beforeEnd }
			}
			reply, err := smtpSend(sc, "post@amt.example", tt.rcpt, msg, beforeEnd)
			cli.Close()
			<-served
			var te *textproto.Error
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.wantCode != 0:
				if !errors.As(err, &te) || te.Code != tt.wantCode {
					t.Errorf("err = %v, want the server's %d", err, tt.wantCode)
				}
			case err != nil || reply != tt.wantReply:
				t.Errorf("smtpSend = %q, %v; want %q", reply, err, tt.wantReply)
			}
			if got := strings.Join(tt.server.lines, " | "); got != tt.wantLines {
				t.Errorf("server read\n  %s\nwant\n  %s", got, tt.wantLines)
			}
		})
	}
}
