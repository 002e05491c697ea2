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
//   - dmarc=pass whose header.from domain is aligned with the reply domain.
//
// Aligned: the reply domain equals the authenticated domain or is a subdomain of it (the
// relaxed mode of RFC 7489 §3.1, one direction: the authenticated domain must cover the
// domain we send to).
func authenticated(trusted []mailparse.AuthResult, replyAddr string) (string, bool) {
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

// verified tells whether a trusted SPF, aligned DKIM or aligned DMARC pass (B2) proves
// d.Recipient, the envelope sender the acknowledgement goes to, and by which method. A
// trusted fail (B3) is never verified.
func verified(m *mailparse.Message, s *Settings, d Decision) (bool, string) {
	if s.AuthservID == "" || d.Recipient == "" || d.Reason == ReasonAuthFail {
		return false, ""
	}
	how, ok := authenticated(trustedResults(m, s.AuthservID), d.Recipient)
	if !ok {
		return false, ""
	}
	return true, strings.TrimSuffix(how, "=pass")
}

// authRules applies B1-B4 (autoreply-rules.md "B: authenticity") to a mail that passed the S
// and A rules and goes to replyAddr. No B rule applies without a configured authserv-id.
func authRules(m *mailparse.Message, s *Settings, replyAddr string) (reason Reason, rule, detail string) {
	if s.AuthservID == "" {
		return "", "", ""
	}
	trusted := trustedResults(m, s.AuthservID)
	if d, ok := checkAuthFail(trusted); ok {
		return ReasonAuthFail, "B3", d
	}
	if !s.RequireAuthenticated {
		return "", "", ""
	}
	if len(trusted) == 0 {
		// B4: no trusted result at all. SPF cannot be re-checked after delivery.
		return ReasonUnauthenticated, "B4", "no Authentication-Results of the receiving MTA"
	}
	if _, ok := authenticated(trusted, replyAddr); !ok {
		return ReasonUnauthenticated, "B2", "no SPF pass for the reply address and no aligned DKIM or DMARC pass"
	}
	return "", "", ""
}
