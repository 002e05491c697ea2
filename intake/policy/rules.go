package policy

import (
	"strings"

	"github.com/intake-office/intake/intake/mailparse"
)

// keyword returns the first token of a structured value: comments removed, cut at ";",
// trimmed, lower case ("auto-replied (vacation); owner-email=..." -> "auto-replied").
func keyword(v string) string {
	v = mailparse.StripComments(v)
	v, _, _ = strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(v))
}

// safeToken clips a header keyword for Decision.Detail: printable ASCII only, short.
func safeToken(s string) string {
	var sb strings.Builder
	for _, r := range s {
		if sb.Len() >= 32 {
			sb.WriteString("...")
			break
		}
		if r > ' ' && r < 0x7f {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// checkAutoSubmitted is S2: any Auto-Submitted field whose keyword is not "no"
// (RFC 3834 §5, RFC 5230 §4.6). Every instance is checked (Pigeonhole does the same).
func checkAutoSubmitted(m *mailparse.Message, _ *Settings) (string, bool) {
	for _, v := range m.Values("Auto-Submitted") {
		if k := keyword(v); k != "" && k != "no" {
			return "Auto-Submitted: " + safeToken(k), true
		}
	}
	return "", false
}

// checkReport is S3: a machine report. multipart/report (RFC 6522) with any report-type, or
// a delivery-status (RFC 3464), disposition-notification (RFC 8098) or feedback-report
// (RFC 5965) part anywhere in the walked tree, including the internationalised variants of
// RFC 6533. RFC 3834 §3.2.1; RFC 8098 §2.1: "An MDN MUST NOT be generated in response to an
// MDN". Parts inside an attached message/rfc822 are not walked, so a forwarded report does
// not count.
func checkReport(m *mailparse.Message, _ *Settings) (string, bool) {
	if m.MediaType == "multipart/report" {
		return "multipart/report report-type=" + safeToken(m.ReportType), true
	}
	for _, t := range m.PartTypes {
		switch t {
		case "multipart/report", "message/delivery-status", "message/global-delivery-status",
			"message/disposition-notification", "message/global-disposition-notification",
			"message/feedback-report":
			return "part " + t, true
		}
	}
	return "", false
}

// systemLocalPart reports whether a local part belongs to mail software rather than a
// person: RFC 5230 §4.6 (MAILER-DAEMON, LISTSERV, majordomo, "-request", "owner-"), extended
// as RT and Discourse do (postmaster, no-reply, "-bounces"). A "+detail" suffix is ignored.
func systemLocalPart(lp string) (string, bool) {
	l := strings.ToLower(strings.TrimSpace(lp))
	if i := strings.IndexByte(l, '+'); i > 0 {
		l = l[:i]
	}
	switch l {
	case "mailer-daemon", "mailer_daemon", "mailerdaemon", "listserv", "majordomo",
		"postmaster", "post_master", "no-reply", "noreply", "no_reply",
		"do-not-reply", "donotreply", "do_not_reply", "bounce", "bounces":
		return "local-part " + l, true
	}
	switch {
	case strings.Contains(l, "-request"):
		return `local-part contains "-request"`, true
	case strings.HasPrefix(l, "owner-"):
		return `local-part starts with "owner-"`, true
	case strings.HasSuffix(l, "-bounces"), strings.HasSuffix(l, "-bounce"):
		return `local-part ends with "-bounces"`, true
	}
	return "", false
}

func localPart(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// checkSystemSender is S4 on the Return-Path, From and Sender. When From could not be parsed
// as an address (e.g. "From: MAILER-DAEMON" without a domain), its bare words are checked.
func checkSystemSender(m *mailparse.Message, _ *Settings) (string, bool) {
	for _, rp := range m.ReturnPaths {
		if d, ok := systemLocalPart(localPart(rp)); ok && rp != "" {
			return d + " in Return-Path", true
		}
	}
	for _, a := range m.From {
		if d, ok := systemLocalPart(localPart(a.Addr)); ok {
			return d + " in From", true
		}
	}
	if m.Sender != nil {
		if d, ok := systemLocalPart(localPart(m.Sender.Addr)); ok {
			return d + " in Sender", true
		}
	}
	if len(m.From) == 0 {
		for _, v := range m.Values("From") {
			for _, w := range strings.FieldsFunc(mailparse.StripComments(v), func(r rune) bool {
				return r == ' ' || r == '\t' || r == '<' || r == '>' || r == '"' || r == ',' || r == ';'
			}) {
				if d, ok := systemLocalPart(localPart(w)); ok {
					return d + " in From", true
				}
			}
		}
	}
	return "", false
}

// checkList is S5: RFC 2369 and RFC 2919 list fields and the legacy list markers
// (RFC 5230 §4.6 SHOULD NOT respond to lists; Pigeonhole _list_headers).
func checkList(m *mailparse.Message, _ *Settings) (string, bool) {
	for _, h := range []string{
		"List-Id", "List-Help", "List-Subscribe", "List-Unsubscribe", "List-Post", "List-Owner", "List-Archive",
		"X-Mailing-List", "Mailing-List", "X-BeenThere", "X-Mailman-Version",
	} {
		if m.Has(h) {
			return h, true
		}
	}
	return "", false
}

// checkPrecedence is S6: Precedence bulk, list or junk (RFC 3834 §7 example, Pigeonhole,
// RT); "auto_reply" as Discourse does.
func checkPrecedence(m *mailparse.Message, _ *Settings) (string, bool) {
	for _, v := range m.Values("Precedence") {
		switch k := keyword(v); k {
		case "bulk", "list", "junk", "auto_reply":
			return "Precedence: " + k, true
		}
	}
	return "", false
}

// checkXARS is S7: X-Auto-Response-Suppress (MS-OXCMAIL §2.1.3.2.20) asking for no
// out-of-office (OOF) or other auto-reply (AutoReply), or for nothing at all (All). The field
// is a request of the sender, not a sign of automation (sisimai issue #491): DR, NDR, RN and
// NRN alone do not stop the acknowledgement.
func checkXARS(m *mailparse.Message, _ *Settings) (string, bool) {
	for _, v := range m.Values("X-Auto-Response-Suppress") {
		for _, tok := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == ';' }) {
			switch t := strings.ToLower(tok); t {
			case "all", "oof", "autoreply":
				return "X-Auto-Response-Suppress: " + tok, true
			}
		}
	}
	return "", false
}

// checkVendor is S8: vendor auto-reply markers (Zammad OutOfOfficeCheck/AutoResponseCheck, RT).
// Exchange inbox rules mark what they forward or answer with X-MS-Exchange-Inbox-Rules-Loop;
// an X-Auto-Response-Suppress field on a mail with the null Return-Path is an Exchange
// out-of-office (sisimai rfc3834-02/04).
func checkVendor(m *mailparse.Message, _ *Settings) (string, bool) {
	for _, h := range []string{"X-MS-Exchange-Inbox-Rules-Loop", "X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-AutoReply-From", "X-Mail-Autoreply"} {
		if m.Has(h) {
			return h, true
		}
	}
	if m.Has("X-Auto-Response-Suppress") {
		for _, rp := range m.ReturnPaths {
			if rp == "" {
				return "X-Auto-Response-Suppress with Return-Path <>", true
			}
		}
	}
	for _, v := range m.Values("X-FC-MachineGenerated") {
		if keyword(v) == "true" {
			return "X-FC-MachineGenerated: true", true
		}
	}
	for _, v := range m.Values("X-Loop") {
		if k := keyword(v); k == "yes" || k == "true" {
			return "X-Loop: " + k, true
		}
	}
	for _, v := range m.Values("X-Autogenerated") { // Zammad: "X-Autogenerated: Reply"
		if keyword(v) == "reply" {
			return "X-Autogenerated: reply", true
		}
	}
	return "", false
}

// Subject heuristics (S9), from the Discourse is_auto_generated? expression plus German
// office mail: lower-case, compared after trimming.
func subjectPrefixes() []string {
	return []string{
		"auto:", "automatic reply", "auto reply", "auto-reply", "autoreply", "auto response", "auto-response",
		"out of office", "out of the office",
		"automatische antwort", "abwesenheitsnotiz", "abwesenheitsmeldung", "automatische abwesenheitsnotiz",
		"autosvar", "automatisk svar", "automatisch antwoord", "réponse automatique", "respuesta automática",
		"fuori sede", "frånvaro",
		// Outlook read receipts ("Gelesen: <subject>") normally come as multipart/report (S3);
		// some clients send them as plain mail.
		"gelesen:", "nicht gelesen:",
	}
}

func subjectFragments() []string {
	return []string{
		"undeliverable", "unzustellbar", "nicht zustellbar", "returned mail", "delivery status notification",
		"failure notice", "undelivered mail", "mail delivery failed", "delivery failure", "non-delivery",
		"mail system error", "delivery notification", "could not send message",
		// Microsoft JMRP spam complaints (sisimai arf-22..24): no ARF part, only this subject.
		"complaint about message from",
	}
}

// checkSubject is S9, used only in the safe direction (RFC 3834 §3.1.5 warns against relying
// on "Auto:" alone): it can only suppress, and the mail stays registered for review. The
// fragments are matched anywhere, so a person forwarding a bounce with its subject
// ("WG: Unzustellbar: ...") is suppressed too (sisimai lhost-sendmail-14 is labelled so);
// a forwarded bounce under a subject of the person's own is acknowledged.
func checkSubject(m *mailparse.Message, _ *Settings) (string, bool) {
	subj := strings.ToLower(strings.TrimSpace(m.Subject))
	if subj == "" {
		return "", false
	}
	for _, p := range subjectPrefixes() {
		if strings.HasPrefix(subj, p) {
			return "subject starts with " + strings.TrimSuffix(p, ":"), true
		}
	}
	for _, f := range subjectFragments() {
		if strings.Contains(subj, f) {
			return "subject contains " + f, true
		}
	}
	return "", false
}

// checkOwnLoop is S10: our own mail coming back (RT X-RT-Loop-Prevention, Zammad's Message-ID
// FQDN check, Pigeonhole's sender == recipient check): our loop header, a Message-ID in one
// of our domains, a Return-Path or From that is one of our addresses (office, own, envelope
// sender), or - when the ack envelope sender is a separate address - a mail sent to that
// address (a bounce of an ack).
func checkOwnLoop(m *mailparse.Message, s *Settings) (string, bool) {
	if s.LoopHeader != "" && m.Has(s.LoopHeader) {
		for _, v := range m.Values(s.LoopHeader) {
			if s.LoopID != "" && strings.TrimSpace(v) == s.LoopID {
				return "loop header of this instance", true
			}
		}
		return "loop header", true
	}
	if id := m.MessageID; id != "" {
		if at := strings.LastIndexByte(id, '@'); at >= 0 {
			dom := strings.ToLower(strings.Trim(id[at+1:], "[] "))
			for _, own := range s.OwnDomains {
				if dom == own {
					return "Message-ID in own domain", true
				}
			}
		}
	}
	own := func(addr string) bool {
		if addr == "" {
			return false
		}
		return contains(s.OfficeAddresses, addr) || contains(s.OwnAddresses, addr) ||
			s.EnvelopeFrom != "" && strings.EqualFold(addr, s.EnvelopeFrom)
	}
	for _, rp := range m.ReturnPaths {
		if own(rp) {
			return "Return-Path is an own address", true
		}
	}
	for _, a := range m.From {
		if own(a.Addr) {
			return "From is an own address", true
		}
	}
	if s.EnvelopeFrom != "" && !contains(s.OfficeAddresses, s.EnvelopeFrom) {
		for _, list := range [][]mailparse.Address{m.To, m.Cc, m.Bcc, m.ResentTo, m.ResentCc, m.ResentBcc} {
			for _, a := range list {
				if strings.EqualFold(a.Addr, s.EnvelopeFrom) {
					return "sent to the ack envelope sender", true
				}
			}
		}
		for _, h := range []string{"Delivered-To", "X-Original-To", "Envelope-To"} {
			for _, v := range m.Values(h) {
				if strings.EqualFold(strings.Trim(strings.TrimSpace(v), "<>"), s.EnvelopeFrom) {
					return "delivered to the ack envelope sender", true
				}
			}
		}
	}
	return "", false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// checkSpam is S11: the verdict of the spam filter in front of the mailbox (SpamAssassin
// X-Spam-Flag / X-Spam-Status, rspamd X-Spam). RFC 3834 §7 example; Discourse is_spam?.
// These fields are trusted only because the receiving MTA's filter writes them; a sender
// that forges them only suppresses its own acknowledgement.
func checkSpam(m *mailparse.Message, _ *Settings) (string, bool) {
	for _, v := range m.Values("X-Spam-Flag") {
		if keyword(v) == "yes" {
			return "X-Spam-Flag: yes", true
		}
	}
	for _, v := range m.Values("X-Spam-Status") {
		k := keyword(v)
		if k, _, _ = strings.Cut(k, ","); strings.TrimSpace(k) == "yes" {
			return "X-Spam-Status: yes", true
		}
	}
	for _, v := range m.Values("X-Spam") {
		if keyword(v) == "yes" {
			return "X-Spam: yes", true
		}
	}
	return "", false
}

// checkAddressed is A1: none of the office addresses appears in To, Cc, Bcc or Resent-*
// (RFC 3834 §2, RFC 5230 §4.5). It matches when the mail is NOT addressed to the office.
func checkAddressed(m *mailparse.Message, s *Settings) (string, bool) {
	for _, list := range [][]mailparse.Address{m.To, m.Cc, m.Bcc, m.ResentTo, m.ResentCc, m.ResentBcc} {
		for _, a := range list {
			if contains(s.OfficeAddresses, a.Addr) {
				return "", false
			}
		}
	}
	return "no office address in To/Cc/Bcc/Resent-*", true
}
