package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
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
