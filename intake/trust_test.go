package intake_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/intake/policy"
	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/ticket"
)

// Issue 8: limits that hold, and cases only the right people can write into, against the
// in-memory mail system. The office's MTA is "mx.test": an Authentication-Results field of
// that authserv-id in a test mail stands for what the MTA found.

// newTrustPipe is newPipe with the given [mailbox.policy] and mail users.
func newTrustPipe(t *testing.T, policy string, users ...string) *pipe {
	t.Helper()
	u := map[string]string{office: "pw", citizen: "pw"}
	for _, a := range users {
		u[a] = "pw"
	}
	sys, err := memmail.Start(memmail.Options{Users: u})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	ih, ip, _ := net.SplitHostPort(sys.IMAPAddr)
	sh, sp, _ := net.SplitHostPort(sys.SMTPAddr)
	text := fmt.Sprintf(`data_dir = %q
[office]
name = "Testamt"
privacy_url = "https://office.test/datenschutz"

[[mailbox]]
name = "post"
address = %q
prefix = "TST"

[mailbox.imap]
host = %q
port = %s
tls = "none"
username = %q
password = "pw"
keyword = "$Registriert"

[mailbox.smtp]
host = %q
port = %s
tls = "none"

[mailbox.policy]
authserv_id = "mx.test"
require_authenticated = false
%s
`, t.TempDir(), office, ih, ip, office, sh, sp, policy)
	p := newPipeFromConfig(t, text)
	p.sys = sys
	return p
}

// spfPass is the office MTA's verdict that envelope sender addr passed SPF.
func spfPass(addr string) string {
	return "Authentication-Results: mx.test; spf=pass smtp.mailfrom=" + addr + "\r\n"
}

// msgByID returns the registered message with Message-ID id and its case.
func msgByID(t *testing.T, p *pipe, id string) (ticket.Case, ticket.Message) {
	t.Helper()
	for _, c := range p.cases(ticket.Filter{}) {
		for _, m := range c.Messages {
			if m.MessageID == id {
				return c, m
			}
		}
	}
	t.Fatalf("no message %s registered", id)
	return ticket.Case{}, ticket.Message{}
}

// settled reports whether n mails are registered and no ack is pending.
func settled(p *pipe, n int) func() bool {
	return func() bool {
		if p.count() != n {
			return false
		}
		for _, c := range p.cases(ticket.Filter{}) {
			for _, m := range c.Messages {
				if m.Ack.Status == ticket.AckPending {
					return false
				}
			}
		}
		return true
	}
}

