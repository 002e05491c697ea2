package intake_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/mailrig"
)

// A folder deleted and recreated while the daemon idles on it (issue 9, finding 2): Dovecot
// tells an idling client nothing, so the daemon must find out by itself, in seconds, and
// register a mail appended to the new folder. The time from the append to the registration
// is logged (measured, not asserted: the bound is the event, with a generous timeout).
func TestRealServersFolderRecreatedWhileIdle(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	ctx := context.Background()
	const folder = "Eingang"
	mail := func(n int) []byte {
		return []byte("Return-Path: <c01@example.test>\r\n" + letterTo(rigOffice, "c01@example.test",
			fmt.Sprintf("Brief %d", n), fmt.Sprintf("recreate-%d@example.test", n), "", "x"))
	}
	if _, err := rig.Append(ctx, rigOffice, folder, mail(1), time.Now()); err != nil {
		t.Fatal(err)
	}
	text := rig.IntakeConfig(t.TempDir(), rigOffice, "per_sender_limit = 0\nhourly_cap = 100000000")
	text = strings.Replace(text, `keyword = "$Registriert"`, `keyword = "$Registriert"`+"\nfolder = \""+folder+"\"", 1)
	p := newPipeFromConfig(t, text)
	d := p.start()
	waitFor(t, 30*time.Second, "the first registration", func() bool { return p.count() == 1 })
	// Idle: the watcher has drained the folder and waits.
	waitFor(t, 30*time.Second, "the watcher to idle", func() bool { return d.Status()[0].Connected })

	c, err := rig.Dial(rigOffice)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Delete(folder).Wait(); err != nil {
		t.Fatalf("delete %s: %v", folder, err)
	}
	if err := c.Create(folder, nil).Wait(); err != nil {
		t.Fatalf("create %s: %v", folder, err)
	}
	start := time.Now()
	if _, err := rig.Append(ctx, rigOffice, folder, mail(2), time.Now()); err != nil {
		t.Fatal(err)
	}
	// The production default check interval applies (the test sets no Watchdog).
	waitFor(t, 3*time.Minute, "the registration of the mail in the recreated folder", func() bool { return p.count() == 2 })
	t.Logf("folder recreated: mail registered %v after the append", time.Since(start).Round(time.Millisecond))
}
