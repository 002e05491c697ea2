package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/ticket"
)

// The clerk's day in the demo (issue 11, item 10): besides the sample letters, one letter
// arrived before the demo's short handling time (demoInterimAfter), so its case is overdue
// and gets the interim notice; and the guide prints, decoded, the acknowledgement of each
// letter the user sends and the interim notice, as they were sent.

// demoInterimAfter is the handling time of the demo mailbox ([mailbox.interim] after).
const demoInterimAfter = 10 * time.Minute

// sampleDomain is the Message-ID domain of the letters the demo itself delivers.
const sampleDomain = "@buerger.intake.test"

// seedOverdue appends a citizen's letter to the office INBOX with an INTERNALDATE beyond
// the handling time: the watcher registers it, it is acknowledged, and the interim
// notice follows.
func seedOverdue(sys *memmail.System, now time.Time) error {
	received := now.Add(-demoInterimAfter - 5*time.Minute)
	raw := "From: Erika Mustermann <" + Citizen + ">\r\nTo: Poststelle <" + Office + ">\r\n" +
		"Subject: Widerspruch gegen den Gebührenbescheid\r\nDate: " + received.Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <demo-overdue" + sampleDomain + ">\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"Sehr geehrte Damen und Herren,\r\n\r\nhiermit lege ich Widerspruch ein.\r\n"
	if err := sys.Append(Office, "INBOX", []byte(raw), received); err != nil {
		return fmt.Errorf("seed the overdue letter: %w", err)
	}
	return nil
}

// printDayGuide adds the clerk's day to the guide.
func printDayGuide(out io.Writer) {
	fmt.Fprintf(out, `
Ein Brief ist schon länger als die Bearbeitungsfrist der Demo (%[1]s) offen: sein
Vorgang bekommt die Zwischennachricht. Sie und die Eingangsbestätigung jedes Briefes,
den Sie senden, erscheinen hier, wie sie gesendet wurden; im Vorgang (Weboberfläche,
"case show") ebenso.
One letter has been open longer than the demo's handling time (%[1]s): its case gets
the interim notice. It and the acknowledgement of every letter you send appear here
as sent; so they do in the case (web interface, "case show").
`, demoInterimAfter)
}

// followDay prints, decoded, the acknowledgement of each letter the user sends (not the
// demo's own samples) and each interim notice, once sent, until ctx ends.
func followDay(ctx context.Context, out io.Writer, store *ticket.Store, loc *time.Location) {
	printed := map[string]bool{}
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cases, err := store.List(ticket.Filter{Kind: ticket.KindCitizen, Limit: 100})
		if err != nil {
			continue
		}
		for i := len(cases) - 1; i >= 0; i-- { // oldest first
			c := cases[i]
			for _, m := range c.Messages {
				key := fmt.Sprint("ack", m.Seq)
				if printed[key] || m.Ack.Status != ticket.AckSent || strings.HasSuffix(m.MessageID, sampleDomain) {
					continue
				}
				if st, err := store.SentAck(m.Seq); err == nil && st != nil {
					printed[key] = true
					printSent(out, fmt.Sprintf("Eingangsbestätigung zu Ihrem Brief / acknowledgement of your letter – %s, gesendet / sent %s an / to %s",
						c.Reference, m.Ack.SentAt.In(loc).Format("02.01.2006 15:04:05"), m.Ack.Recipient), st)
				}
			}
			key := "interim " + c.Reference.String()
			if printed[key] {
				continue
			}
			if in, err := store.InterimOf(c.Reference); err == nil && in != nil && in.Status == ticket.AckSent {
				if st, err := store.SentInterim(c.Reference); err == nil && st != nil {
					printed[key] = true
					printSent(out, fmt.Sprintf("Zwischennachricht / interim notice – %s, gesendet / sent %s an / to %s",
						c.Reference, in.SentAt.In(loc).Format("02.01.2006 15:04:05"), in.Recipient), st)
				}
			}
		}
	}
}

func printSent(out io.Writer, title string, st *ticket.SentText) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n=== %s ===\nBetreff / Subject: %s\n\n", title, st.Subject)
	b.WriteString(st.Text)
	b.WriteString("=== Ende / end ===\n")
	_, _ = io.WriteString(out, b.String())
}