func TestFollowUpsOnlyFromTheCasesVerifiedSender(t *testing.T) {
	const mallory = "mallory@evil.test"
	p := newTrustPipe(t, "per_sender_limit = 0\nper_domain_limit = 0\nfollow_up_ack = false", mallory)
	p.start()
	p.deliver(citizen, letter("Bürger <"+citizen+">", "Antrag auf Akteneinsicht", "first@example.test", spfPass(citizen), "Bitte."))
	waitFor(t, 20*time.Second, "the citizen's ack", settled(p, 1))
	home, first := msgByID(t, p, "first@example.test")
	ref := home.Reference
	if first.VerifiedSender != citizen || first.VerifiedBy != "spf" || first.Ack.Status != ticket.AckSent {
		t.Fatalf("first mail: verified %q by %q, ack %+v", first.VerifiedSender, first.VerifiedBy, first.Ack)
	}
	ackID := first.Ack.MessageID
	// REF.SEQ.ack@host: the form of issue 8, guessable from the reference.
	guessed := fmt.Sprintf("%s.%d.ack@%s", ref, first.Seq, strings.SplitN(ackID, "@", 2)[1])

	tests := []struct {
		name, envelope, raw string
		join, link          bool
	}{
		{"(a) anyone with a guessed ack id", mallory,
			letter(mallory, "AW: Ihr Antrag", "a1@evil.test", spfPass(mallory)+"In-Reply-To: <"+guessed+">\r\n", "x"), false, false},
		{"(a) anyone with the real ack id (a forwarded ack)", mallory,
			letter(mallory, "AW: Ihr Antrag", "a2@evil.test", spfPass(mallory)+"In-Reply-To: <"+ackID+">\r\n", "x"), false, true},
		{"(a) anyone naming the citizen's own Message-ID", mallory,
			letter(mallory, "AW: Ihr Antrag", "a3@evil.test", "References: <first@example.test>\r\n", "x"), false, true},
		{"(b) envelope mallory, From the citizen, reference in the subject", mallory,
			letter("Bürger <"+citizen+">", "Nachtrag ["+ref.String()+"]", "b1@evil.test", "", "x"), false, true},
		{"(b) the same with a pass for mallory", mallory,
			letter("Bürger <"+citizen+">", "Nachtrag ["+ref.String()+"]", "b2@evil.test", spfPass(mallory), "x"), false, true},
		{"the citizen, not verified this time", citizen,
			letter(citizen, "AW: Antrag", "c0@example.test", "In-Reply-To: <"+ackID+">\r\n", "x"), false, true},
		{"(c) the citizen, verified, replying to the ack", citizen,
			letter(citizen, "AW: Antrag", "c1@example.test", spfPass(citizen)+"In-Reply-To: <"+ackID+">\r\n", "x"), true, false},
		{"(c) the citizen, verified, reference in the subject", citizen,
			letter(citizen, "Nachtrag "+strings.ToLower(ref.String()), "c2@example.test", spfPass(citizen), "x"), true, false},
	}
	for i, tt := range tests {
		p.deliver(tt.envelope, tt.raw)
		waitFor(t, 20*time.Second, tt.name, settled(p, i+2))
		id := tt.raw[strings.Index(tt.raw, "Message-ID: <")+13:]
		id = id[:strings.IndexByte(id, '>')]
		c, _ := msgByID(t, p, id)
		switch {
		case tt.join && c.Reference != ref:
			t.Errorf("%s: filed under %s, want the citizen's case %s", tt.name, c.Reference, ref)
		case !tt.join && c.Reference == ref:
			t.Errorf("%s: filed into the citizen's case %s", tt.name, ref)
		case !tt.join && tt.link && (len(c.Links) != 1 || c.Links[0] != ref):
			t.Errorf("%s: new case %s links %v, want [%s]", tt.name, c.Reference, c.Links, ref)
		case !tt.join && !tt.link && len(c.Links) != 0:
			t.Errorf("%s: new case %s links %v, want none", tt.name, c.Reference, c.Links)
		}
	}
	c, err := p.store.Lookup(ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Messages) != 3 {
		t.Errorf("the citizen's case holds %d messages, want 3 (first and the two verified follow-ups)", len(c.Messages))
	}
}

// TestVictimSubaddressesGetAtMostPerSenderLimit: issue 8 item 2, victim+1@, victim+2@ ...
func TestVictimSubaddressesGetAtMostPerSenderLimit(t *testing.T) {
	var victims []string
	for i := range 8 {
		victims = append(victims, fmt.Sprintf("victim+%d@example.test", i+1))
	}
	p := newTrustPipe(t, "per_sender_limit = 3\nper_domain_limit = 0", victims...)
	p.start()
	for i, v := range victims {
		p.deliver(v, letter("Finanzamt <mallory@evil.test>", "Ihre Erstattung", fmt.Sprintf("v%d@evil.test", i), "", "x"))
	}
	waitFor(t, 20*time.Second, "all registered, no ack pending", settled(p, len(victims)))
	sent, rate := 0, 0
	for _, c := range p.cases(ticket.Filter{}) {
		switch a := c.Messages[0].Ack; {
		case a.Status == ticket.AckSent:
			sent++
		case a.Status == ticket.AckSuppressed && a.Reason == ticket.ReasonRate:
			rate++
		default:
			t.Errorf("case %s: ack %+v", c.Reference, a)
		}
	}
	if sent != 3 || rate != len(victims)-3 {
		t.Errorf("%d acks sent and %d suppressed RATE, want 3 and %d", sent, rate, len(victims)-3)
	}
	if n := len(p.acks()); n != 3 {
		t.Errorf("the SMTP side got %d acks, want 3", n)
	}
}

