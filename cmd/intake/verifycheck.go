package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/intake-office/intake/config"
)

// printVerification says per mailbox which sender verification is active and warns when
// none is or when echo = "always" makes the acknowledgement a relay for anyone's text
// (issue 8). Warnings do not change the exit status: the configuration is valid.
func printVerification(w io.Writer, cfg *config.Config) {
	for _, mb := range cfg.Mailboxes {
		pol := mb.Policy
		var what []string
		switch pol.Verification {
		case config.VerifyAuthservID:
			what = append(what, fmt.Sprintf("authserv-id %s (SPF/DKIM/DMARC)", pol.AuthservID))
		case config.VerifyExchangeOnline:
			what = append(what, "Exchange Online (oberstes/topmost Authentication-Results, SPF/DKIM/DMARC/compauth)")
		case config.VerifyGoogleWorkspace:
			what = append(what, "Google Workspace (oberstes/topmost Authentication-Results von/of mx.google.com, SPF/DKIM/DMARC)")
		}
		if len(pol.TrustedARCSealers) > 0 {
			what = append(what, "ARC-Siegel/sealers "+strings.Join(pol.TrustedARCSealers, ", "))
		}
		if len(what) > 0 {
			fmt.Fprintf(w, "ok    %s Absenderprüfung / sender verification: %s\n", mb.Name, strings.Join(what, "; "))
		} else {
			consequence := "Bestätigungen enthalten keinen Text des Absenders (kein Betreff, keine Anhangnamen) / acknowledgements carry no text of the sender"
			switch mb.Ack.Echo {
			case config.EchoAlways:
				consequence = "niemand ist geprüft, echo = \"always\" / nobody is verified"
			case config.EchoNever:
				consequence = "echo = \"never\": Bestätigungen enthalten ohnehin keinen Text des Absenders / acknowledgements carry no text of the sender anyway"
			}
			fmt.Fprintf(w, "WARN  %s keine Absenderprüfung aktiv: %s; [mailbox.policy] verification setzen / no sender verification: set [mailbox.policy] verification\n",
				mb.Name, consequence)
		}
		if mb.Ack.Echo == config.EchoAlways {
			fmt.Fprintf(w, "WARN  %s echo = \"always\": jede Bestätigung wiederholt Betreff und Anhangnamen jedes Absenders; so kann jeder Text im Namen des Amtes an beliebige Adressen schicken lassen (Phishing) / every acknowledgement repeats any sender's subject and attachment names: anyone can have the office send his text to any address (phishing relay)\n",
				mb.Name)
		}
	}
}
