package policy

import (
	"strings"
	"unicode"

	"github.com/intake-office/intake/intake/mailparse"
)

// OurAck reports whether m refers to one of our acknowledgements and returns the first such
// Message-ID (without <>): one whose domain (right of the last "@", case-insensitive) is one
// of ownDomains, looked for in m.ReturnedMessageIDs (the headers a bounce returns), then
// m.InReplyTo, then m.References from the newest (last) to the oldest. Our acknowledgement
// Message-IDs look like "STK-2026-000042-6.17.<tag>.ack@intake.stk.example.de".
//
// OurAck says nothing about what kind of mail m is: a bounce of an acknowledgement, an
// auto-reply to it and a person's reply to it all refer to it. BounceStatus tells a
// delivery failure apart. Nor does it prove anything: anyone can write an ID in our domain.
// Only the register can check an ID's tag (ticket.Store.AckByID), so a caller that acts on
// the ID tries every candidate of OurAckIDs until one verifies.
func OurAck(m *mailparse.Message, ownDomains []string) (messageID string, ok bool) {
	ids := OurAckIDs(m, ownDomains)
	if len(ids) == 0 {
		return "", false
	}
	return ids[0], true
}

// maxOurAckIDs bounds OurAckIDs: a mail naming more IDs of ours than this is not worth
// more register lookups.
const maxOurAckIDs = 8

// OurAckIDs returns the Message-IDs of m in one of ownDomains in the order OurAck looks
// for them, without duplicates, at most maxOurAckIDs.
func OurAckIDs(m *mailparse.Message, ownDomains []string) []string {
	if m == nil {
		return nil
	}
	var domains []string
	for _, d := range ownDomains {
		if d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "<>@")); d != "" {
			domains = append(domains, d)
		}
	}
	if len(domains) == 0 {
		return nil
	}
	var out []string
	add := func(id string) {
		if len(out) >= maxOurAckIDs {
			return
		}
		dom := messageIDDomain(id)
		for _, d := range domains {
			if dom == d {
				for _, seen := range out {
					if seen == id {
						return
					}
				}
				out = append(out, id)
				return
			}
		}
	}
	for _, id := range m.ReturnedMessageIDs {
		add(id)
	}
	for _, id := range m.InReplyTo {
		add(id)
	}
	for i := len(m.References) - 1; i >= 0; i-- {
		add(m.References[i])
	}
	return out
}

// messageIDDomain returns the lower-case id-right of a Message-ID (RFC 5322 §3.6.4), without
// the brackets of a domain literal; "" when there is none.
func messageIDDomain(id string) string {
	at := strings.LastIndexByte(id, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(strings.Trim(id[at+1:], "[] \t<>"))
}

// ThreadIDs returns the Message-IDs m replies to, newest first, without duplicates:
// In-Reply-To (the parent, RFC 5322 §3.6.4) in its order, then References from the last (the
// parent) to the first (the thread root). Message-IDs are compared with the domain part
// lower-cased; the first spelling is kept.
func ThreadIDs(m *mailparse.Message) []string {
	if m == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		id = strings.TrimSpace(id)
		if id == "" {
			return
		}
		key := id
		if at := strings.LastIndexByte(id, '@'); at >= 0 {
			key = id[:at+1] + strings.ToLower(id[at+1:])
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, id)
		}
	}
	for _, id := range m.InReplyTo {
		add(id)
	}
	for i := len(m.References) - 1; i >= 0; i-- {
		add(m.References[i])
	}
	return out
}

// maxBounceDetail caps the detail returned by BounceStatus.
const maxBounceDetail = 300

// BounceStatus returns the delivery failure a bounce reports: the RFC 3463 status code and
// the diagnostic text. A non-empty status always means a failed delivery:
//
//   - a DSN (RFC 3464): the first recipient with Action "failed" (or no Action and a 5.x.x
//     Status); its 4.x.x or 5.x.x Status, else a code in its Diagnostic-Code, else "5.0.0"
//     (RFC 3463 §3.1 "other undefined status": Action failed is final, RFC 3464 §2.3.3). A
//     4.x.x status there means the MTA gave up after temporary errors. A DSN whose
//     recipients were all delayed, delivered, relayed or expanded gives "".
//   - another bounce (MAILER-DAEMON or postmaster sender, X-Failed-Recipients, an Exchange
//     NDR, a null Return-Path with a bounce subject, or a DSN part without recipients): the
//     first 5.x.x code in its text before the returned message, else the first 4.x.x code,
//     else a bare SMTP reply code (RFC 5321 §4.2: "550 ...") as "5.0.0" or "4.0.0"; the
//     detail is the line the code stands on. A delay warning gives "".
//
// Anything else (a person's mail, an auto-reply, a read receipt, a spam report) gives "",
// and so does a bounce without any code. The detail is one line of at most 300 bytes; it is
// the remote server's text and may contain an address.
func BounceStatus(m *mailparse.Message) (status, detail string) {
	if m == nil {
		return "", ""
	}
	if m.DSN != nil && len(m.DSN.Recipients) > 0 {
		for _, r := range m.DSN.Recipients {
			if r.Action == "failed" || r.Action == "" && strings.HasPrefix(r.Status, "5.") {
				st := r.Status
				if !strings.HasPrefix(st, "4.") && !strings.HasPrefix(st, "5.") {
					st, _ = failureCode(r.Diagnostic) // no Status, or a contradictory 2.x.x
				}
				if st == "" {
					st = "5.0.0"
				}
				return st, oneLine(r.Diagnostic, maxBounceDetail)
			}
		}
		return "", ""
	}
	if !isBounce(m) || isDelayWarning(m) {
		return "", ""
	}
	var first4, line4 string
	var bare5, bareLine5, bare4, bareLine4 string
	for _, line := range diagnosticLines(m.Text) {
		if st, class := failureCode(line); st != "" {
			if class == '5' {
				return st, oneLine(line, maxBounceDetail)
			}
			if first4 == "" {
				first4, line4 = st, line
			}
			continue
		}
		if c := bareReplyCode(line); c == '5' && bare5 == "" {
			bare5, bareLine5 = "5.0.0", line
		} else if c == '4' && bare4 == "" {
			bare4, bareLine4 = "4.0.0", line
		}
	}
	switch {
	case first4 != "":
		return first4, oneLine(line4, maxBounceDetail)
	case bare5 != "":
		return bare5, oneLine(bareLine5, maxBounceDetail)
	case bare4 != "":
		return bare4, oneLine(bareLine4, maxBounceDetail)
	}
	return "", ""
}

