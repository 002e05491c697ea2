package intake_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/ticket"
)

// reusedIDMails are mails that share Message-IDs but differ in content (issue 9, finding 1),
// followed by byte-identical resends. Each must be registered on its own; the resends are
// duplicates. With max_message_size = 4 KB the "big" ones are over-size (registered from
// the header only) with equal headers and bodies of different size.
func reusedIDMails(to, from string) (mails []string, distinct int) {
	fixed := func(id, body string) string {
		return "Return-Path: <" + from + ">\r\nFrom: " + from + "\r\nTo: " + to + "\r\nSubject: Kontaktformular\r\n" +
			"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <" + id + ">\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
	}
	mails = []string{
		fixed("1@localhost", "Erste Anfrage"),
		fixed("1@localhost", "Zweite, ganz andere Anfrage"),
		fixed("@", "Dritte Anfrage"),
		fixed("@", "Vierte Anfrage"),
		fixed("big@localhost", strings.Repeat("x", 10000)),
		fixed("big@localhost", strings.Repeat("y", 12000)),
	}
	distinct = len(mails)
	// Byte-identical resends stay one registration each.
	mails = append(mails, mails[0], mails[4])
	return mails, distinct
}

// checkReused checks that every distinct mail has its own case and that the ones after the
// first of their Message-ID are marked as reusing it.
func checkReused(t *testing.T, cases []ticket.Case, distinct int) {
	t.Helper()
	if len(cases) != distinct {
		t.Fatalf("%d cases, want %d", len(cases), distinct)
	}
	reused := map[string]int{}
	for _, c := range cases {
		for _, m := range c.Messages {
			if m.MessageIDReused {
				reused[m.MessageID]++
			}
		}
	}
	want := map[string]int{"1@localhost": 1, "@": 1, "big@localhost": 1}
	for id, n := range want {
		if reused[id] != n {
			t.Errorf("%d mails with Message-ID %q marked as reused, want %d", reused[id], id, n)
		}
	}
}

func TestReusedMessageIDInProcess(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", `max_message_size = "4 KB"`)
	mails, distinct := reusedIDMails(office, citizen)
	for _, raw := range mails[:distinct] {
		if err := p.sys.Append(office, "INBOX", []byte(raw), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	d := p.start()
	waitFor(t, 20*time.Second, "the distinct mails registered", func() bool { return p.count() == distinct })
	waitFor(t, 20*time.Second, "their acks", sentAll(p, distinct))
	// The resends come while the daemon runs.
	for _, raw := range mails[distinct:] {
		if err := p.sys.Append(office, "INBOX", []byte(raw), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	waitWatermark(t, p, d, uint32(len(mails)))
	checkReused(t, p.cases(ticket.Filter{}), distinct)
	if n := len(p.acks()); n != distinct {
		t.Errorf("%d acks sent, want %d", n, distinct)
	}
}

func TestRealServersReusedMessageID(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	p := newPipeFromConfig(t, `max_message_size = "4 KB"`+"\n"+rig.IntakeConfig(t.TempDir(), rigOffice, "per_sender_limit = 0\nhourly_cap = 100000000"))
	ctx := context.Background()
	mails, distinct := reusedIDMails(rigOffice, "c01@example.test")
	for _, raw := range mails {
		if _, err := rig.Append(ctx, rigOffice, "INBOX", []byte(raw), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	d := p.start()
	waitWatermark(t, p, d, uint32(len(mails)))
	// Every mail gets the keyword once it has been handled (registered or recognised as
	// registered); then the register must hold one case per distinct mail.
	waitFor(t, 60*time.Second, "every mail marked", func() bool {
		msgs, err := rig.Fetch(ctx, rigOffice, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		marked := 0
		for _, m := range msgs {
			if slices.Contains(m.Flags, "$Registriert") {
				marked++
			}
		}
		return marked == len(mails)
	})
	checkReused(t, p.cases(ticket.Filter{}), distinct)
}

// waitWatermark waits until the daemon has handled (registered, or recognised as registered)
// every UID up to uid of the current UIDVALIDITY.
func waitWatermark(t *testing.T, p *pipe, d *intake.Daemon, uid uint32) {
	t.Helper()
	waitFor(t, 60*time.Second, "the watermark to reach every mail", func() bool {
		st := d.Status()[0]
		if st.UIDValidity == 0 {
			return false
		}
		wm, err := p.store.Watermark("post", st.UIDValidity)
		if err != nil {
			t.Fatal(err)
		}
		return wm >= uid
	})
}
