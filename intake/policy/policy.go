package policy

import (
	"strings"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake/mailparse"
)

// Reason is the code stored with a message that got no acknowledgement.
type Reason string

// Reason codes. The S, A and B codes are decided here; the others are decided by the caller
// (rate, follow-up, size, age, configuration) and listed so that every stored code has one
// definition and one explanation (Explain).
const (
	ReasonNullSender       Reason = "NULL_SENDER"       // S1
	ReasonAutoSubmitted    Reason = "AUTO_SUBMITTED"    // S2
	ReasonReport           Reason = "REPORT"            // S3
	ReasonSystemSender     Reason = "SYSTEM_SENDER"     // S4
	ReasonList             Reason = "LIST"              // S5
	ReasonPrecedence       Reason = "PRECEDENCE"        // S6
	ReasonXARS             Reason = "XARS"              // S7
	ReasonVendorAuto       Reason = "VENDOR_AUTO"       // S8
	ReasonSubjectHeuristic Reason = "SUBJECT_HEURISTIC" // S9
	ReasonOwnLoop          Reason = "OWN_LOOP"          // S10
	ReasonSpam             Reason = "SPAM"              // S11
	ReasonNotAddressed     Reason = "NOT_ADDRESSED"     // A1
	ReasonUnauthenticated  Reason = "UNAUTHENTICATED"   // B2, B4
	ReasonAuthFail         Reason = "AUTH_FAIL"         // B3
	ReasonRate             Reason = "RATE"              // R2: per_sender_limit
	ReasonRateCase         Reason = "RATE_CASE"         // R2: this case was acknowledged in the last 24 h (follow-up)
	ReasonRateDomain       Reason = "RATE_DOMAIN"       // R2: per_domain_limit (unverified senders)
	ReasonRateUnverified   Reason = "RATE_UNVERIFIED"   // R3: unverified_hourly_cap
	ReasonFollowUp         Reason = "FOLLOW_UP"         // follow-up on an existing case, follow_up_ack = false
	ReasonMalformed        Reason = "MALFORMED"         // M1
	ReasonAckDisabled      Reason = "ACK_DISABLED"      // configuration
	ReasonTooOld           Reason = "TOO_OLD"           // configuration (ack max_age)
	ReasonOversize         Reason = "OVERSIZE"          // configuration (max_message_size)
	ReasonNoRecipient      Reason = "NO_RECIPIENT"      // register: neither a recipient nor a reason was given
	ReasonPurged           Reason = "PURGED"            // retention: the case was purged while its ack was pending
	ReasonClerk            Reason = "CLERK"             // interim notice: a clerk suppressed it
	ReasonNoAck            Reason = "NO_ACK"            // interim notice: the acknowledgement was not sent, or bounced
)

// Reasons lists every reason code, in the order of the table in the package
// doc: the codes of Decide, then those of the stages after it. It is the one
// list of codes; ticket keeps copies of the codes it stores itself, and a test
// of package intake checks that they agree.
func Reasons() []Reason {
	return []Reason{
		ReasonNullSender, ReasonAutoSubmitted, ReasonReport, ReasonSystemSender, ReasonList,
		ReasonPrecedence, ReasonXARS, ReasonVendorAuto, ReasonSubjectHeuristic, ReasonOwnLoop,
		ReasonSpam, ReasonNotAddressed, ReasonUnauthenticated, ReasonAuthFail,
		ReasonMalformed, ReasonOversize, ReasonAckDisabled, ReasonTooOld,
		ReasonFollowUp, ReasonRateCase, ReasonRate, ReasonRateDomain, ReasonRateUnverified,
		ReasonNoRecipient, ReasonPurged, ReasonClerk, ReasonNoAck,
	}
}

