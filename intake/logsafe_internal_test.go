package intake

import (
	"strings"
	"testing"
)

func TestReplyCodesKeepNoAddress(t *testing.T) {
	for _, tc := range []struct{ reply, want string }{
		{"550 5.1.1 <erika@example.org>: Recipient address rejected: User unknown", "550 5.1.1"},
		{"smtp: client error: 450 4.2.0 <erika@example.org>: Recipient address rejected: Greylisted", "450 4.2.0"},
		{"421-4.7.0 [192.0.2.1] Try again later, erika@example.org", "421 4.7.0"},
		{"dial tcp 127.0.0.1:25: connect: connection refused", ""},
		{"5.7.1 message refused for erika@example.org", "5.7.1"},
		{"552 message too big for erika@example.org", "552"},
		{"", ""},
	} {
		got := replyCodes(tc.reply)
		if got != tc.want {
			t.Errorf("replyCodes(%q) = %q, want %q", tc.reply, got, tc.want)
		}
		if strings.Contains(got, "@") || strings.Contains(got, "erika") {
			t.Errorf("replyCodes(%q) = %q keeps the address", tc.reply, got)
		}
	}
}
