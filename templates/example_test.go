package templates_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/intake-office/intake/templates"
)

// The embedded texts ("" = no templates_dir) render the acknowledgement of
// one mail: German first, with a short English block.
func ExampleSet_Render() {
	set, err := templates.Load("")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := set.Render("de", templates.Data{
		Reference: "STK-2026-000042-6",
		Received:  time.Date(2026, 11, 28, 14, 5, 0, 0, time.UTC),
		Subject:   "Antrag auf Förderung",
		Office:    templates.Office{Name: "Staatskanzlei"},
		Mailbox:   "Poststelle",
		Address:   "poststelle@stk.example.de",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Subject)
	lines := strings.Split(r.Text, "\n")
	fmt.Println(strings.Join(lines[:8], "\n"))
	// Output:
	// Auto: Eingangsbestätigung [STK-2026-000042-6] – Antrag auf Förderung
	// Sehr geehrte Damen und Herren,
	//
	// vielen Dank für Ihre E-Mail. Hiermit bestätigen wir den Eingang.
	// Dies ist eine automatisch erstellte Eingangsbestätigung.
	//
	// Ihr Anliegen wird bei uns unter der Vorgangsnummer
	//
	//     STK-2026-000042-6
}
