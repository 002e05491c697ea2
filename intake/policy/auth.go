package policy

import (
	"strings"

	"github.com/intake-office/intake/intake/mailparse"
)

// trustedResults applies B1: only the Authentication-Results fields whose authserv-id is
// the receiving MTA's own (Settings.AuthservID) count; all others may have been written by
// anyone on the way, including the sender (RFC 8601 §2.5, §5; Discourse email_in_authserv_id).
// The comparison ignores case (the authserv-id is normally a domain name, RFC 8601 §2.5) and
// a "/job-id" suffix such as OpenDKIM's AuthservIDWithJobID writes.
func trustedResults(m *mailparse.Message, authservID string) []mailparse.AuthResult {
	var out []mailparse.AuthResult
	for _, ar := range m.AuthResults {
		id := strings.TrimSpace(ar.AuthservID)
		if id == "" {
			continue
		}
		base, _, _ := strings.Cut(id, "/")
		if strings.EqualFold(id, authservID) || strings.EqualFold(base, authservID) {
			out = append(out, ar)
		}
	}
	return out
}

// checkAuthFail is B3: a trusted dmarc=fail or spf=fail (RFC 7208 §2.6.4 "fail"; "hardfail"
// is the RFC 5451 name of the same result). A failed check is never acknowledged, whether or
// not authentication is required (Discourse holds such mail for review).
func checkAuthFail(trusted []mailparse.AuthResult) (string, bool) {
	for _, ar := range trusted {
		for _, am := range ar.Methods {
			switch am.Method {
			case "dmarc", "spf":
				if am.Result == "fail" || am.Result == "hardfail" {
					return am.Method + "=fail", true
				}
			}
		}
	}
	return "", false
}

// authenticated is B2: the reply address is authenticated by one trusted result:
//   - spf=pass whose smtp.mailfrom (an address, or a bare domain as Microsoft 365 writes it)
//     equals the reply address or its domain (RFC 7208 §2.4 checks the MAIL FROM identity);
//   - dkim=pass whose signing domain (header.d; else the domain of header.i, RFC 6376 §3.5)
//     is aligned with the reply domain;
//   - dmarc=pass whose header.from domain is aligned with the reply domain;
//   - compauth=pass (Exchange Online) whose From domain is aligned with the reply domain.
//
// Aligned: the reply domain equals the authenticated domain or is a subdomain of it (the
// relaxed mode of RFC 7489 §3.1, one direction: the authenticated domain must cover the
// domain we send to).
func authenticated(trusted []mailparse.AuthResult, replyAddr, fromDom string) (string, bool) {
	replyDomain := addrDomain(replyAddr)
	if replyDomain == "" {
		return "", false
	}
	for _, ar := range trusted {
		for _, am := range ar.Methods {
			if am.Result != "pass" {
				continue
			}
			switch am.Method {
			case "spf":
				for _, key := range []string{"smtp.mailfrom", "smtp.mfrom"} { // smtp.mfrom: Sender ID era writers
					mf := strings.Trim(strings.TrimSpace(am.Props[key]), "<>")
					if mf == "" {
						continue
					}
					if strings.Contains(mf, "@") && strings.EqualFold(mailparse.NormalizeAddr(mf), replyAddr) ||
						!strings.Contains(mf, "@") && strings.EqualFold(mf, replyDomain) {
						return "spf=pass", true
					}
				}
			case "dkim":
				d := am.Props["header.d"]
				if d == "" {
					d = addrDomain(am.Props["header.i"])
				}
				if aligned(replyDomain, d) {
					return "dkim=pass", true
				}
			case "dmarc":
				f := am.Props["header.from"]
				if strings.Contains(f, "@") {
					f = addrDomain(f)
				}
				if aligned(replyDomain, f) {
					return "dmarc=pass", true
				}
			case "compauth":
				// Exchange Online composite authentication (Microsoft, "Anti-spam message
				// headers": compauth=pass) vouches for the From domain: the one its dmarc
				// resinfo names, else the mail's single From. It verifies the reply
				// address only when that domain is aligned with it.
				f := fromDom
				for _, other := range ar.Methods {
					if other.Method == "dmarc" && other.Props["header.from"] != "" {
						f = other.Props["header.from"]
						if strings.Contains(f, "@") {
							f = addrDomain(f)
						}
						break
					}
				}
				if aligned(replyDomain, f) {
					return "compauth=pass", true
				}
			}
		}
	}
	return "", false
}

