package mailparse

import (
	"bytes"
	"strings"
)

// DSN is the machine-readable part of a delivery status notification: the fields of a
// message/delivery-status part (RFC 3464 §2.2 per-message, §2.3 per-recipient) or of its
// RFC 6533 message/global-delivery-status variant.
type DSN struct {
	ReportingMTA string         // name part of Reporting-MTA ("dns; mx.example.org" -> "mx.example.org")
	Recipients   []DSNRecipient // per-recipient groups in order, at most maxDSNRecipients
}

// DSNRecipient is one per-recipient group of a DSN (RFC 3464 §2.3).
type DSNRecipient struct {
	// FinalRecipient is the address part of Final-Recipient ("rfc822; a@b" -> "a@b"), or of
	// Original-Recipient when Final-Recipient is missing.
	FinalRecipient string
	Action         string // lower case: "failed", "delayed", "delivered", "relayed", "expanded" (§2.3.3)
	Status         string // RFC 3463 status code such as "5.1.1"; "" when missing or unreadable (§2.3.4)
	Diagnostic     string // Diagnostic-Code text after its type ("smtp; 550 ..." -> "550 ..."), one line (§2.3.6)
}

// Bounds of the bounce-related data (autoreply-rules.md M3).
const (
	maxReturned            = 20       // ReturnedMessageIDs and ReturnedSubjects entries each
	maxReturnedParts       = 20       // returned-message parts whose header is read
	maxReturnedHeaderBytes = 64 << 10 // raw bytes kept of one returned header section
	maxReturnedSubject     = 500      // bytes of one returned subject
	maxDSNBytes            = 64 << 10 // raw bytes kept of the delivery-status part
	maxDSNRecipients       = 100
	maxDSNValue            = 500       // bytes of one DSN value
	maxScanParts           = 8         // text/plain parts of a bounce scanned for returned headers
	maxScanPartBytes       = 64 << 10  // decoded bytes scanned of one such part
	maxScanTotal           = 256 << 10 // decoded bytes scanned in all
	maxScanLogicalLine     = 4 << 10   // an unfolded line of returned text longer than this is cut
)

// isDSNType reports a delivery-status part (RFC 3464 §2.1, RFC 6533 §6.2).
func isDSNType(t string) bool {
	return t == "message/delivery-status" || t == "message/global-delivery-status"
}

// isReturnedType reports the parts that carry a returned message or its header section:
// message/rfc822 (RFC 2046 §5.2.1, RFC 3464 §2: the returned content), text/rfc822-headers
// (RFC 6522 §4), message/global and message/global-headers (RFC 6533 §3, §5), and the
// message/rfc822-headers and text/rfc822-header spellings seen in the wild.
func isReturnedType(t string) bool {
	switch t {
	case "message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "text/rfc822-header",
		"message/global", "message/global-headers":
		return true
	}
	return false
}

// bounceHeader reports whether the header section marks the mail as a bounce (a non-delivery
// or delivery report), which decides whether its plain text is searched for returned headers:
// a multipart/report of report-type delivery-status (RFC 3464, RFC 6522), the Exim and
// Exchange NDR fields, a MAILER-DAEMON or postmaster sender, or a null (or absent)
// Return-Path together with a bounce subject. A delivery-status part met later in the walk
// also makes the mail a bounce.
func bounceHeader(m *Message, top entity) bool {
	if top.mt.value == "multipart/report" {
		switch strings.ToLower(strings.TrimSpace(top.mt.params["report-type"])) {
		case "delivery-status", "global-delivery-status":
			return true
		}
	}
	if m.Has("X-Failed-Recipients") || m.Has("X-MS-Exchange-Message-Is-Ndr") {
		return true
	}
	for _, key := range []string{"From", "Sender", "Return-Path"} {
		for _, v := range m.Values(key) {
			v = strings.ToLower(v)
			for _, s := range []string{"mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster", "post_master",
				"mail delivery system", "mail delivery subsystem"} {
				if strings.Contains(v, s) {
					return true
				}
			}
		}
	}
	return m.NullSender() && BounceSubject(m.Subject)
}

// NullSender reports whether the mail has no Return-Path or a null one
// ("<>", RFC 5321 §4.5.5): how delivery reports are sent.
func (m *Message) NullSender() bool {
	for _, rp := range m.ReturnPaths {
		if rp == "" {
			return true
		}
	}
	return len(m.ReturnPaths) == 0
}

