package policy

import (
	"slices"
	"testing"
)

// TestDecideVerified: Decision.Verified is set only when a trusted result proves the
// envelope sender the acknowledgement goes to (issue 8).
func TestDecideVerified(t *testing.T) {
	tests := []struct {
		name  string
		id    string
		lines []string
		want  string // VerifiedBy; "" = not verified
	}{
		{"spf pass for the Return-Path", ourMTA, personal(ar("spf=pass smtp.mailfrom=anna.beispiel@example.org")), "spf"},
		{"dkim pass aligned", ourMTA, personal(ar("dkim=pass header.d=example.org")), "dkim"},
		{"dmarc pass", ourMTA, personal(ar("dmarc=pass header.from=example.org")), "dmarc"},
		{"no authserv-id configured", "", personal(ar("spf=pass smtp.mailfrom=anna.beispiel@example.org")), ""},
		{"foreign authserv-id", ourMTA, personal("Authentication-Results: mx.evil.example; spf=pass smtp.mailfrom=anna.beispiel@example.org"), ""},
		// The phishing shape of issue 8: the envelope sender is the victim, the pass is mallory's.
		{"pass for another address", ourMTA, append(without(personal(), "Return-Path"), "Return-Path: <victim@example.net>",
			ar("spf=pass smtp.mailfrom=mallory@evil.example", "dkim=pass header.d=evil.example")), ""},
		{"a trusted fail is never verified", ourMTA, personal(ar("dkim=pass header.d=example.org", "dmarc=fail header.from=example.org")), ""},
		{"no results", ourMTA, personal(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSettings()
			s.AuthservID = tt.id
			d := Decide(parse(t, tt.lines...), s)
			if d.Verified != (tt.want != "") || d.VerifiedBy != tt.want {
				t.Errorf("Verified %v by %q, want %q (decision %+v)", d.Verified, d.VerifiedBy, tt.want, d)
			}
		})
	}
}

func TestOurAckIDs(t *testing.T) {
	own := []string{"intake.amt.example"}
	m := parse(t, personal(
		"In-Reply-To: <guess.1.ack@intake.amt.example> <x@example.org>",
		"References: <STK-2026-000001-5.1.abcdefghijklmnop.ack@intake.amt.example> <guess.1.ack@intake.amt.example> <y@example.org>",
	)...)
	got := OurAckIDs(m, own)
	want := []string{"guess.1.ack@intake.amt.example", "STK-2026-000001-5.1.abcdefghijklmnop.ack@intake.amt.example"}
	if !slices.Equal(got, want) {
		t.Errorf("OurAckIDs = %q, want %q", got, want)
	}
	if id, ok := OurAck(m, own); !ok || id != want[0] {
		t.Errorf("OurAck = %q, %v", id, ok)
	}
	if got := OurAckIDs(m, nil); got != nil {
		t.Errorf("no own domains: %q", got)
	}
}
