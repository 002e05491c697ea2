package main

import (
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

func TestPrintCaseMessageIDReused(t *testing.T) {
	for _, reused := range []bool{false, true} {
		c := &ticket.Case{Messages: []ticket.Message{{MessageID: "1@localhost", MessageIDReused: reused}}}
		var b strings.Builder
		printCase(&b, c, time.UTC)
		if got := strings.Contains(b.String(), "Message-ID von einer anderen Nachricht wiederverwendet (Message-ID reused by a different mail)"); got != reused {
			t.Errorf("reused=%v: note shown=%v\n%s", reused, got, b.String())
		}
	}
}