// aligned reports whether domain equals authDomain or is a subdomain of it. An authenticated
// domain without a dot (a top-level domain, "none") aligns with nothing.
func aligned(domain, authDomain string) bool {
	a := strings.ToLower(strings.Trim(strings.TrimSpace(authDomain), "."))
	if !strings.Contains(a, ".") {
		return false
	}
	d := strings.ToLower(domain)
	return d == a || strings.HasSuffix(d, "."+a)
}

// addrDomain returns the lower-case domain of an address ("" when there is none); a bare
// "@domain" (DKIM header.i) gives the domain.
func addrDomain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(addr[i+1:]))
}

// Verification modes (Settings.Verification): whose Authentication-Results are trusted.
const (
	// VerifyNone trusts no Authentication-Results: nobody is verified, no B rule applies.
	VerifyNone = "none"
	// VerifyAuthservID trusts every field whose authserv-id is Settings.AuthservID: the
	// office's own MTA with OpenDKIM/OpenDMARC, rspamd or similar (RFC 8601 §5; the MTA
	// must remove such fields arriving from outside).
	VerifyAuthservID = "authserv-id"
	// VerifyExchangeOnline trusts only the topmost Authentication-Results field and only
	// when it has no authserv-id, as Exchange Online Protection stamps it on every inbound
	// mail; its compauth=pass counts too. Lower fields (the sender's own) never count.
	VerifyExchangeOnline = "exchange-online"
	// VerifyGoogleWorkspace trusts only the topmost Authentication-Results field and only
	// when its authserv-id is mx.google.com, as Gmail stamps it on every inbound mail.
	VerifyGoogleWorkspace = "google-workspace"
)

// GoogleAuthservID is the authserv-id Gmail (and so Google Workspace) writes.
const GoogleAuthservID = "mx.google.com"

// verificationMode returns the effective mode: "" means authserv-id when one is configured.
func verificationMode(s *Settings) string {
	switch s.Verification {
	case "":
		if s.AuthservID != "" {
			return VerifyAuthservID
		}
		return VerifyNone
	case VerifyAuthservID:
		if s.AuthservID == "" {
			return VerifyNone
		}
	}
	return s.Verification
}

// primaryTrusted returns the Authentication-Results fields the configured mode trusts.
func primaryTrusted(m *mailparse.Message, s *Settings) []mailparse.AuthResult {
	switch verificationMode(s) {
	case VerifyAuthservID:
		return trustedResults(m, s.AuthservID)
	case VerifyExchangeOnline:
		// Exchange Online prepends its field above everything the sender wrote; only that
		// topmost position is its (Microsoft, "Anti-spam message headers in Microsoft 365").
		if ar, ok := topmost(m, "Authentication-Results"); ok && ar.AuthservID == "" {
			return []mailparse.AuthResult{ar}
		}
	case VerifyGoogleWorkspace:
		if ar, ok := topmost(m, "Authentication-Results"); ok && sameAuthservID(ar.AuthservID, GoogleAuthservID) {
			return []mailparse.AuthResult{ar}
		}
	}
	return nil
}

// topmost parses the topmost field named key itself: when it cannot be read, the readable
// fields below it (which anyone on the way may have written) must not take its place.
func topmost(m *mailparse.Message, key string) (mailparse.AuthResult, bool) {
	for _, f := range m.Fields {
		if strings.EqualFold(f.Key, key) {
			return mailparse.ParseAuthResults(f.Value)
		}
	}
	return mailparse.AuthResult{}, false
}

// sameAuthservID compares authserv-ids case-insensitively, ignoring a "/job-id" suffix.
func sameAuthservID(id, want string) bool {
	id = strings.TrimSpace(id)
	base, _, _ := strings.Cut(id, "/")
	return id != "" && (strings.EqualFold(id, want) || strings.EqualFold(base, want))
}

