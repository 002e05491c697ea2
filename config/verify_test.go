package config

import (
	"slices"
	"strings"
	"testing"
)

// Issue 8: [mailbox.ack] echo and the sender verification keys of [mailbox.policy].
func TestEchoAndVerificationKeys(t *testing.T) {
	t.Setenv("INTAKE_TEST_PW", "pw")
	pol := func(lines ...string) string { return base + "[mailbox.policy]\n" + strings.Join(lines, "\n") + "\n" }
	for _, tc := range []struct {
		name string
		doc  string
		want wantErr
	}{
		{"echo unknown", edit(t, base, `max_age = "72h"`, `echo = "sometimes"`), wantErr{29, "mailbox[0].ack.echo", `must be "verified", "always" or "never" (got "sometimes")`}},
		{"echo not a string", edit(t, base, `max_age = "72h"`, `echo = true`), wantErr{29, "mailbox[0].ack.echo", "must be a string"}},
		{"verification unknown", pol(`verification = "dkim"`), wantErr{31, "mailbox[0].policy.verification", `must be "authserv-id", "exchange-online", "google-workspace" or "none" (got "dkim")`}},
		{"authserv-id without id", pol(`verification = "authserv-id"`), wantErr{31, "mailbox[0].policy.verification", `needs authserv_id`}},
		{"none with an id", pol(`verification = "none"`, `authserv_id = "mx.stk.example.de"`), wantErr{31, "mailbox[0].policy.verification", `authserv_id is set`}},
		{"exchange with an id", pol(`verification = "exchange-online"`, `authserv_id = "mx.stk.example.de"`), wantErr{32, "mailbox[0].policy.authserv_id", `only used with verification = "authserv-id"`}},
		{"sealer not a host name", pol(`trusted_arc_sealers = ["mx.microsoft.com", "gw example"]`), wantErr{31, "mailbox[0].policy.trusted_arc_sealers", `"gw example" is not a host name`}},
		{"require without any verification", pol(`verification = "none"`, `require_authenticated = true`), wantErr{32, "mailbox[0].policy.require_authenticated", "needs authserv_id, verification or trusted_arc_sealers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := parseErrors(t, tc.doc)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(errs), errs)
			}
			if e := errs[0]; e.Line != tc.want.line || e.Key != tc.want.key || !strings.Contains(e.Msg, tc.want.msg) {
				t.Errorf("got  %s\nwant intake.toml:%d: %s: …%s…", e, tc.want.line, tc.want.key, tc.want.msg)
			}
		})
	}
}

func TestEchoAndVerificationDefaults(t *testing.T) {
	t.Setenv("INTAKE_TEST_PW", "pw")
	pol := func(lines ...string) string { return base + "[mailbox.policy]\n" + strings.Join(lines, "\n") + "\n" }
	for _, tc := range []struct {
		name         string
		doc          string
		verification string
		require      bool
		active       bool
	}{
		{"nothing set", base, VerifyNone, false, false},
		{"authserv_id", pol(`authserv_id = "mx.stk.example.de"`), VerifyAuthservID, true, true},
		{"exchange", pol(`verification = "exchange-online"`), VerifyExchangeOnline, true, true},
		{"google", pol(`verification = "google-workspace"`, `require_authenticated = false`), VerifyGoogleWorkspace, false, true},
		{"ARC sealers only", pol(`trusted_arc_sealers = ["gw.stk.example.de"]`), VerifyNone, false, true},
		{"ARC sealers, required", pol(`trusted_arc_sealers = ["gw.stk.example.de"]`, `require_authenticated = true`), VerifyNone, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.doc).Mailboxes[0]
			if m.Ack.Echo != EchoVerified {
				t.Errorf("echo = %q, want %q", m.Ack.Echo, EchoVerified)
			}
			if m.Policy.Verification != tc.verification || *m.Policy.RequireAuthenticated != tc.require || m.Policy.VerificationActive() != tc.active {
				t.Errorf("verification %q require %v active %v, want %q %v %v", m.Policy.Verification, *m.Policy.RequireAuthenticated,
					m.Policy.VerificationActive(), tc.verification, tc.require, tc.active)
			}
		})
	}
	m := mustParse(t, edit(t, base, `max_age = "72h"`, `echo = "never"`)).Mailboxes[0]
	if m.Ack.Echo != EchoNever {
		t.Errorf("echo = %q, want never", m.Ack.Echo)
	}
	if got := mustParse(t, pol(`trusted_arc_sealers = ["gw.stk.example.de", "arc.example.net"]`)).Mailboxes[0].Policy.TrustedARCSealers; !slices.Equal(got, []string{"gw.stk.example.de", "arc.example.net"}) {
		t.Errorf("trusted_arc_sealers = %v", got)
	}
}
