package intake_test

import (
	"testing"
	"time"

	"github.com/intake-office/intake/internal/memmail"
)

// Acknowledgements of bursts that follow each other within the keep-open time share one
// SMTP connection: a drain's acks come in bursts milliseconds apart, and each new
// connection cost a TLS handshake and AUTH (issue 12). The keep-open time is set far
// above the test's own duration, so that a slow machine cannot make it fail.
func TestAckBurstsShareOneConnection(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	p.opts.SMTPKeepOpen = time.Hour
	p.start()
	const bursts = 3
	for i := range bursts {
		raw := letter(citizen, "Antrag", "keep-"+string(rune('a'+i))+"@example.test", "", "Text")
		if err := p.sys.Append(office, "INBOX", []byte(raw), time.Now()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the burst's ack", func() bool { return len(p.acks()) == i+1 })
	}
	if n := p.sys.SMTPSessions(); n != 1 {
		t.Errorf("%d bursts used %d SMTP connections, want 1", bursts, n)
	}
}
