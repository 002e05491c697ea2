package intake_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/ticket"
)

// Issue 11, item 4, end to end with real Postfix and Dovecot: a citizen's case stays open
// past the handling time (the daemon's clock is moved on by four weeks once the ack is
// sent); the interim notice is read from the citizen's real inbox, recorded on the case
// with the text sent, and a restart sends no second one.
func TestRealServersInterimNotice(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: rigUsers()})
	p := newRigPipe(t, rig, "per_sender_limit = 0\nhourly_cap = 100000000\n\n[mailbox.interim]\nafter = \"4w\"")
	var offset atomic.Int64
	p.opts.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	p.opts.InterimPoll = 20 * time.Millisecond
	d := p.start()
	ctx := context.Background()
	const citizen = "c03@example.test"

	if err := rig.Send(ctx, citizen, []string{rigOffice}, []byte(letterTo(rigOffice, citizen, "Antrag auf Wohngeld", "wg-1@example.test", "", "Guten Tag"))); err != nil {
		t.Fatalf("send: %v\n%s", err, rig.Logs())
	}
	waitFor(t, 30*time.Second, "the ack to be sent", sentAll(p, 1))
	if err := rig.WaitCount(ctx, citizen, "INBOX", 1); err != nil {
		t.Fatalf("ack in inbox: %v\n%s", err, rig.Logs())
	}
	ref := p.cases(ticket.Filter{})[0].Reference
	if in, err := p.store.InterimOf(ref); err != nil || in != nil {
		t.Fatalf("notice before the handling time: %+v, %v", in, err)
	}

	offset.Store(int64(4*7*24*time.Hour + time.Minute))
	waitFor(t, 30*time.Second, "the interim notice to be recorded as sent", func() bool {
		in, err := p.store.InterimOf(ref)
		return err == nil && in != nil && in.Status == ticket.AckSent
	})
	if err := rig.WaitCount(ctx, citizen, "INBOX", 2); err != nil {
		t.Fatalf("notice in inbox: %v\n%s", err, rig.Logs())
	}
	srv := httptest.NewServer(d.AdminHandler())
	_, metrics := get(t, srv, "/metrics")
	srv.Close()
	if got := grepLines(metrics, "intake_interim_"); !strings.Contains(got, `intake_interim_sent_total{mailbox="post"} 1`) ||
		!strings.Contains(got, `intake_interim_failed_total{mailbox="post"} 0`) {
		t.Errorf("/metrics on interim notices:\n%s", got)
	}
	var notices []string
	for _, m := range rigAcks(t, rig, citizen) {
		if m.Header.Get("Auto-Submitted") == "auto-generated" {
			notices = append(notices, m.Header.Get("Message-Id"))
		}
	}
	if len(notices) != 1 {
		t.Fatalf("%d interim notices in the inbox, want 1", len(notices))
	}
	msgs, err := rig.Fetch(ctx, citizen, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var subject, visible string
	var noticeRaw []byte
	for _, m := range msgs {
		if strings.Contains(string(m.Raw), "Auto-Submitted: auto-generated") {
			subject, visible = sentText(t, m.Raw)
			noticeRaw = m.Raw
		}
	}
	if !strings.HasPrefix(subject, "Zwischennachricht ["+ref.String()+"]") {
		t.Errorf("notice subject = %q", subject)
	}
	// The sender was not verified: the minimal kind, no subject of his.
	if strings.Contains(subject+visible, "Wohngeld") {
		t.Errorf("the notice after a minimal ack repeats the sender's subject:\n%s\n%s", subject, visible)
	}
	if !strings.Contains(visible, "vier Wochen") {
		t.Errorf("the notice does not name the handling time:\n%s", visible)
	}
	in, _ := p.store.InterimOf(ref)
	if in.Recipient != citizen || !strings.HasPrefix(in.Reply, "250 ") || "<"+in.MessageID+">" != notices[0] {
		t.Errorf("notice record = %+v (inbox Message-ID %s)", in, notices[0])
	}
	st, err := p.store.SentInterim(ref)
	if err != nil || st == nil || st.Subject != subject || !strings.Contains(st.Text, ref.String()) {
		t.Errorf("stored text = %+v, %v; want the subject %q", st, err, subject)
	}
	ack, err := p.store.SentAck(p.cases(ticket.Filter{})[0].Messages[0].Seq)
	if err != nil || ack == nil || !strings.Contains(ack.Subject, ref.String()) {
		t.Errorf("stored ack text = %+v, %v", ack, err)
	}

	// The citizen's provider bounces the notice later (RFC 3464): recorded on the notice.
	hdrEnd := strings.Index(string(noticeRaw), "\r\n\r\n")
	dsn := "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\nTo: " + rigOffice +
		"\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-interim@mx.example.test>\r\nAuto-Submitted: auto-replied\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\n" +
		"Final-Recipient: rfc822; " + citizen + "\r\nAction: failed\r\nStatus: 5.2.2\r\nDiagnostic-Code: smtp; 552 5.2.2 mailbox full\r\n\r\n" +
		"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n" + string(noticeRaw[:hdrEnd]) + "\r\n\r\n--B--\r\n"
	rigSend(t, rig, "", dsn)
	waitFor(t, 30*time.Second, "the interim notice to be marked bounced", func() bool {
		in, err := p.store.InterimOf(ref)
		return err == nil && in != nil && in.Status == ticket.AckBounced && in.Bounce == "5.2.2"
	})
	if c, err := p.store.Lookup(ref); err != nil || len(c.Messages) != 2 {
		t.Errorf("the bounce of the notice is not attached to its case: %v", err)
	}

	// Restart; then a second citizen's letter is acknowledged (the runner has run again):
	// still one notice for the first case, none for the new one.
	// The clock goes back so that the new letter is not too old for an ack (max_age).
	p.stop()
	offset.Store(0)
	p.start()
	const other = "c04@example.test"
	if err := rig.Send(ctx, other, []string{rigOffice}, []byte(letterTo(rigOffice, other, "Frage", "q-1@example.test", "", "Hallo"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the second ack", sentAll(p, 2))
	if err := rig.WaitCount(ctx, other, "INBOX", 1); err != nil {
		t.Fatal(err)
	}
	if n := len(rigAcks(t, rig, citizen)); n != 2 {
		t.Errorf("citizen has %d mails from intake after the restart, want 2 (ack and one notice)", n)
	}
}