// isBounce reports a non-delivery report that is not (or not readably) a DSN. Read receipts
// (RFC 8098) and spam reports (RFC 5965) are reports but no bounces.
func isBounce(m *mailparse.Message) bool {
	switch m.ReportType {
	case "delivery-status", "global-delivery-status":
		return true
	case "disposition-notification", "feedback-report":
		return false
	}
	if m.DSN != nil || m.Has("X-Failed-Recipients") || m.Has("X-MS-Exchange-Message-Is-Ndr") {
		return true
	}
	bounceSender := func(addr string) bool {
		switch strings.ToLower(localPart(addr)) {
		case "mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster", "post_master":
			return true
		}
		return false
	}
	for _, rp := range m.ReturnPaths {
		if bounceSender(rp) {
			return true
		}
	}
	for _, a := range m.From {
		if bounceSender(a.Addr) {
			return true
		}
	}
	if m.Sender != nil && bounceSender(m.Sender.Addr) {
		return true
	}
	if len(m.From) == 0 && strings.Contains(strings.ToLower(m.Get("From")), "mailer-daemon") {
		return true
	}
	return m.NullSender() && mailparse.BounceSubject(m.Subject)
}

// isDelayWarning reports a "still trying" notice, which is no failure.
func isDelayWarning(m *mailparse.Message) bool {
	subj := strings.ToLower(m.Subject)
	for _, f := range []string{"delayed", "delay)", "delivery delay", "warning:", "verzögert", "still being retried"} {
		if strings.Contains(subj, f) {
			return true
		}
	}
	return false
}

// diagnosticLines returns the lines of a bounce text before the returned message (qmail's
// "Below this line is a copy of the message", Exchange's "Original message headers", or the
// first line of a returned header section), so that codes quoted in the returned mail do
// not count.
func diagnosticLines(text string) []string {
	var out []string
	for len(text) > 0 && len(out) < 2000 {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		l := strings.ToLower(strings.TrimSpace(line))
		for _, p := range []string{"received:", "return-path:", "message-id:", "dkim-signature:"} {
			if strings.HasPrefix(l, p) {
				return out
			}
		}
		for _, f := range []string{"copy of the message", "copy of your message", "original message headers",
			"ursprüngliche nachrichtenkopfzeilen", "original message follows", "original message ---",
			"header of the original message", "undelivered message follows", "kopie der nachricht"} {
			if strings.Contains(l, f) {
				return out
			}
		}
		out = append(out, line)
	}
	return out
}

// failureCode returns the first RFC 3463 enhanced status code of class 4 or 5 in s that
// stands on its own (not part of a longer dotted number such as an IP address or a version),
// preferring class 5 over class 4, and the class of the code returned.
func failureCode(s string) (code string, class byte) {
	if code := mailparse.FindStatusCode(s, "5"); code != "" {
		return code, '5'
	}
	if code := mailparse.FindStatusCode(s, "4"); code != "" {
		return code, '4'
	}
	return "", 0
}

// bareReplyCode finds an SMTP reply code of a failure (RFC 5321 §4.2.1: 4yz transient,
// 5yz permanent; y 0-5) at the start of the line, after ": " or a transcript's "<<< ", or
// after "'", "(" or a double quote, followed by a space or "-" (multi-line reply). It returns
// the class, or 0.
func bareReplyCode(line string) byte {
	s := strings.TrimLeft(line, " \t")
	for i := 0; i+3 <= len(s); i++ {
		if i > 0 {
			prev := s[i-1]
			if !(prev == ' ' && i > 1 && (s[i-2] == ':' || s[i-2] == '<') || prev == '\'' || prev == '(' || prev == '"') {
				continue
			}
		}
		c := s[i]
		if (c != '4' && c != '5') || s[i+1] < '0' || s[i+1] > '5' || !isDigit(s[i+2]) {
			continue
		}
		if i+3 == len(s) || s[i+3] == ' ' || s[i+3] == '-' {
			return c
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// oneLine makes remote text safe to store and show: valid UTF-8, no control characters,
// blanks collapsed, at most max bytes (cut at a rune boundary).
func oneLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	return mailparse.TruncateUTF8(s, max)
}