// BounceSubject reports whether a decoded subject reads like a
// non-delivery report, in English or German.
func BounceSubject(subject string) bool {
	subj := strings.ToLower(subject)
	for _, f := range []string{"undeliverable", "unzustellbar", "nicht zustellbar", "returned mail", "undelivered mail",
		"delivery status notification", "failure notice", "mail delivery failed", "delivery failure", "delivery has failed",
		"non-delivery", "nondeliverable", "could not be delivered", "zustellung fehlgeschlagen", "nicht zugestellt"} {
		if strings.Contains(subj, f) {
			return true
		}
	}
	return false
}

// addReturned records the Message-ID and Subject of one returned header section, each
// de-duplicated and capped at maxReturned.
func (w *walker) addReturned(id, rawSubject string) {
	m := w.m
	if id != "" && len(m.ReturnedMessageIDs) < maxReturned && !containsString(m.ReturnedMessageIDs, id) {
		m.ReturnedMessageIDs = append(m.ReturnedMessageIDs, id)
	}
	if strings.TrimSpace(rawSubject) == "" || len(m.ReturnedSubjects) >= maxReturned {
		return
	}
	subj := truncateUTF8(cleanLine(w.quiet.text(rawSubject)), maxReturnedSubject)
	if subj != "" && !containsString(m.ReturnedSubjects, subj) {
		m.ReturnedSubjects = append(m.ReturnedSubjects, subj)
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// returnedHeader reads the header section of a returned-message part: its first Message-ID
// and Subject. The section ends at the first blank line after a field (RFC 5322 §2.1).
func (w *walker) returnedHeader(b []byte) {
	w.scanHeaderBlocks(toUTF8(b), true)
}

// scanReturnedText finds returned header sections in the plain text of a bounce (qmail's
// "Below this line is a copy of the message", Exchange's "Original message headers", or
// headers pasted by other MTAs). Only blocks with a Message-ID line count.
func (w *walker) scanReturnedText(s string) {
	w.scanHeaderBlocks(s, false)
}

// scanHeaderBlocks reads s as blocks of lines separated by blank lines, each "Name: value"
// line unfolded: a line indented deeper than the line it follows continues it (RFC 5322
// §2.2.3), which also holds for header sections pasted with an indentation. It is lenient
// the way returned headers need it: lines that are no fields (folding lost on the way, as in
// many bounces) are skipped instead of ending the section, and leading ">" quote marks are
// ignored. first: only the first block is read (a returned header section), and its Subject
// counts even without a Message-ID; otherwise every block with a Message-ID line yields that
// ID and the block's Subject.
func (w *walker) scanHeaderBlocks(s string, first bool) {
	var blockID, blockSubject string
	haveID, haveSubject, inBlock := false, false, false
	var logical strings.Builder
	indent := -1 // indentation of the logical line; -1: none open
	flushLine := func() {
		if indent < 0 {
			return
		}
		key, val, ok := strings.Cut(logical.String(), ":")
		if ok {
			switch strings.ToLower(strings.TrimSpace(key)) {
			case "message-id":
				if !haveID {
					haveID = true
					if ids := msgIDs(val); len(ids) > 0 {
						blockID = ids[0]
					}
				}
			case "subject":
				if !haveSubject {
					blockSubject, haveSubject = strings.TrimSpace(val), true
				}
			}
		}
		logical.Reset()
		indent = -1
	}
	flushBlock := func() {
		flushLine()
		if blockID != "" || first {
			w.addReturned(blockID, blockSubject)
		}
		blockID, blockSubject = "", ""
		haveID, haveSubject, inBlock = false, false, false
	}
	for len(s) > 0 && len(w.m.ReturnedMessageIDs) < maxReturned {
		var line string
		line, s, _ = strings.Cut(s, "\n")
		line = stripQuoteMarks(strings.TrimRight(line, "\r"))
		n := len(line) - len(strings.TrimLeft(line, " \t"))
		content := strings.TrimSpace(line)
		switch {
		case content == "":
			if inBlock {
				flushBlock()
				if first {
					return
				}
			}
		case indent >= 0 && n > indent:
			if logical.Len() < maxScanLogicalLine {
				logical.WriteByte(' ')
				logical.WriteString(content)
			}
		default:
			flushLine()
			logical.WriteString(content[:min(len(content), maxScanLogicalLine)])
			indent, inBlock = n, true
		}
	}
	if inBlock {
		flushBlock()
	}
}

// stripQuoteMarks removes leading "> " quote marks (with the blanks between them).
func stripQuoteMarks(line string) string {
	t := strings.TrimLeft(line, " \t")
	if !strings.HasPrefix(t, ">") {
		return line
	}
	for strings.HasPrefix(t, ">") {
		t = strings.TrimLeft(t[1:], " \t")
	}
	return t
}

// parseDSN reads the fields of a delivery-status body (RFC 3464 §2.1): groups of header-style
// fields separated by blank lines, the first with the per-message fields. It is lenient
// about groups run together (a Final-Recipient starts a new recipient), fields before their
// group, and lines that are no fields (skipped).
func parseDSN(b []byte, dsn *DSN) {
	b = bytes.TrimLeft(b, "\r\n")
	lr := newLineReader(bytes.NewReader(b))
	var scratch problems
	for len(dsn.Recipients) < maxDSNRecipients {
		fields, end := readHeader(lr, len(b)+1, false, nil, &scratch)
		dsnGroup(fields, dsn)
		switch end {
		case endInput, endTooLarge:
			return
		case endBody: // a line that is no field: skip it
			if _, _, err := readWholeLine(lr, len(b)+1); err != nil {
				return
			}
		}
	}
}

// dsnGroup adds the fields of one group to dsn.
func dsnGroup(fields []Field, dsn *DSN) {
	var cur *DSNRecipient
	haveFinal := false
	seen := map[string]bool{}
	next := func() {
		if len(dsn.Recipients) >= maxDSNRecipients {
			cur = nil
			return
		}
		dsn.Recipients = append(dsn.Recipients, DSNRecipient{})
		cur = &dsn.Recipients[len(dsn.Recipients)-1]
		haveFinal = false
		clear(seen)
	}
	for _, f := range fields {
		key := strings.ToLower(f.Key)
		switch key {
		case "reporting-mta":
			if dsn.ReportingMTA == "" {
				dsn.ReportingMTA = typedValue(f.Value)
			}
			continue
		case "final-recipient":
			if cur == nil || haveFinal {
				next()
			}
		case "original-recipient", "action", "status", "diagnostic-code":
			if cur == nil {
				next()
			}
		default:
			continue
		}
		if cur == nil {
			return // recipient cap reached
		}
		if seen[key] {
			continue // the first instance wins
		}
		seen[key] = true
		switch key {
		case "final-recipient":
			cur.FinalRecipient, haveFinal = typedValue(f.Value), true
		case "original-recipient":
			if cur.FinalRecipient == "" {
				cur.FinalRecipient = typedValue(f.Value)
			}
		case "action":
			v, _, _ := strings.Cut(stripComments(toUTF8String(f.Value)), ";")
			cur.Action = truncateUTF8(strings.ToLower(strings.TrimSpace(v)), 32)
		case "status":
			cur.Status = findStatusCode(f.Value)
		case "diagnostic-code":
			cur.Diagnostic = typedValue(f.Value)
		}
	}
}

// typedValue returns the text of a typed DSN value "type; text" (RFC 3464 §2.1.2
// address-type, MTA-name-type, diagnostic-type) without the type, as one clean line; an
// address in angle brackets loses them. A value without a type is returned whole.
func typedValue(raw string) string {
	s := toUTF8String(raw)
	if typ, rest, ok := strings.Cut(s, ";"); ok && isToken(strings.TrimSpace(typ)) {
		s = rest
	}
	s = strings.TrimSpace(cleanLine(s))
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") && strings.Count(s, "<") == 1 {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return truncateUTF8(s, maxDSNValue)
}

// findStatusCode returns the first RFC 3463 enhanced status code of class 2, 4 or 5 in
// s that stands on its own, or "" (see FindStatusCode).
func findStatusCode(s string) string { return FindStatusCode(s, "245") }

// FindStatusCode returns the first RFC 3463 §2 enhanced status code (class "." subject
// "." detail: the class one of the bytes in classes, then 1-3 digits, then 1-3 digits) in
// s that stands on its own (not part of a longer dotted number such as an IP address or a
// version), or "". It is the one scanner for status codes in DSNs, bounce texts and SMTP
// replies.
func FindStatusCode(s, classes string) string {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(classes, s[i]) < 0 || !isDigit(s[i]) {
			continue
		}
		if i > 0 && (isDigit(s[i-1]) || s[i-1] == '.') {
			continue
		}
		j := i + 1
		ok := true
		for part := 0; part < 2 && ok; part++ {
			if j >= len(s) || s[j] != '.' {
				ok = false
				break
			}
			j++
			k := j
			for k < len(s) && isDigit(s[k]) && k-j < 3 {
				k++
			}
			if k == j || k < len(s) && isDigit(s[k]) {
				ok = false
			}
			j = k
		}
		if !ok || j < len(s) && s[j] == '.' && j+1 < len(s) && isDigit(s[j+1]) {
			continue
		}
		return s[i:j]
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
