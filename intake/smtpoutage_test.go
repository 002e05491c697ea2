package intake_test

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/ticket"
)

// switchProxy forwards TCP connections to target while up; while down it closes each
// connection at once (an SMTP server that is away).
type switchProxy struct {
	addr string
	up   atomic.Bool
}

func startSwitchProxy(t *testing.T, target string) *switchProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	p := &switchProxy{addr: ln.Addr().String()}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.up.Load() {
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(s, c); s.Close() }()
			go func() { defer wg.Done(); io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

// Acks held back after an SMTP outage (issue 9, finding 4): once the SMTP side is back, the
// responder's next attempt connects and the whole outbox goes out at once, not each entry
// at its own retry time (set to an hour here, so only the flush can send them).
func TestSMTPOutageFlushesOutbox(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	proxy := startSwitchProxy(t, p.sys.SMTPAddr)
	host, port, _ := net.SplitHostPort(proxy.addr)
	p.cfg.Mailboxes[0].SMTP.Host = host
	p.cfg.Mailboxes[0].SMTP.Port, _ = strconv.Atoi(port)
	p.opts.RetryBackoff = []time.Duration{time.Hour}
	p.start()
	const n = 20
	for i := range n {
		p.deliver(citizen, "Return-Path: <"+citizen+">\r\n"+letter(citizen, fmt.Sprintf("Antrag %d", i), fmt.Sprintf("out-%d@example.test", i), "", "x"))
	}
	waitFor(t, 30*time.Second, "every ack deferred by the outage", func() bool {
		deferred := 0
		for _, c := range p.cases(ticket.Filter{}) {
			if a := c.Messages[0].Ack; a.Status == ticket.AckPending && a.Attempts > 0 {
				deferred++
			}
		}
		return deferred == n
	})
	proxy.up.Store(true)
	up := time.Now()
	waitFor(t, 60*time.Second, "every ack sent after the SMTP side is back", sentAll(p, n))
	t.Logf("all %d acks sent %v after the SMTP side was back", n, time.Since(up).Round(time.Millisecond))
	if got := len(p.acks()); got != n {
		t.Errorf("%d acks delivered, want %d", got, n)
	}
}
