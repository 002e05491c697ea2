package policy

import (
	"strings"
	"testing"
)

// ourMTA is the authserv-id of the office's receiving MTA in these tests.
const ourMTA = "mx.stadt-musterhausen.example"

func withAuth(id string, require bool) func(*Settings) {
	return func(s *Settings) { s.AuthservID, s.RequireAuthenticated = id, require }
}

// ar is an Authentication-Results field of our MTA with the given resinfos.
func ar(resinfo ...string) string {
	return "Authentication-Results: " + ourMTA + "; " + strings.Join(resinfo, "; ")
}

// TestAuthRealWorld runs Authentication-Results as the common receiving systems write them
// through Decide, each with the authserv-id a deployment behind that system would configure.
func TestAuthRealWorld(t *testing.T) {
	gmail := []string{
		"Authentication-Results: mx.google.com;",
		"       dkim=pass header.i=@example.org header.s=20230601 header.b=Xk1wG0Yv;",
		"       spf=pass (google.com: domain of anna.beispiel@example.org designates 209.85.220.41 as permitted sender) smtp.mailfrom=anna.beispiel@example.org;",
		"       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=example.org",
	}
	gmailDMARCFail := []string{
		"Authentication-Results: mx.google.com;",
		"       spf=pass (google.com: domain of anna.beispiel@example.org designates 192.0.2.1 as permitted sender) smtp.mailfrom=anna.beispiel@example.org;",
		"       dmarc=fail (p=QUARANTINE sp=NONE dis=QUARANTINE) header.from=example.org",
	}
	ms365 := []string{
		"Authentication-Results: spf=pass (sender IP is 40.107.22.45)",
		" smtp.mailfrom=example.org; dkim=pass (signature was verified)",
		" header.d=example.org;dmarc=pass action=none",
		" header.from=example.org;compauth=pass reason=100",
	}
	ms365Fail := []string{
		"Authentication-Results: spf=fail (sender IP is 192.0.2.66) smtp.mailfrom=example.org; dkim=none (message not signed)",
		" header.d=none;dmarc=fail action=oreject header.from=example.org;compauth=fail reason=000",
	}
	openDMARC := []string{
		"Authentication-Results: " + ourMTA + "/8D9E0F1A2B; dkim=pass (2048-bit key; secure) header.d=example.org header.i=@example.org header.a=rsa-sha256 header.s=2024 header.b=eW9BkRqv",
		"Authentication-Results: " + ourMTA + "; spf=pass smtp.mailfrom=example.org",
		"Authentication-Results: " + ourMTA + "; dmarc=pass (p=none dis=none) header.from=example.org",
	}
	rspamd := []string{
		"Authentication-Results: mail.stadt-musterhausen.example;",
		"\tdkim=pass header.d=example.org header.s=dkim2024 header.b=AbCd1234;",
		"\tdmarc=pass (policy=reject) header.from=example.org;",
		"\tspf=pass (mail.stadt-musterhausen.example: domain of \"anna.beispiel@example.org\" designates 192.0.2.1 as permitted sender) smtp.mailfrom=anna.beispiel@example.org",
	}
	rspamdSoftfail := []string{
		"Authentication-Results: mail.stadt-musterhausen.example;",
		"\tdkim=none;",
		"\tdmarc=none;",
		"\tspf=softfail (mail.stadt-musterhausen.example: domain of \"anna.beispiel@example.org\" is not allowed to send mail from 198.51.100.7) smtp.mailfrom=anna.beispiel@example.org",
	}
	runCases(t, []ruleCase{
		{name: "Gmail pass", lines: personal(gmail...), settings: withAuth("mx.google.com", true)},
		{name: "Gmail dmarc=fail", lines: personal(gmailDMARCFail...), settings: withAuth("MX.Google.com", false), reason: ReasonAuthFail, rule: "B3"},
		{name: "Gmail pass but another MTA's id configured", lines: personal(gmail...), settings: withAuth(ourMTA, true), reason: ReasonUnauthenticated, rule: "B4"},
		// Microsoft 365 writes no authserv-id, so its fields can never be trusted (B1).
		{name: "Microsoft 365 pass cannot be trusted", lines: personal(ms365...), settings: withAuth(ourMTA, true), reason: ReasonUnauthenticated, rule: "B4"},
		{name: "Microsoft 365 fail cannot be trusted either", lines: personal(ms365Fail...), settings: withAuth(ourMTA, false)},
		{name: "Postfix with OpenDKIM (job id) and OpenDMARC", lines: personal(openDMARC...), settings: withAuth(ourMTA, true)},
		{name: "Postfix with OpenDMARC only dkim", lines: personal(openDMARC[:2]...), settings: withAuth(ourMTA, true)},
		{name: "rspamd pass", lines: personal(rspamd...), settings: withAuth("mail.stadt-musterhausen.example", true)},
		{name: "rspamd softfail, not required", lines: personal(rspamdSoftfail...), settings: withAuth("mail.stadt-musterhausen.example", false)},
		{name: "rspamd softfail, required", lines: personal(rspamdSoftfail...), settings: withAuth("mail.stadt-musterhausen.example", true),
			reason: ReasonUnauthenticated, rule: "B2"},
	})
}

