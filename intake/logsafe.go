package intake

import (
	"strings"

	"github.com/intake-office/intake/intake/mailparse"
)

// replyCodes summarises an SMTP reply for the log at info level: its reply
// code (RFC 5321 §4.2: three digits, then a space or "-") and its enhanced
// status code (RFC 3463 §2), never the text, which often names the
// recipient (DESIGN.md invariant 7). "" when the reply carries neither; the
// whole reply is logged at debug level only.
func replyCodes(reply string) string {
	var code string
	for f := range strings.FieldsSeq(reply) {
		f = strings.TrimRight(f, ":,;")
		if n, _, ok := strings.Cut(f, "-"); ok && len(n) == 3 {
			f = n // "250-..." of a multi-line reply
		}
		if len(f) == 3 && f[0] >= '2' && f[0] <= '5' && f[1] >= '0' && f[1] <= '5' && f[2] >= '0' && f[2] <= '9' {
			code = f
			break
		}
	}
	enhanced := mailparse.FindStatusCode(reply, "245")
	switch {
	case code == "":
		return enhanced
	case enhanced == "":
		return code
	}
	return code + " " + enhanced
}
