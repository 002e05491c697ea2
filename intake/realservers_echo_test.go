package intake_test

import (
	"context"
	"mime"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/ticket"
)

// Issue 8, finding 1, black-box against real Postfix and Dovecot with the default policy
// (no authserv_id): the attacker submits the phishing mail with the victim as envelope
// sender; the acknowledgement is read from the victim's real inbox and repeats nothing of
// the attacker's text.
func TestRealServersPhishingRelay(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	p := newRigPipe(t, rig, "")
	p.start()
	ctx := context.Background()
	const victim = "c07@example.test"
	if err := rig.Send(ctx, victim, []string{rigOffice}, []byte(phishingMail(t, rigOffice, "phish-real@example.test", ""))); err != nil {
		t.Fatalf("send: %v\n%s", err, rig.Logs())
	}
	if err := rig.WaitCount(ctx, victim, "INBOX", 1); err != nil {
		t.Fatalf("victim inbox: %v\n%s", err, rig.Logs())
	}
	waitFor(t, 30*time.Second, "the ack to be recorded as sent", sentAll(p, 1))
	msgs, err := rig.Fetch(ctx, victim, "INBOX")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("victim inbox: %d messages, %v", len(msgs), err)
	}
	c := p.cases(ticket.Filter{})[0]
	if len(c.Messages[0].Attachments) == 0 || !strings.Contains(c.Messages[0].Subject, "Steuererstattung") {
		t.Fatalf("the register lost the mail's data (the clerk must still see it): %+v", c.Messages[0])
	}
	subject, visible := sentText(t, msgs[0].Raw)
	for _, mark := range phishingMarks {
		if strings.Contains(visible, mark) {
			t.Errorf("the acknowledgement in the victim's inbox repeats %q:\n%s", mark, visible)
		}
	}
	ref := c.Reference.String()
	if want := "Auto: Eingangsbestätigung – Vorgangsnummer [" + ref + "]"; subject != want {
		t.Errorf("subject = %q, want %q", subject, want)
	}
	if raw := string(msgs[0].Raw); strings.Contains(raw, mime.QEncoding.Encode("utf-8", phishSubject)[:30]) {
		t.Errorf("the raw acknowledgement carries the encoded phishing subject")
	}
	if !strings.Contains(visible, "Ihre Nachricht vom ") || !strings.Contains(visible, ref) {
		t.Errorf("the acknowledgement lacks the office's text or the reference:\n%s", visible)
	}
}