func TestB1TrustedOnly(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "foreign authserv-id with a pass is ignored", settings: withAuth(ourMTA, true),
			lines:  personal("Authentication-Results: mx.sender.example; spf=pass smtp.mailfrom=anna.beispiel@example.org; dmarc=pass header.from=example.org"),
			reason: ReasonUnauthenticated, rule: "B4"},
		{name: "foreign authserv-id with a fail is ignored", settings: withAuth(ourMTA, false),
			lines: personal("Authentication-Results: mx.sender.example; spf=fail smtp.mailfrom=anna.beispiel@example.org; dmarc=fail header.from=example.org")},
		{name: "foreign id that only starts like ours", settings: withAuth(ourMTA, true),
			lines:  personal("Authentication-Results: " + ourMTA + ".evil.example; spf=pass smtp.mailfrom=anna.beispiel@example.org"),
			reason: ReasonUnauthenticated, rule: "B4"},
		{name: "ours among foreign ones", settings: withAuth(ourMTA, true),
			lines: personal("Authentication-Results: mx.sender.example; dmarc=fail header.from=example.org", ar("spf=pass smtp.mailfrom=anna.beispiel@example.org"))},
		{name: "authserv-id compared case-insensitively", settings: withAuth("MX.Stadt-Musterhausen.EXAMPLE", true),
			lines: personal(ar("spf=pass smtp.mailfrom=anna.beispiel@example.org"))},
		{name: "no AuthservID: no B rule at all, even with RequireAuthenticated", settings: withAuth("", true),
			lines: personal(ar("dmarc=fail header.from=example.org"))},
		{name: "no AuthservID, no results", settings: withAuth("", true), lines: personal()},
	})
}

func TestB2Authenticated(t *testing.T) {
	req := withAuth(ourMTA, true)
	rp := func(addr string, extra ...string) []string {
		return append(append(without(personal(), "Return-Path"), "Return-Path: <"+addr+">"), extra...)
	}
	runCases(t, []ruleCase{
		// Passes.
		{name: "spf pass, smtp.mailfrom is the Return-Path", settings: req, lines: personal(ar("spf=pass smtp.mailfrom=Anna.Beispiel@EXAMPLE.org"))},
		{name: "spf pass, smtp.mailfrom is the domain", settings: req, lines: personal(ar("spf=pass smtp.mailfrom=example.org"))},
		{name: "spf pass, smtp.mailfrom in brackets", settings: req, lines: personal(ar("spf=pass smtp.mailfrom=<anna.beispiel@example.org>"))},
		{name: "dkim pass, header.d is the domain", settings: req, lines: personal(ar("dkim=pass header.d=example.org header.s=s1"))},
		{name: "dkim pass, header.d is a parent domain", settings: req,
			lines: rp("anna@mail.example.org", ar("dkim=pass header.d=example.org"))},
		{name: "dkim pass, only header.i", settings: req, lines: personal(ar("dkim=pass header.i=@example.org"))},
		{name: "dmarc pass, header.from aligned", settings: req, lines: personal(ar("dmarc=pass header.from=example.org"))},
		{name: "dmarc pass, header.from is an address", settings: req, lines: personal(ar("dmarc=pass header.from=anna.beispiel@example.org"))},
		{name: "no Return-Path: the From address is authenticated", settings: req,
			lines: append(without(personal(), "Return-Path"), ar("spf=pass smtp.mailfrom=anna.beispiel@example.org"))},
		{name: "one pass among other results", settings: req, lines: personal(ar("spf=softfail smtp.mailfrom=example.org", "dkim=fail header.d=example.org", "dkim=pass header.d=example.org"))},
		// No pass for the reply address.
		{name: "spf pass for another address of another domain", settings: req,
			lines: personal(ar("spf=pass smtp.mailfrom=bounces@mailer.example")), reason: ReasonUnauthenticated, rule: "B2"},
		{name: "spf pass for a subdomain is not equal", settings: req,
			lines: personal(ar("spf=pass smtp.mailfrom=bounce.example.org")), reason: ReasonUnauthenticated, rule: "B2"},
		{name: "spf pass for the HELO only", settings: req,
			lines: personal(ar("spf=pass smtp.helo=mail.example.org")), reason: ReasonUnauthenticated, rule: "B2"},
		{name: "dkim pass for a subdomain of the reply domain", settings: req,
			lines: personal(ar("dkim=pass header.d=mail.example.org")), reason: ReasonUnauthenticated, rule: "B2"},
		{name: "dkim pass for a look-alike suffix", settings: req,
			lines: rp("anna@badexample.org", ar("dkim=pass header.d=example.org")), reason: ReasonUnauthenticated, rule: "B2"},
		{name: "dkim pass for a top-level domain", settings: req,
			lines: personal(ar("dkim=pass header.d=org")), reason: ReasonUnauthenticated, rule: "B2"},
		{name: "dkim pass without a domain", settings: req,
			lines: personal(ar("dkim=pass header.s=s1")), reason: ReasonUnauthenticated, rule: "B2"},
		{name: "dmarc pass for another From domain", settings: req,
			lines: personal(ar("dmarc=pass header.from=other.example")), reason: ReasonUnauthenticated, rule: "B2"},
		{name: "neutral, none, temperror, policy are no pass", settings: req,
			lines:  personal(ar("spf=neutral smtp.mailfrom=example.org", "dkim=policy header.d=example.org", "dmarc=temperror header.from=example.org", "arc=pass")),
			reason: ReasonUnauthenticated, rule: "B2"},
		{name: "result none", settings: req, lines: personal("Authentication-Results: " + ourMTA + " 1; none"), reason: ReasonUnauthenticated, rule: "B2"},
		{name: "not required: no pass is fine", settings: withAuth(ourMTA, false), lines: personal(ar("spf=neutral smtp.mailfrom=example.org"))},
	})
}

