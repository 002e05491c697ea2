package ticket_test

import (
	"errors"
	"fmt"

	"github.com/intake-office/intake/ticket"
)

// A reference as a citizen types it over the phone is read tolerantly; a
// wrong check digit is caught.
func ExampleParseReference() {
	fmt.Println(ticket.Reference{Prefix: "STK", Year: 2026, Number: 42})

	r, err := ticket.ParseReference("stk 2026 42 6")
	fmt.Println(r, err)
	fmt.Println(r.Prefix, r.Year, r.Number)

	_, err = ticket.ParseReference("STK-2026-000042-5")
	fmt.Println(errors.Is(err, ticket.ErrCheckDigit))
	// Output:
	// STK-2026-000042-6
	// STK-2026-000042-6 <nil>
	// STK 2026 42
	// true
}
