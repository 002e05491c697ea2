package intake_test

import (
	"bytes"
	"context"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/ticket"
)

// folderCount returns the number of mails in a folder of the office
// mailbox on the in-memory system; a folder that does not exist has none.
func folderCount(t *testing.T, addr, folder string) int {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(office, "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		return 0
	}
	return int(sel.NumMessages)
}

// roundtripDelivery returns the single test mail the SMTP side accepted.
func roundtripDelivery(t *testing.T, sys *memmail.System) *mail.Message {
	t.Helper()
	var found []*mail.Message
	for _, d := range sys.Deliveries() {
		m, err := mail.ReadMessage(bytes.NewReader(d.Data))
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(intake.RoundtripHeader) != "" {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d roundtrip mails sent, want 1", len(found))
	}
	return found[0]
}

func TestRoundtripMemServer(t *testing.T) {
	tests := []struct {
		name     string
		sys      memmail.Options
		want     []string // substrings of Detail
		leftOver int      // mails left in INBOX afterwards
	}{
		{"uidplus removes the mail", memmail.Options{}, []string{"sent via 127.0.0.1:", "arrived in INBOX after ", " s, removed"}, 0},
		{"without uidplus the mail stays", memmail.Options{NoIdle: true}, []string{"arrived in INBOX after ", "left in place", "no UIDPLUS"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipe(t, tc.sys, "", "")
			r := intake.Roundtrip(context.Background(), p.cfg, p.cfg.Mailboxes[0], intake.RoundtripOptions{Timeout: 10 * time.Second, InstanceID: "check-host"})
			if !r.OK {
				t.Fatalf("roundtrip failed: %+v", r)
			}
			if r.Check != "roundtrip" || r.Mailbox != "post" {
				t.Errorf("result names %q %q", r.Mailbox, r.Check)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Detail, w) {
					t.Errorf("detail %q lacks %q", r.Detail, w)
				}
			}
			if n := folderCount(t, p.sys.IMAPAddr, "INBOX"); n != tc.leftOver {
				t.Errorf("%d mails in INBOX afterwards, want %d", n, tc.leftOver)
			}
			m := roundtripDelivery(t, p.sys)
			subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			if err != nil || subj != intake.RoundtripSubject {
				t.Errorf("subject %q (%v)", subj, err)
			}
			if got := m.Header.Get(intake.LoopHeader); got != "check-host" {
				t.Errorf("loop header %q, want check-host", got)
			}
			if tok := m.Header.Get(intake.RoundtripHeader); len(tok) < 16 {
				t.Errorf("token %q too short", tok)
			}
			if id := m.Header.Get("Message-ID"); !strings.HasSuffix(id, "@intake.office.test>") {
				t.Errorf("Message-ID %q not in the ack domain", id)
			}
			if to := m.Header.Get("To"); !strings.Contains(to, office) {
				t.Errorf("To %q", to)
			}
		})
	}
}

func TestRoundtripTokensAreUnique(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	for range 2 {
		if r := intake.Roundtrip(context.Background(), p.cfg, p.cfg.Mailboxes[0], intake.RoundtripOptions{Timeout: 10 * time.Second}); !r.OK {
			t.Fatalf("roundtrip failed: %+v", r)
		}
	}
	seen := map[string]bool{}
	for _, d := range p.sys.Deliveries() {
		m, err := mail.ReadMessage(bytes.NewReader(d.Data))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{intake.RoundtripHeader, "Message-ID"} {
			v := k + ":" + m.Header.Get(k)
			if seen[v] {
				t.Errorf("%s repeated", v)
			}
			seen[v] = true
		}
	}
	if len(seen) != 4 {
		t.Errorf("%d distinct values, want 4", len(seen))
	}
}