// trustedARC returns the ARC-Authentication-Results payload of a trusted sealer
// (RFC 8617 §4.1.1), or false. intake cannot check ARC seals after delivery (no DNS in
// the policy), so the field is believed only when it is the newest ARC set and in the
// position its sealer writes it:
//   - its instance is the highest of the mail and no other field has that instance
//     (RFC 8617 §4.2.1: one field per instance, else the chain is broken);
//   - it is the topmost ARC-Authentication-Results field (a sealer prepends its set);
//   - its authserv-id is one of the configured trusted sealers;
//   - the primary trusted results do not report arc=fail (a verifier on our side that
//     checked the chain overrules the position argument).
func trustedARC(m *mailparse.Message, s *Settings, primary []mailparse.AuthResult) (mailparse.AuthResult, bool) {
	if len(s.TrustedARCSealers) == 0 || len(m.ARCAuthResults) == 0 {
		return mailparse.AuthResult{}, false
	}
	top, ok := mailparse.ARCAuthResult{}, false
	for _, f := range m.Fields {
		if strings.EqualFold(f.Key, "ARC-Authentication-Results") {
			top, ok = mailparse.ParseARCAuthResults(f.Value) // the topmost field itself
			break
		}
	}
	if !ok {
		return mailparse.AuthResult{}, false
	}
	for _, a := range m.ARCAuthResults[1:] {
		if a.Instance >= top.Instance {
			return mailparse.AuthResult{}, false
		}
	}
	for _, ar := range primary {
		for _, am := range ar.Methods {
			if am.Method == "arc" && am.Result != "pass" {
				return mailparse.AuthResult{}, false
			}
		}
	}
	for _, sealer := range s.TrustedARCSealers {
		if sameAuthservID(top.AuthservID, sealer) {
			return top.AuthResult, true
		}
	}
	return mailparse.AuthResult{}, false
}

// verify says whether a trusted result proves replyAddr, and by which method ("spf",
// "dkim", "dmarc", "compauth", "arc"). primary are the trusted Authentication-Results,
// anyTrusted whether any trusted result (primary or ARC) was there at all.
func verify(m *mailparse.Message, s *Settings, replyAddr string) (primary []mailparse.AuthResult, by string, anyTrusted bool) {
	primary = primaryTrusted(m, s)
	arc, arcOK := trustedARC(m, s, primary)
	anyTrusted = len(primary) > 0 || arcOK
	if replyAddr == "" {
		return primary, "", anyTrusted
	}
	from := fromDomain(m)
	if d, ok := authenticated(primary, replyAddr, from); ok {
		method, _, _ := strings.Cut(d, "=")
		return primary, method, true
	}
	if arcOK {
		if _, ok := authenticated([]mailparse.AuthResult{arc}, replyAddr, from); ok {
			return primary, "arc", true
		}
	}
	return primary, "", anyTrusted
}

// fromDomain is the domain of the single From address ("" when there is not exactly one).
func fromDomain(m *mailparse.Message) string {
	if len(m.From) != 1 {
		return ""
	}
	return addrDomain(m.From[0].Addr)
}

// authRules applies B1-B4 (autoreply-rules.md "B: authenticity") to a mail that passed the S
// and A rules and goes to replyAddr. No B rule applies while no verification is configured.
func authRules(m *mailparse.Message, s *Settings, replyAddr string) (reason Reason, rule, detail string) {
	if verificationMode(s) == VerifyNone && len(s.TrustedARCSealers) == 0 {
		return "", "", ""
	}
	trusted, by, anyTrusted := verify(m, s, replyAddr)
	if d, ok := checkAuthFail(trusted); ok {
		return ReasonAuthFail, "B3", d
	}
	if !s.RequireAuthenticated {
		return "", "", ""
	}
	if !anyTrusted {
		// B4: no trusted result at all. SPF cannot be re-checked after delivery.
		return ReasonUnauthenticated, "B4", "no trusted Authentication-Results"
	}
	if by == "" {
		return ReasonUnauthenticated, "B2", "no SPF pass for the reply address and no aligned DKIM or DMARC pass"
	}
	return "", "", ""
}
