package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

// Issue 11, items 4 and 6: the case page shows the acknowledgement as sent (escaped, in a
// <pre>), the interim notice, and lets the clerk send it now or suppress it: a same-origin
// POST, audited; a cross-origin POST is refused.
func TestCaseInterimAndSentText(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true})
	reg, sent := registerSentAck(t, f, "Sehr geehrte Damen und Herren,\n<script>alert(1)</script>\n")
	ref := reg.Reference.String()
	c := f.loggedIn("erika")
	_, body := c.get("/cases/" + ref)
	for _, want := range []string{"Gesendeter Text", sent.Subject, "Sehr geehrte Damen und Herren,\n&lt;script&gt;alert(1)&lt;/script&gt;",
		"Zwischennachricht", "Zwischennachricht jetzt senden", "Keine Zwischennachricht senden"} {
		if !strings.Contains(body, want) {
			t.Errorf("case page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert(1)") {
		t.Errorf("the sent text is not escaped")
	}

	// Cross-origin: refused, nothing recorded.
	resp, b := c.post("/cases/"+ref+"/interim", url.Values{"action": {"send-now"}}, "Sec-Fetch-Site", "cross-site")
	wantStatus(t, resp, b, http.StatusForbidden)
	if in, _ := f.store.InterimOf(reg.Reference); in != nil {
		t.Fatalf("cross-origin POST recorded %+v", in)
	}
	resp, b = c.post("/cases/"+ref+"/interim", url.Values{"action": {"send-now"}})
	wantRedirect(t, resp, b, "/cases/"+ref+"?done=interim_send_now")
	in, _ := f.store.InterimOf(reg.Reference)
	if in == nil || in.Status != ticket.AckPending || in.By != "erika" {
		t.Fatalf("after send now: %+v", in)
	}
	// Twice is refused with a message, not an error page.
	resp, b = c.post("/cases/"+ref+"/interim", url.Values{"action": {"send-now"}})
	wantRedirect(t, resp, b, "/cases/"+ref+"?err=interim")
	resp, b = c.post("/cases/"+ref+"/interim", url.Values{"action": {"suppress"}})
	wantRedirect(t, resp, b, "/cases/"+ref+"?done=interim_suppress")
	_, body = c.get("/cases/" + ref + "?lang=en")
	for _, want := range []string{"Interim notice", "CLERK", "Send interim notice now"} {
		if !strings.Contains(body, want) {
			t.Errorf("English case page after suppress lacks %q", want)
		}
	}
	// An automated case has no interim notice, and no buttons for one.
	auto, err := f.store.Register(ticket.Incoming{Prefix: "STK", Location: time.UTC, Kind: ticket.KindAutomated,
		Message:        ticket.Message{Mailbox: "poststelle", UIDValidity: 1, UID: 2, From: "news@example.org", Subject: "Newsletter", Received: t0},
		SuppressReason: "LIST"})
	if err != nil {
		t.Fatal(err)
	}
	if _, body = c.get("/cases/" + auto.Reference.String()); strings.Contains(body, "Zwischennachricht") {
		t.Errorf("automated case shows an interim notice section")
	}
	resp, b = c.post("/cases/"+ref+"/interim", url.Values{"action": {"bogus"}})
	wantStatus(t, resp, b, http.StatusBadRequest)
	log, _, err := f.store.AuditLog(ticket.AuditFilter{Case: reg.Reference})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action)
	}
	joined := strings.Join(actions, " ")
	if !strings.Contains(joined, ticket.AuditInterimSendNow) || !strings.Contains(joined, ticket.AuditInterimSuppress) {
		t.Errorf("audit log = %v", actions)
	}
}

// GET /api/cases/{ref} carries what was sent, as "intake case show -json" does: each
// acknowledgement's subject and text, and the interim notice (issue 11's open point).
func TestAPICaseSentText(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true})
	reg, sent := registerSentAck(t, f, "Sehr geehrte Damen und Herren,\nIhre Nachricht ist eingegangen.\n")
	resp, body := f.client().get("/api/cases/"+reg.Reference.String(), "Authorization", "Bearer "+f.token("erika"))
	wantStatus(t, resp, body, http.StatusOK)
	var got struct {
		Reference string `json:"reference"`
		Messages  []struct {
			Ack struct {
				Status  string `json:"status"`
				Subject string `json:"subject"`
				Text    string `json:"text"`
			} `json:"ack"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 {
		t.Fatalf("%d messages: %s", len(got.Messages), body)
	}
	if a := got.Messages[0].Ack; a.Status != "sent" || a.Subject != sent.Subject || a.Text != sent.Text {
		t.Errorf("ack in the API: %+v, want the sent %+v", a, sent)
	}
}

// registerSentAck registers a citizen's mail to poststelle and records its
// acknowledgement as sent with text (and the minimal subject).
func registerSentAck(t *testing.T, f *fixture, text string) (ticket.Registration, ticket.SentText) {
	t.Helper()
	reg, err := f.store.Register(ticket.Incoming{Prefix: "STK", Location: time.UTC, AckDomain: "stk.example.de",
		Message: ticket.Message{Mailbox: "poststelle", UIDValidity: 1, UID: 1, From: "anna@example.org",
			Subject: "Antrag", Received: t0, RawSHA256: strings.Repeat("a", 64)},
		AckRecipient: "anna@example.org", AckEcho: ticket.EchoMinimal})
	if err != nil {
		t.Fatal(err)
	}
	sent := ticket.SentText{Subject: "Auto: Eingangsbestätigung – Vorgangsnummer [" + reg.Reference.String() + "]", Text: text}
	if err := f.store.RecordAck(reg.Seq, ticket.AckResult{Status: ticket.AckSent, Reply: "250 ok", At: t0, Sent: &sent}); err != nil {
		t.Fatal(err)
	}
	return reg, sent
}
