package intake_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/ticket"
)

const second = "other@example.test"

// withSecond returns cfg with a second mailbox "second" for other@example.test.
func withSecond(cfg *config.Config) *config.Config {
	nc := *cfg
	mb := cfg.Mailboxes[0]
	mb.Name, mb.Address, mb.Prefix = "second", second, "SEC"
	mb.IMAP.Username = second
	nc.Mailboxes = append(slices.Clone(cfg.Mailboxes), mb)
	return &nc
}

func appendMail(t *testing.T, sys *memmail.System, user, subject, msgID string) {
	t.Helper()
	if err := appendLetter(sys, user, subject, msgID); err != nil {
		t.Fatal(err)
	}
}

// appendLetter is appendMail for goroutines, which must not call t.Fatal.
func appendLetter(sys *memmail.System, user, subject, msgID string) error {
	raw := "Return-Path: <" + citizen + ">\r\n" + letter(citizen, subject, msgID, "", "Text")
	if err := sys.Append(user, "INBOX", []byte(raw), time.Now()); err != nil {
		return fmt.Errorf("append %s: %w", msgID, err)
	}
	return nil
}

func statusOf(d *intake.Daemon, name string) (intake.MailboxStatus, bool) {
	for _, s := range d.Status() {
		if s.Name == name {
			return s, true
		}
	}
	return intake.MailboxStatus{}, false
}

func countIn(p *pipe, mailbox string) int {
	return len(p.cases(ticket.Filter{Mailbox: mailbox}))
}

func TestReloadAddsMailboxUnderLoad(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	d := p.start()
	waitFor(t, 10*time.Second, "post connected", func() bool { s, _ := statusOf(d, "post"); return s.Connected })

	// The first mailbox must stay connected through the reload.
	var dropped atomic.Bool
	stopWatch := make(chan struct{})
	var wg sync.WaitGroup
	// The goroutines end before the test does, also when it fails early.
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { close(stopWatch) }); wg.Wait() }
	defer stop()
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopWatch:
				return
			default:
			}
			if s, ok := statusOf(d, "post"); !ok || !s.Connected {
				dropped.Store(true)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	const n = 80
	go func() {
		defer wg.Done()
		for i := range n {
			select {
			case <-stopWatch:
				return
			default:
			}
			if err := appendLetter(p.sys, office, fmt.Sprintf("Brief %d", i), fmt.Sprintf("load-%d@example.test", i)); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(5 * time.Millisecond) // pacing: the load goes on during the reload
		}
	}()
	waitFor(t, 10*time.Second, "some registered", func() bool { return countIn(p, "post") >= 20 })
	before := countIn(p, "post")
	if err := d.Reload(withSecond(p.cfg)); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if before >= n {
		t.Fatalf("the load was over before the reload (%d registered); the test proves nothing", before)
	}
	for i := range 10 {
		appendMail(t, p.sys, second, fmt.Sprintf("Zweit %d", i), fmt.Sprintf("second-%d@example.test", i))
	}
	waitFor(t, 20*time.Second, "all registered in both mailboxes", func() bool {
		return countIn(p, "post") == n && countIn(p, "second") == 10
	})
	stop()
	if dropped.Load() {
		t.Error("the unchanged mailbox was interrupted (not connected) during the reload")
	}
	checkGapless(t, p.cases(ticket.Filter{Mailbox: "post"}), n)
	checkGapless(t, p.cases(ticket.Filter{Mailbox: "second"}), 10)
	for _, c := range p.cases(ticket.Filter{Mailbox: "second"}) {
		if c.Reference.Prefix != "SEC" {
			t.Errorf("case %s of the new mailbox has prefix %q, want SEC", c.Reference, c.Reference.Prefix)
		}
	}
	if got := p.count(); got != n+10 {
		t.Errorf("%d messages in the register, want %d (none doubled)", got, n+10)
	}
	if s, ok := statusOf(d, "second"); !ok || s.Registered != 10 {
		t.Errorf("Status of second = %+v (present %v), want 10 registered", s, ok)
	}
}

func TestReloadRemovesMailbox(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	p.cfg = withSecond(p.cfg)
	d := p.start()
	waitFor(t, 10*time.Second, "both connected", func() bool {
		a, _ := statusOf(d, "post")
		b, _ := statusOf(d, "second")
		return a.Connected && b.Connected
	})
	appendMail(t, p.sys, second, "vorher", "before@example.test")
	waitFor(t, 10*time.Second, "second registers", func() bool { return countIn(p, "second") == 1 })

	one := *p.cfg
	one.Mailboxes = p.cfg.Mailboxes[:1]
	if err := d.Reload(&one); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if _, ok := statusOf(d, "second"); ok {
		t.Error("the removed mailbox is still in Status()")
	}
	// Reload returns only after the removed mailbox's watcher has ended
	// (it waits for the run to be done), so nothing can register the mail
	// appended to it now; the office mail registered after it shows that
	// the daemon went on working meanwhile.
	appendMail(t, p.sys, second, "nachher", "after@example.test")
	appendMail(t, p.sys, office, "weiter", "goes-on@example.test")
	waitFor(t, 10*time.Second, "post goes on", func() bool { return countIn(p, "post") == 1 })
	if n := countIn(p, "second"); n != 1 {
		t.Errorf("the removed mailbox registered %d mails, want 1 (its watcher should have stopped)", n)
	}
	if s, _ := statusOf(d, "post"); !s.Connected {
		t.Errorf("post not connected after the reload: %+v", s)
	}
}

func TestReloadRefusesChangedDataDir(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	d := p.start()
	tests := []struct {
		name   string
		change func(c *config.Config)
	}{
		{"data_dir", func(c *config.Config) { c.DataDir = t.TempDir() }},
		{"timezone", func(c *config.Config) { c.Timezone = "UTC" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc := withSecond(p.cfg)
			tc.change(nc)
			err := d.Reload(nc)
			if err == nil {
				t.Fatal("Reload accepted a changed " + tc.name)
			}
			if len(d.Status()) != 1 {
				t.Errorf("Status() has %d mailboxes after a refused reload, want 1", len(d.Status()))
			}
		})
	}
}

func TestReloadInvalidConfigThroughLocalAPI(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	path := filepath.Join(t.TempDir(), "intake.toml")
	if err := os.WriteFile(path, []byte("data_dir = \"/x\"\n\n[[mailbox]]\nname = \"post\"\nprefix = \"lower\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.opts.ConfigPath = path
	d := p.start()
	var c *intake.LocalClient
	waitFor(t, 5*time.Second, "local API", func() bool {
		var err error
		c, err = intake.DialLocal(intake.SocketPath(p.cfg.DataDir))
		return err == nil
	})
	res, problems, err := c.Reload()
	if err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if len(problems) == 0 {
		t.Fatalf("invalid config accepted: %+v", res)
	}
	for _, pr := range problems {
		if len(pr) < len(path) || pr[:len(path)] != path {
			t.Errorf("problem %q does not start with the file name", pr)
		}
	}
	t.Logf("problems: %q", problems)
	if st := d.Status(); len(st) != 1 || st[0].Name != "post" {
		t.Errorf("Status() after a refused reload = %+v", st)
	}
	appendMail(t, p.sys, office, "danach", "after-refused@example.test")
	waitFor(t, 10*time.Second, "the running config goes on", func() bool { return countIn(p, "post") == 1 })
}