func TestB3Failures(t *testing.T) {
	for _, require := range []bool{false, true} {
		s := withAuth(ourMTA, require)
		name := map[bool]string{false: "not required: ", true: "required: "}[require]
		runCases(t, []ruleCase{
			{name: name + "dmarc=fail", settings: s, lines: personal(ar("dmarc=fail (p=reject) header.from=example.org")), reason: ReasonAuthFail, rule: "B3"},
			{name: name + "spf=fail", settings: s, lines: personal(ar("spf=fail smtp.mailfrom=anna.beispiel@example.org")), reason: ReasonAuthFail, rule: "B3"},
			{name: name + "spf=hardfail (RFC 5451)", settings: s, lines: personal(ar("spf=hardfail smtp.mailfrom=example.org")), reason: ReasonAuthFail, rule: "B3"},
			{name: name + "a failure beats a pass", settings: s,
				lines: personal(ar("dkim=pass header.d=example.org"), ar("dmarc=fail header.from=example.org")), reason: ReasonAuthFail, rule: "B3"},
		})
	}
	runCases(t, []ruleCase{
		{name: "dkim=fail alone is no B3", settings: withAuth(ourMTA, false), lines: personal(ar("dkim=fail header.d=example.org"))},
		{name: "spf=softfail is no B3", settings: withAuth(ourMTA, false), lines: personal(ar("spf=softfail smtp.mailfrom=example.org"))},
	})
}

func TestB4NoTrustedResult(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "required, no field", settings: withAuth(ourMTA, true), lines: personal(), reason: ReasonUnauthenticated, rule: "B4"},
		{name: "required, empty field of ours is a trusted result", settings: withAuth(ourMTA, true),
			lines: personal("Authentication-Results: " + ourMTA + ";"), reason: ReasonUnauthenticated, rule: "B2"},
		{name: "not required, no field", settings: withAuth(ourMTA, false), lines: personal()},
	})
}

func TestBRulesOrder(t *testing.T) {
	fail := ar("dmarc=fail header.from=example.org")
	runCases(t, []ruleCase{
		{name: "S2 before B3", settings: withAuth(ourMTA, true), lines: personal(fail, "Auto-Submitted: auto-replied"),
			reason: ReasonAutoSubmitted, rule: "S2", automated: true},
		{name: "S1 before B4", settings: withAuth(ourMTA, true), lines: append(without(personal(), "Return-Path"), "Return-Path: <>"),
			reason: ReasonNullSender, rule: "S1", automated: true},
		{name: "A1 before B3", settings: func(s *Settings) { withAuth(ourMTA, true)(s); s.RequireAddressed = true },
			lines: append(without(personal(), "To"), "To: other@example.net", fail), reason: ReasonNotAddressed, rule: "A1"},
		{name: "B rules never mark a mail automated", settings: withAuth(ourMTA, true), lines: personal(fail), reason: ReasonAuthFail, rule: "B3"},
	})
	m := parse(t, personal(fail)...)
	s := testSettings()
	s.AuthservID = ourMTA
	if d := Decide(m, s); d.Detail != "dmarc=fail" || strings.Contains(d.Detail, "@") {
		t.Errorf("Detail = %q", d.Detail)
	}
}
