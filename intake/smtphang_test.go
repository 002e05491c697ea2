package intake_test

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/memmail"
)

// hangingSMTP is an SMTP server that takes a message and never answers the end of its
// DATA. dataEnd is closed when the message has been read, closed when the client closed
// or reset the connection.
type hangingSMTP struct {
	addr            string
	dataEnd, closed chan struct{}
}

func startHangingSMTP(t *testing.T) *hangingSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	h := &hangingSMTP{addr: ln.Addr().String(), dataEnd: make(chan struct{}), closed: make(chan struct{})}
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		say := func(s string) { conn.Write([]byte(s + "\r\n")) }
		say("220 hang.test ESMTP")
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				close(h.closed)
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case inData && line == ".":
				inData = false
				close(h.dataEnd) // and no answer, ever
			case inData:
			case strings.HasPrefix(strings.ToUpper(line), "EHLO"):
				say("250 hang.test")
			case strings.ToUpper(line) == "DATA":
				inData = true
				say("354 go ahead")
			default:
				say("250 ok")
			}
		}
	}()
	return h
}

// SIGTERM while the SMTP server never answers DATA (issue 9, finding 6): the grace period
// bounds the exit through a deadline on the connection. The per-command SMTP timeout is set
// far beyond the test's patience, so only the grace deadline can end the wait.
func TestShutdownWithSMTPHangingInData(t *testing.T) {
	h := startHangingSMTP(t)
	p := newPipe(t, memmail.Options{}, "", "")
	host, port, _ := net.SplitHostPort(h.addr)
	p.cfg.Mailboxes[0].SMTP.Host = host
	p.cfg.Mailboxes[0].SMTP.Port, _ = strconv.Atoi(port)
	p.opts.ShutdownGrace = 500 * time.Millisecond
	p.opts.SMTPTimeout = time.Hour
	p.start()
	p.deliver(citizen, "Return-Path: <"+citizen+">\r\n"+letter(citizen, "Antrag", "hang@example.test", "", "x"))
	waitChan(t, h.dataEnd, "the acknowledgement's DATA at the server")
	stopped := time.Now()
	p.stop() // fails the test when Run does not return
	t.Logf("daemon exited %v after the stop request (grace %v)", time.Since(stopped).Round(time.Millisecond), p.opts.ShutdownGrace)
	waitChan(t, h.closed, "the client to give the connection up")
}

// waitChan waits for ch to be closed; the timeout only keeps a broken test from hanging.
func waitChan(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(2 * time.Minute):
		t.Fatalf("timed out waiting for %s", what)
	}
}