// Settings are the per-mailbox inputs of Decide.
type Settings struct {
	OfficeAddresses   []string // mailbox address + aliases (lower case)
	EnvelopeFrom      string   // ack envelope sender address ("" for null)
	OwnDomains        []string // our Message-ID domains
	LoopHeader        string   // e.g. "X-Intake-Loop"
	LoopID            string   // instance id written in it
	SubjectHeuristics bool     // S9
	RequireAddressed  bool     // A1: only acknowledge mail that names an office address in To/Cc/Bcc/Resent-*
	// OwnAddresses are further addresses of ours (e.g. the other mailboxes of this daemon):
	// mail whose Return-Path or From is one of them is our own (S10), but naming them in
	// To/Cc does not make a mail addressed to this office (A1).
	OwnAddresses []string
	// AuthservID is the authserv-id of the receiving MTA (RFC 8601 §2.5): only
	// Authentication-Results fields with this id count (B1), compared case-insensitively and
	// ignoring a "/job-id" suffix. "" switches every B rule off.
	AuthservID string
	// RequireAuthenticated: acknowledge only when a trusted SPF, aligned DKIM or aligned DMARC
	// pass covers the reply address (B2), and never without a trusted result (B4). Without it
	// only B3 (a trusted spf=fail or dmarc=fail) applies.
	RequireAuthenticated bool
	// Verification selects whose authentication results are trusted: VerifyAuthservID (the
	// fields of AuthservID), VerifyExchangeOnline, VerifyGoogleWorkspace or VerifyNone; ""
	// means VerifyAuthservID when AuthservID is set, else VerifyNone.
	Verification string
	// TrustedARCSealers are authserv-ids of ARC sealers whose newest
	// ARC-Authentication-Results are believed (see trustedARC).
	TrustedARCSealers []string
}

// Decision is the outcome of Decide.
type Decision struct {
	Ack       bool
	Reason    Reason // empty when Ack
	Rule      string // "S1".."S11", "A1", "B2".."B4", "M1"
	Recipient string // Return-Path address (From only when there is no Return-Path), lower-case domain
	Automated bool   // the mail is machine-generated (bounce, auto-reply, list, report...)
	// Detail names the signal that decided (a header name and keyword, a part type), never an
	// address or message text, so it may be logged at info level (DESIGN.md invariant 7).
	Detail string
	// Verified is true when a trusted authentication result proves that Recipient (the
	// envelope sender the acknowledgement goes to) really sent the mail: a trusted SPF pass
	// for its domain, an aligned DKIM pass, a DMARC pass, an Exchange Online compauth pass or
	// a trusted ARC sealer's result saying so. Only a verified sender may have its own text
	// echoed back, may join an existing case, and counts against the verified ack budget.
	Verified bool
	// VerifiedBy names the method that verified the sender ("spf", "dkim", "dmarc",
	// "compauth", "arc"); empty when not Verified.
	VerifiedBy string
}

// rule is one suppression rule of autoreply-rules.md.
type rule struct {
	id     string
	reason Reason
	// automated: a match means the mail itself was generated by a machine.
	automated bool
	check     func(m *mailparse.Message, s *Settings) (detail string, ok bool)
}

// rules in the evaluation order of autoreply-rules.md ("Evaluation order"): S1–S11, then A1.
// S1 is handled in Decide because it also yields the recipient (A2); the B rules follow in
// Decide because they need that recipient.
func rules() []rule {
	return []rule{
		{"S2", ReasonAutoSubmitted, true, checkAutoSubmitted},
		{"S3", ReasonReport, true, checkReport},
		{"S4", ReasonSystemSender, true, checkSystemSender},
		{"S5", ReasonList, true, checkList},
		{"S6", ReasonPrecedence, true, checkPrecedence},
		{"S7", ReasonXARS, false, checkXARS},
		{"S8", ReasonVendorAuto, true, checkVendor},
		{"S9", ReasonSubjectHeuristic, true, checkSubject},
		{"S10", ReasonOwnLoop, false, checkOwnLoop},
		{"S11", ReasonSpam, true, checkSpam},
		{"A1", ReasonNotAddressed, false, checkAddressed},
	}
}

