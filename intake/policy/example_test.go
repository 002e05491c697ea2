package policy_test

import (
	"fmt"
	"strings"

	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/intake/policy"
)

// Decide tells whether a mail gets an acknowledgement, and if not, which
// rule of autoreply-rules.md says so.
func ExampleDecide() {
	settings := policy.Settings{OfficeAddresses: []string{"poststelle@stk.example.de"}}
	for _, raw := range []string{
		"Return-Path: <erika@example.org>\r\nFrom: Erika <erika@example.org>\r\nTo: poststelle@stk.example.de\r\nSubject: Antrag\r\n\r\nHallo\r\n",
		"Return-Path: <erika@example.org>\r\nFrom: Erika <erika@example.org>\r\nTo: poststelle@stk.example.de\r\nAuto-Submitted: auto-replied\r\nSubject: Abwesend\r\n\r\nbin weg\r\n",
		"Return-Path: <>\r\nFrom: MAILER-DAEMON@example.org\r\nTo: poststelle@stk.example.de\r\nSubject: Undelivered Mail\r\n\r\nfailed\r\n",
	} {
		m, err := mailparse.Parse(strings.NewReader(raw), mailparse.Limits{})
		if err != nil {
			fmt.Println(err)
			continue
		}
		d := policy.Decide(m, settings)
		fmt.Printf("ack=%v reason=%q rule=%q recipient=%q\n", d.Ack, d.Reason, d.Rule, d.Recipient)
	}
	// Output:
	// ack=true reason="" rule="" recipient="erika@example.org"
	// ack=false reason="AUTO_SUBMITTED" rule="S2" recipient="erika@example.org"
	// ack=false reason="NULL_SENDER" rule="S1" recipient=""
}