func TestRoundtripFailures(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(mb *config.Mailbox)
		want   []string
		sent   int
	}{
		{"smtp port closed", func(mb *config.Mailbox) { mb.SMTP.Port = 1 }, []string{"send via 127.0.0.1:1:"}, 0},
		{"imap password wrong", func(mb *config.Mailbox) { mb.IMAP.Secret = config.Secret{Password: "wrong"} }, []string{"watch folder", "login"}, 0},
		{"folder missing", func(mb *config.Mailbox) { mb.IMAP.Folder = "Nirgendwo" }, []string{`select folder "Nirgendwo"`}, 0},
		// IMAP watches another user's INBOX while SMTP delivers to the office.
		{"mail never arrives", func(mb *config.Mailbox) { mb.IMAP.Username = "other@example.test" }, []string{"did not arrive", `"INBOX"`, "within 1.5s"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipe(t, memmail.Options{}, "", "")
			mb := p.cfg.Mailboxes[0]
			tc.mutate(&mb)
			start := time.Now()
			r := intake.Roundtrip(context.Background(), p.cfg, mb, intake.RoundtripOptions{Timeout: 1500 * time.Millisecond})
			if r.OK {
				t.Fatalf("roundtrip succeeded: %+v", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Detail, w) {
					t.Errorf("detail %q lacks %q", r.Detail, w)
				}
			}
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("failure took %s", el)
			}
			if n := len(p.sys.Deliveries()); n != tc.sent {
				t.Errorf("%d mails sent, want %d", n, tc.sent)
			}
		})
	}
}

// TestRoundtripWithRunningDaemon runs the check while the daemon follows
// the mailbox and moves registered mail to "Erledigt": the test mail is
// found wherever it is, removed, and never acknowledged; if the daemon
// registered it first, its acknowledgement is suppressed for OWN_LOOP.
func TestRoundtripWithRunningDaemon(t *testing.T) {
	p := newPipe(t, memmail.Options{}, `move_to = "Erledigt"`, "")
	p.start()
	r := intake.Roundtrip(context.Background(), p.cfg, p.cfg.Mailboxes[0], intake.RoundtripOptions{Timeout: 10 * time.Second, InstanceID: "test-instance"})
	if !r.OK || !strings.HasSuffix(r.Detail, ", removed") {
		t.Fatalf("roundtrip: %+v", r)
	}
	t.Log(r.Detail)
	time.Sleep(300 * time.Millisecond)
	p.stop()
	for _, f := range []string{"INBOX", "Erledigt"} {
		if n := folderCount(t, p.sys.IMAPAddr, f); n != 0 {
			t.Errorf("%d mails left in %s", n, f)
		}
	}
	if a := p.acks(); len(a) != 1 { // the test mail itself carries the loop header
		t.Errorf("%d mails with a loop header sent, want only the test mail", len(a))
	}
	for _, c := range p.cases(ticket.Filter{}) {
		m := c.Messages[0]
		if m.Ack.Status != ticket.AckSuppressed || m.Ack.Reason != "OWN_LOOP" || m.Subject != intake.RoundtripSubject {
			t.Errorf("test mail %q registered with ack %s %s", m.Subject, m.Ack.Status, m.Ack.Reason)
		}
		t.Logf("registered as %s, kind %s, ack %s %s", c.Reference, c.Kind, m.Ack.Status, m.Ack.Reason)
	}
}

func TestRoundtripRealServers(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	cfg, err := config.Parse([]byte(rig.IntakeConfig(t.TempDir(), rigOffice, "")), "rig.toml")
	if err != nil {
		t.Fatal(err)
	}
	r := intake.Roundtrip(context.Background(), cfg, cfg.Mailboxes[0], intake.RoundtripOptions{Timeout: time.Minute})
	if !r.OK {
		t.Fatalf("roundtrip failed: %+v\n%s", r, rig.Logs())
	}
	for _, w := range []string{"sent via 127.0.0.1:", "arrived in INBOX after ", ", removed"} {
		if !strings.Contains(r.Detail, w) {
			t.Errorf("detail %q lacks %q", r.Detail, w)
		}
	}
	t.Log(r.Detail)
	msgs, err := rig.Fetch(context.Background(), rigOffice, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if bytes.Contains(m.Raw, []byte(intake.RoundtripHeader+":")) {
			t.Errorf("test mail uid %d still in INBOX", m.UID)
		}
	}
}
