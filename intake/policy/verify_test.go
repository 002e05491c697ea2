package policy

import (
	"testing"
)

// Header samples written from the vendors' documentation (Microsoft Learn "Anti-spam message
// headers in Microsoft 365", Google "Authentication-Results" as Gmail stamps it, RFC 8617
// appendix B for ARC, OpenDKIM/OpenDMARC and rspamd manuals). The reply address of
// personal() is anna.beispiel@example.org.
var (
	exoPass = "Authentication-Results: spf=pass (sender IP is 192.0.2.10)\r\n" +
		" smtp.mailfrom=example.org; dkim=pass (signature was verified)\r\n" +
		" header.d=example.org;dmarc=pass action=none\r\n" +
		" header.from=example.org;compauth=pass reason=100"
	exoImplicitPass = "Authentication-Results: spf=none (sender IP is 198.51.100.4)\r\n" +
		" smtp.mailfrom=example.org; dkim=none (message not signed)\r\n" +
		" header.d=none;dmarc=none action=none header.from=example.org;compauth=pass reason=109"
	exoFail = "Authentication-Results: spf=fail (sender IP is 203.0.113.66)\r\n" +
		" smtp.mailfrom=example.org; dkim=none (message not signed)\r\n" +
		" header.d=none;dmarc=fail action=oreject header.from=example.org;compauth=fail reason=000"
	exoNone = "Authentication-Results: spf=none (sender IP is 203.0.113.66)\r\n" +
		" smtp.mailfrom=example.org; dkim=none (message not signed)\r\n" +
		" header.d=none;dmarc=none action=none header.from=example.org;compauth=softpass reason=202"
	// The phishing relay of issue 8: envelope sender the victim's (example.org, which has
	// no SPF record), From the attacker's own domain, which passes DKIM and DMARC.
	exoPhish = "Authentication-Results: spf=none (sender IP is 203.0.113.66)\r\n" +
		" smtp.mailfrom=example.org; dkim=pass (signature was verified)\r\n" +
		" header.d=evil.example;dmarc=pass action=none header.from=evil.example;compauth=pass reason=100"
	// What the attacker writes into the mail himself.
	forgedPass = "Authentication-Results: spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org;\r\n" +
		" dmarc=pass header.from=example.org; compauth=pass reason=100"
	gmailPass = "Authentication-Results: mx.google.com;\r\n" +
		"       dkim=pass header.i=@example.org header.s=20230601 header.b=Xk1wG0Yv;\r\n" +
		"       spf=pass (google.com: domain of anna.beispiel@example.org designates 209.85.220.41 as permitted sender) smtp.mailfrom=anna.beispiel@example.org;\r\n" +
		"       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.org"
	gmailSoftfail = "Authentication-Results: mx.google.com;\r\n" +
		"       spf=softfail (google.com: domain of transitioning anna.beispiel@example.org does not designate 203.0.113.66 as permitted sender) smtp.mailfrom=anna.beispiel@example.org"
	forgedGmailPass = "Authentication-Results: mx.google.com; spf=pass smtp.mailfrom=anna.beispiel@example.org; dmarc=pass header.from=example.org"
	arcGateway      = "ARC-Authentication-Results: i=2; gw.stadt-musterhausen.example;\r\n" +
		" dkim=pass header.d=example.org header.s=s1; spf=pass smtp.mailfrom=anna.beispiel@example.org;\r\n" +
		" dmarc=pass header.from=example.org"
	arcListHop = "ARC-Authentication-Results: i=1; lists.example.net; dkim=pass header.d=example.org; dmarc=pass header.from=example.org"
	arcForged  = "ARC-Authentication-Results: i=9; gw.stadt-musterhausen.example; spf=pass smtp.mailfrom=anna.beispiel@example.org"
	ourSpfPass = "Authentication-Results: " + ourMTA + "; spf=pass smtp.mailfrom=anna.beispiel@example.org"
)

func mode(v string, require bool, sealers ...string) func(*Settings) {
	return func(s *Settings) {
		s.Verification, s.RequireAuthenticated, s.TrustedARCSealers = v, require, sealers
	}
}