// Decide says whether the mail m may get an automatic acknowledgement, and if not, why.
// It is pure: no I/O, no clock, no state; the same input always gives the same decision.
//
// The first matching rule decides (autoreply-rules.md, "Evaluation order": S, A, then B).
// Automated is computed from all S and A rules, so that a mail suppressed for one reason is
// still classified by every signal it carries; the B rules (sender authentication) run only
// for a mail that passed them all and never mark it automated. The R (rate) rules need
// state and are applied by the caller after an Ack decision.
func Decide(m *mailparse.Message, s Settings) Decision {
	if m == nil || len(m.Fields) == 0 {
		// M1: RFC 3834 §2, no response to a mail whose header cannot be read.
		return Decision{Reason: ReasonMalformed, Rule: "M1", Detail: "no header section"}
	}
	s = normalizeSettings(s)
	var d Decision
	rcpt, problem, null := recipient(m)
	d.Recipient = rcpt
	d.Automated = null
	if problem != "" {
		d.Reason, d.Rule, d.Detail = ReasonNullSender, "S1", problem
	}
	for _, r := range rules() {
		if r.id == "S9" && !s.SubjectHeuristics || r.id == "A1" && !s.RequireAddressed {
			continue
		}
		detail, ok := r.check(m, &s)
		if !ok {
			continue
		}
		if r.automated {
			d.Automated = true
		}
		if d.Reason == "" {
			d.Reason, d.Rule, d.Detail = r.reason, r.id, detail
		}
	}
	if d.Reason == "" {
		d.Reason, d.Rule, d.Detail = authRules(m, &s, d.Recipient)
	}
	// A trusted fail (B3) is never verified, whatever else passed.
	if d.Recipient != "" && d.Reason != ReasonAuthFail {
		if _, by, _ := verify(m, &s, d.Recipient); by != "" {
			d.Verified, d.VerifiedBy = true, by
		}
	}
	d.Ack = d.Reason == ""
	return d
}

// recipient applies S1 and A2: the acknowledgement goes to the single Return-Path address
// (RFC 3834 §4, RFC 5230 §4); only a mail without any Return-Path field falls back to From
// (DESIGN.md "The acknowledgement"), never to Reply-To or Sender (RFC 3834 §4). problem is
// set when there is no usable single address; null reports the null reverse-path "<>"
// (RFC 5321 §4.5.5, RFC 3464 §2: used by DSNs and other automatic mail).
func recipient(m *mailparse.Message) (addr, problem string, null bool) {
	if len(m.ReturnPaths) > 0 {
		first := m.ReturnPaths[0]
		for _, rp := range m.ReturnPaths[1:] {
			if !strings.EqualFold(rp, first) {
				// RFC 8098 §2.1 treats several distinct Return-Paths as a failed comparison.
				return "", "several distinct Return-Path fields", false
			}
		}
		switch {
		case first == "":
			return "", "null Return-Path <>", true
		case !ValidAddrSpec(first):
			return "", "Return-Path is not a valid addr-spec", false
		}
		return first, "", false
	}
	switch {
	case len(m.From) == 0:
		return "", "no Return-Path and no usable From", false
	case len(m.From) > 1:
		return "", "no Return-Path and several From addresses", false
	case !ValidAddrSpec(m.From[0].Addr):
		return "", "no Return-Path and From is not a valid addr-spec", false
	}
	return mailparse.NormalizeAddr(m.From[0].Addr), "", false
}

// ValidAddrSpec is config.ValidAddrSpec: the one check that an address is one we may send
// to, for the configured office addresses and the recipients of acknowledgements alike.
func ValidAddrSpec(s string) bool { return config.ValidAddrSpec(s) }

func normalizeSettings(s Settings) Settings {
	lower := func(in []string) []string {
		out := make([]string, 0, len(in))
		for _, v := range in {
			if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
				out = append(out, strings.Trim(v, "<>"))
			}
		}
		return out
	}
	s.OfficeAddresses = lower(s.OfficeAddresses)
	s.OwnAddresses = lower(s.OwnAddresses)
	s.OwnDomains = lower(s.OwnDomains)
	s.EnvelopeFrom = strings.Trim(strings.ToLower(strings.TrimSpace(s.EnvelopeFrom)), "<>")
	s.LoopHeader = strings.TrimSpace(s.LoopHeader)
	s.AuthservID = strings.TrimSpace(s.AuthservID)
	s.Verification = strings.ToLower(strings.TrimSpace(s.Verification))
	s.TrustedARCSealers = lower(s.TrustedARCSealers)
	return s
}