// TestUnverifiedFloodDoesNotStopVerifiedAcks: issue 8 item 2, an attacker exhausting the
// unverified budget never stops the acknowledgement to a verified citizen.
func TestUnverifiedFloodDoesNotStopVerifiedAcks(t *testing.T) {
	var flood []string
	for i := range 8 {
		flood = append(flood, fmt.Sprintf("opfer%d@target%d.test", i, i))
	}
	p := newTrustPipe(t, "per_sender_limit = 0\nper_domain_limit = 0\nhourly_cap = 5\nunverified_hourly_cap = 2", flood...)
	d := p.start()
	for i, v := range flood {
		p.deliver(v, letter(v, "Hallo", fmt.Sprintf("f%d@evil.test", i), "", "x"))
	}
	p.deliver(citizen, letter(citizen, "Antrag", "citizen@example.test", spfPass(citizen), "x"))
	waitFor(t, 20*time.Second, "all registered, no ack pending", settled(p, len(flood)+1))

	sent, budget := 0, 0
	for _, c := range p.cases(ticket.Filter{}) {
		m := c.Messages[0]
		if m.MessageID == "citizen@example.test" {
			if m.Ack.Status != ticket.AckSent {
				t.Errorf("the verified citizen's ack: %+v, want sent", m.Ack)
			}
			continue
		}
		switch a := m.Ack; {
		case a.Status == ticket.AckSent:
			sent++
		case a.Status == ticket.AckSuppressed && a.Reason == ticket.ReasonRateUnverified:
			budget++
		default:
			t.Errorf("case %s: ack %+v", c.Reference, a)
		}
	}
	if sent != 2 || budget != len(flood)-2 {
		t.Errorf("flood: %d acks sent, %d suppressed RATE_UNVERIFIED; want 2 and %d", sent, budget, len(flood)-2)
	}
	srv := httptest.NewServer(d.AdminHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`intake_acks_suppressed_total{mailbox="post",reason="RATE_UNVERIFIED"} %d`, len(flood)-2)
	if !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q", want)
	}
}

