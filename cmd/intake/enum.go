package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/intake-office/intake/ticket"
)

// checkEnum reports whether value (of flag -name) is one of valid; "" (flag not given)
// is accepted when allowEmpty. Otherwise it says on stderr which values exist, and the
// caller exits with exitUsage.
func checkEnum(stderr io.Writer, name, value string, valid []string, allowEmpty bool) bool {
	if (value == "" && allowEmpty) || slices.Contains(valid, value) {
		return true
	}
	fmt.Fprintf(stderr, "intake: -%s %q: unbekannter Wert; gültig sind / unknown value; valid are: %s\n", name, value, strings.Join(valid, ", "))
	return false
}

// flagSet reports whether flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// caseStatuses and caseKinds are the values of case list's -status and -kind.
func caseStatuses() []string {
	return []string{string(ticket.StatusNew), string(ticket.StatusInProgress), string(ticket.StatusClosed)}
}

func caseKinds() []string {
	return []string{string(ticket.KindCitizen), string(ticket.KindAutomated), string(ticket.KindMalformed)}
}