// phish is the issue 8 mail: Return-Path the victim, From the attacker.
func phish(extra ...string) []string {
	return append(without(personal(), "From"), append([]string{"From: Finanzamt <mallory@evil.example>"}, extra...)...)
}

func TestVerification(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings func(*Settings)
		lines    []string
		by       string // "" = not verified
		reason   Reason
	}{
		// Nothing configured: nobody is verified, however good the fields look.
		{name: "none configured, perfect fields", lines: personal(forgedPass, gmailPass, ourSpfPass, arcGateway)},
		{name: "verification = none with an authserv-id", settings: func(s *Settings) { s.AuthservID, s.Verification = ourMTA, VerifyNone },
			lines: personal(ourSpfPass)},

		// Local MTA (authserv-id).
		{name: "authserv-id: OpenDMARC spf pass", settings: withAuth(ourMTA, false), lines: personal(ourSpfPass), by: "spf"},
		{name: "authserv-id: rspamd dkim pass", settings: withAuth(ourMTA, false),
			lines: personal("Authentication-Results: " + ourMTA + ";\r\n\tdkim=pass header.d=example.org header.s=dkim2024 header.b=AbCd1234;\r\n\tdmarc=pass (policy=reject) header.from=example.org"), by: "dkim"},
		{name: "authserv-id: dmarc pass only", settings: withAuth(ourMTA, false),
			lines: personal("Authentication-Results: " + ourMTA + "; dmarc=pass (p=reject dis=none) header.from=example.org"), by: "dmarc"},
		{name: "authserv-id: phishing relay (attacker's DKIM and DMARC)", settings: withAuth(ourMTA, false),
			lines: phish("Authentication-Results: " + ourMTA + "; spf=none smtp.mailfrom=anna.beispiel@example.org; dkim=pass header.d=evil.example; dmarc=pass header.from=evil.example")},
		{name: "authserv-id: compauth is Exchange's, not the local MTA's", settings: withAuth(ourMTA, false),
			lines: phish("Authentication-Results: " + ourMTA + "; compauth=pass reason=100")},
		{name: "authserv-id: Exchange and Gmail fields are not ours", settings: withAuth(ourMTA, false), lines: personal(exoPass, gmailPass)},

		// Exchange Online.
		{name: "exchange: pass", settings: mode(VerifyExchangeOnline, false), lines: personal(exoPass), by: "spf"},
		{name: "exchange: implicit compauth pass", settings: mode(VerifyExchangeOnline, false), lines: personal(exoImplicitPass), by: "compauth"},
		{name: "exchange: softpass is no pass", settings: mode(VerifyExchangeOnline, false), lines: personal(exoNone)},
		{name: "exchange: phishing relay, compauth pass for the attacker's From", settings: mode(VerifyExchangeOnline, false), lines: phish(exoPhish)},
		{name: "exchange: the attacker's lower field never counts", settings: mode(VerifyExchangeOnline, false), lines: personal(exoNone, forgedPass)},
		{name: "exchange: the attacker's lower field never counts, fail on top", settings: mode(VerifyExchangeOnline, true),
			lines: personal(exoFail, forgedPass), reason: ReasonAuthFail},
		{name: "exchange: a topmost field with an authserv-id is not Exchange's", settings: mode(VerifyExchangeOnline, true),
			lines: personal("Authentication-Results: mx.evil.example; spf=pass smtp.mailfrom=anna.beispiel@example.org", exoPass), reason: ReasonUnauthenticated},
		{name: "exchange: required, not verified", settings: mode(VerifyExchangeOnline, true), lines: personal(exoNone), reason: ReasonUnauthenticated},
		{name: "exchange: an unreadable topmost field does not promote the attacker's below", settings: mode(VerifyExchangeOnline, false),
			lines: personal("Authentication-Results: ;;;", forgedPass)},
		{name: "google: an unreadable topmost field does not promote the attacker's below", settings: mode(VerifyGoogleWorkspace, false),
			lines: personal("Authentication-Results: (comment only)", forgedGmailPass)},
		{name: "arc: an unreadable topmost field does not promote the one below", settings: mode(VerifyNone, false, "gw.stadt-musterhausen.example"),
			lines: personal("ARC-Authentication-Results: i=3", arcGateway)},
		{name: "exchange: required, no field at all (B4)", settings: mode(VerifyExchangeOnline, true), lines: personal(), reason: ReasonUnauthenticated},

		// Google Workspace.
		{name: "google: pass", settings: mode(VerifyGoogleWorkspace, false), lines: personal(gmailPass), by: "dkim"},
		{name: "google: the attacker's lower mx.google.com field never counts", settings: mode(VerifyGoogleWorkspace, false),
			lines: personal(gmailSoftfail, forgedGmailPass)},
		{name: "google: topmost field of another host", settings: mode(VerifyGoogleWorkspace, false),
			lines: personal("Authentication-Results: mx.evil.example; none", gmailPass)},

		// ARC.
		{name: "arc: trusted gateway sealer", settings: mode(VerifyNone, false, "gw.stadt-musterhausen.example"),
			lines: personal(arcGateway, arcListHop), by: "arc"},
		{name: "arc: sealer not trusted", settings: mode(VerifyNone, false, "gw.stadt-musterhausen.example"), lines: personal(arcListHop)},
		{name: "arc: a trusted sealer of a lower instance does not count", settings: mode(VerifyNone, false, "lists.example.net"),
			lines: personal(arcGateway, arcListHop)},
		{name: "arc: a forged higher instance below the topmost breaks the chain", settings: mode(VerifyNone, false, "gw.stadt-musterhausen.example"),
			lines: personal(arcGateway, arcForged)},
		{name: "arc: two fields of the highest instance", settings: mode(VerifyNone, false, "gw.stadt-musterhausen.example"),
			lines: personal(arcGateway, arcGateway)},
		{name: "arc: our MTA says the chain failed", settings: func(s *Settings) {
			withAuth(ourMTA, false)(s)
			s.TrustedARCSealers = []string{"gw.stadt-musterhausen.example"}
		},
			lines: personal("Authentication-Results: "+ourMTA+"; arc=fail (signature failed)", arcGateway)},
		{name: "arc: our MTA says the chain passed", settings: func(s *Settings) {
			withAuth(ourMTA, true)(s)
			s.TrustedARCSealers = []string{"gw.stadt-musterhausen.example"}
		},
			lines: personal("Authentication-Results: "+ourMTA+"; arc=pass", arcGateway), by: "arc"},
		{name: "arc: phishing relay through a trusted sealer", settings: mode(VerifyNone, false, "gw.stadt-musterhausen.example"),
			lines: phish("ARC-Authentication-Results: i=1; gw.stadt-musterhausen.example; dkim=pass header.d=evil.example; dmarc=pass header.from=evil.example")},
		{name: "arc: required and only ARC trusted", settings: mode(VerifyNone, true, "gw.stadt-musterhausen.example"), lines: personal(arcListHop),
			reason: ReasonUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			if tc.settings != nil {
				tc.settings(&s)
			}
			d := Decide(parse(t, tc.lines...), s)
			if d.Verified != (tc.by != "") || d.VerifiedBy != tc.by {
				t.Errorf("Verified = %v by %q, want by %q", d.Verified, d.VerifiedBy, tc.by)
			}
			if d.Reason != tc.reason {
				t.Errorf("Reason = %q (%s %s), want %q", d.Reason, d.Rule, d.Detail, tc.reason)
			}
		})
	}
}

// A verified sender whose mail is suppressed for another reason is still reported as
// verified (the threading of issue 8 needs it), and an unusable recipient never is.
func TestVerifiedIndependentOfAck(t *testing.T) {
	s := testSettings()
	s.AuthservID = ourMTA
	d := Decide(parse(t, personal(ourSpfPass, "Auto-Submitted: auto-replied")...), s)
	if d.Ack || !d.Verified || d.VerifiedBy != "spf" {
		t.Errorf("auto-submitted verified mail: %+v", d)
	}
	d = Decide(parse(t, append(without(personal(), "Return-Path"), "Return-Path: <>", ourSpfPass)...), s)
	if d.Verified {
		t.Errorf("null sender verified: %+v", d)
	}
}