// TestUnverifiedBacklogCannotUseUpTheHourlyCap: acknowledgements to unverified senders that
// became due together (a backlog received over several hours, each hour within its budget)
// are held at send time once their share of the hour is used, so hourly_cap does not trip
// and the verified citizen's acknowledgement behind them goes out.
func TestUnverifiedBacklogCannotUseUpTheHourlyCap(t *testing.T) {
	var backlog []string
	for i := range 6 {
		backlog = append(backlog, fmt.Sprintf("person%d@target%d.test", i, i))
	}
	p := newTrustPipe(t, "per_sender_limit = 0\nper_domain_limit = 0\nhourly_cap = 5\nunverified_hourly_cap = 2", backlog...)
	now := time.Now()
	for i, v := range backlog {
		raw := "Return-Path: <" + v + ">\r\n" + letter(v, "Hallo", fmt.Sprintf("b%d@example.test", i), "", "x")
		if err := p.sys.Append(office, "INBOX", []byte(raw), now.Add(-time.Duration(12-2*i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	raw := "Return-Path: <" + citizen + ">\r\n" + letter(citizen, "Antrag", "verified@example.test", spfPass(citizen), "x")
	if err := p.sys.Append(office, "INBOX", []byte(raw), now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	d := p.start()
	held := func() int {
		n := 0
		for _, c := range p.cases(ticket.Filter{}) {
			if a := c.Messages[0].Ack; a.Status == ticket.AckPending && strings.HasPrefix(a.Reply, "held:") {
				n++
			}
		}
		return n
	}
	waitFor(t, 20*time.Second, "3 acks sent and 4 held", func() bool { return sentAll(p, 3)() && held() == 4 })
	if _, m := msgByID(t, p, "verified@example.test"); m.Ack.Status != ticket.AckSent {
		t.Errorf("the verified citizen's ack: %+v, want sent", m.Ack)
	}
	sent := 0
	for _, c := range p.cases(ticket.Filter{}) {
		if c.Messages[0].Ack.Status == ticket.AckSent {
			sent++
		}
	}
	if sent != 3 {
		t.Errorf("%d acks sent, want 2 unverified + 1 verified", sent)
	}
	srv := httptest.NewServer(d.AdminHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`intake_acks_held_total{mailbox="post",reason="RATE_UNVERIFIED"} 4`,
		"intake_ack_hourly_cap_tripped 0",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestRateReasonsAreThePolicyCodes: the codes the register stores for its limits are the
// ones policy lists and explains.
func TestRateReasonsAreThePolicyCodes(t *testing.T) {
	for _, tc := range []struct {
		stored string
		code   policy.Reason
	}{
		{ticket.ReasonRate, policy.ReasonRate},
		{ticket.ReasonRateCase, policy.ReasonRateCase},
		{ticket.ReasonRateDomain, policy.ReasonRateDomain},
		{ticket.ReasonRateUnverified, policy.ReasonRateUnverified},
		{ticket.ReasonFollowUp, policy.ReasonFollowUp},
		{ticket.ReasonNoRecipient, policy.ReasonNoRecipient},
		{ticket.ReasonPurged, policy.ReasonPurged},
		{ticket.ReasonClerk, policy.ReasonClerk},
		{ticket.ReasonNoAck, policy.ReasonNoAck},
	} {
		if tc.stored != string(tc.code) {
			t.Errorf("ticket stores %q, policy lists %q", tc.stored, tc.code)
		}
		if de, _ := policy.Explain(tc.code); strings.Contains(de, string(tc.code)) {
			t.Errorf("policy.Explain(%s) has no explanation of its own: %q", tc.code, de)
		}
	}
}

// TestBounceNeedsTagAndFinalRecipient: a bounce attaches to the citizen's case only when
// the returned Message-ID carries a tag that verifies and the DSN names the ack's recipient.
func TestBounceNeedsTagAndFinalRecipient(t *testing.T) {
	p := newTrustPipe(t, "per_sender_limit = 0\nper_domain_limit = 0")
	p.start()
	p.deliver(citizen, letter(citizen, "Antrag", "first@example.test", "", "x"))
	waitFor(t, 20*time.Second, "the ack", settled(p, 1))
	home, first := msgByID(t, p, "first@example.test")
	ackID := first.Ack.MessageID
	tag := strings.Split(ackID, ".")[2]
	dsn := func(id, returned, finalRcpt string) string {
		return "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\nTo: " + office +
			"\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <" + id + ">\r\nAuto-Submitted: auto-replied\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
			"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\n" +
			"Final-Recipient: rfc822; " + finalRcpt + "\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" +
			"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <" + returned + ">\r\n\r\n--B--\r\n"
	}
	tests := []struct {
		name, id, returned, rcpt string
		attach                   bool
	}{
		{"altered tag", "d1@mx.example.test", strings.Replace(ackID, tag, strings.Repeat("a", len(tag)), 1), citizen, false},
		{"right tag, another final recipient", "d2@mx.example.test", ackID, "other@example.test", false},
		{"right tag and final recipient", "d3@mx.example.test", ackID, citizen, true},
	}
	for i, tt := range tests {
		p.deliver("", dsn(tt.id, tt.returned, tt.rcpt))
		waitFor(t, 20*time.Second, tt.name, settled(p, i+2))
		c, _ := msgByID(t, p, tt.id)
		_, ack := msgByID(t, p, "first@example.test")
		if got := c.Reference == home.Reference; got != tt.attach {
			t.Errorf("%s: attached to the citizen's case = %v, want %v", tt.name, got, tt.attach)
		}
		if got := ack.Ack.Status == ticket.AckBounced; got != tt.attach {
			t.Errorf("%s: ack %+v, bounced = %v, want %v", tt.name, ack.Ack, got, tt.attach)
		}
	}
}
