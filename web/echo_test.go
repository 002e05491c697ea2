package web

import (
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

// Issue 8: the clerk's case view shows which kind of acknowledgement was sent and why.
func TestCaseShowsAckKind(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true})
	register := func(uid uint32, kind, reason string) string {
		t.Helper()
		reg, err := f.store.Register(ticket.Incoming{Prefix: "STK", Location: time.UTC, AckDomain: "stk.example.de",
			Message: ticket.Message{Mailbox: "poststelle", UIDValidity: 1, UID: uid, From: "anna@example.org",
				Subject: "Antrag", Received: t0, RawSHA256: strings.Repeat("a", 63) + string(rune('0'+uid))},
			AckRecipient: "anna@example.org", AckEcho: kind, AckEchoReason: reason})
		if err != nil {
			t.Fatal(err)
		}
		return reg.Reference.String()
	}
	minimal := register(1, ticket.EchoMinimal, "sender not verified")
	full := register(2, ticket.EchoFull, "sender verified by dkim")
	c := f.loggedIn("erika")
	for _, tc := range []struct {
		ref, lang string
		want      []string
	}{
		{minimal, "de", []string{"Art der Bestätigung", "kurz (ohne Text des Absenders)", "sender not verified"}},
		{full, "de", []string{"vollständig (mit Betreff und Anhängen des Absenders)", "sender verified by dkim"}},
		{minimal, "en", []string{"Kind of acknowledgement", "short (no text of the sender)"}},
	} {
		_, body := c.get("/cases/" + tc.ref + "?lang=" + tc.lang)
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s (%s): case page lacks %q", tc.ref, tc.lang, w)
			}
		}
	}
}
