package mailparse

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"
)

// Limits bound the work Parse does for one mail. Zero (or negative) fields take the defaults.
type Limits struct {
	MaxHeaderBytes int // per header section (the mail's and each part's); default 1 MiB
	MaxParts       int // MIME entities walked, the mail itself included; default 1000
	MaxDepth       int // multipart nesting opened; deeper multiparts are skipped; default 20
	MaxTextBytes   int // bytes of Message.Text; default 64 KiB
}

// Default limits (autoreply-rules.md M3).
const (
	DefaultMaxHeaderBytes = 1 << 20
	DefaultMaxParts       = 1000
	DefaultMaxDepth       = 20
	DefaultMaxTextBytes   = 64 << 10
)

// maxBoundary is the longest multipart boundary accepted. RFC 2046 §5.1.1 allows 70
// characters; longer ones are tolerated up to this length, beyond it the multipart is not
// walked (mime4j very-very-long-boundary.msg).
const maxBoundary = 256

// maxTextCeiling caps Limits.MaxTextBytes (16 MiB).
const maxTextCeiling = 16 << 20

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = DefaultMaxTextBytes
	}
	// The text collector keeps up to 16 times MaxTextBytes of encoded HTML; keep that sane.
	l.MaxTextBytes = min(l.MaxTextBytes, maxTextCeiling)
	return l
}

// Address is one mailbox of an address header.
type Address struct{ Name, Addr string } // Addr: domain lower-cased, local part as is

// Field is one header field as it appeared.
type Field struct{ Key, Value string } // Value unfolded, raw (not decoded)

// Message is what Parse found in a mail.
type Message struct {
	Fields                                     []Field  // every header field in order (duplicates kept)
	ReturnPaths                                []string // each Return-Path value, addr-spec without <>, "" for <>
	From                                       []Address
	Sender                                     *Address
	ReplyTo                                    []Address
	To, Cc, Bcc, ResentTo, ResentCc, ResentBcc []Address
	Subject                                    string // decoded, valid UTF-8, CR/LF removed
	MessageID                                  string // without <>, "" if none
	InReplyTo, References                      []string
	Date                                       time.Time
	MediaType                                  string   // top-level, lower case ("text/plain" if absent)
	ReportType                                 string   // multipart/report report-type param
	PartTypes                                  []string // media types of all parts walked (bounded)
	Attachments                                []string // sanitised file names (no path separators, no control chars)
	Text                                       string   // up to MaxTextBytes of the plain text body (HTML stripped to text), UTF-8
	Problems                                   []string // non-fatal problems met while parsing

	// DSN is set when a message/delivery-status part (RFC 3464; or RFC 6533
	// message/global-delivery-status) was walked, even when none of its fields could be read.
	DSN *DSN
	// ReturnedMessageIDs are the Message-IDs (without <>) of returned messages: the header
	// sections of message/rfc822, text/rfc822-headers (and their RFC 6533 and misspelt
	// variants) parts, then "Message-ID:" lines of header blocks inside the text/plain parts
	// of a mail that is a bounce (qmail, Exchange "Original message headers"). Only header
	// sections are read, each up to 64 KiB; de-duplicated, at most 20.
	ReturnedMessageIDs []string
	// ReturnedSubjects are the decoded Subjects of those returned header sections (one line,
	// valid UTF-8), de-duplicated, at most 20.
	ReturnedSubjects []string
	// AuthResults are the parsed Authentication-Results fields (RFC 8601) in header order,
	// whoever wrote them; at most 50. Which of them to trust is the policy's decision (B1).
	AuthResults []AuthResult
	// ARCAuthResults are the parsed ARC-Authentication-Results fields (RFC 8617 §4.1.1) in
	// header order, whoever wrote them; at most 50. Which to trust is the policy's decision.
	ARCAuthResults []ARCAuthResult
}

// Get returns the raw value of the first field named key (case-insensitive), "" if none.
func (m *Message) Get(key string) string {
	if m == nil {
		return ""
	}
	for _, f := range m.Fields {
		if strings.EqualFold(f.Key, key) {
			return f.Value
		}
	}
	return ""
}

// Values returns the raw values of every field named key (case-insensitive), in order.
func (m *Message) Values(key string) []string {
	if m == nil {
		return nil
	}
	var out []string
	for _, f := range m.Fields {
		if strings.EqualFold(f.Key, key) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Has reports whether a field named key (case-insensitive) is present, even with an empty value.
func (m *Message) Has(key string) bool {
	if m == nil {
		return false
	}
	for _, f := range m.Fields {
		if strings.EqualFold(f.Key, key) {
			return true
		}
	}
	return false
}

// ErrNoHeader is returned (wrapped) by Parse when the input has no header section at all.
var ErrNoHeader = errors.New("no header section")

// maxIDs bounds In-Reply-To and References: the first (thread root) and the last entries
// are kept (RFC 5322 §3.6.4: the last is the parent).
const maxIDs = 100

// Parse never panics; it returns an error only when nothing useful could be read (no header
// section at all); the caller then registers the mail as malformed.
//
// Parse reads r as far as needed: to the end of the mail, or until a limit stops the walk.
func Parse(r io.Reader, lim Limits) (msg *Message, err error) {
	return parse(r, lim, nil)
}

// parse is Parse, and Walk with a visitor.
func parse(r io.Reader, lim Limits, visit func(Leaf, io.Reader) bool) (msg *Message, err error) {
	lim = lim.withDefaults()
	m := &Message{}
	var probs problems
	defer func() {
		if rec := recover(); rec != nil { // last resort; the steps below recover themselves
			probs.add(panicProblem("parse", rec))
		}
		m.Problems = probs.list
		msg = m
		if len(m.Fields) == 0 {
			msg = nil
			err = fmt.Errorf("parse mail: %w", ErrNoHeader)
			if len(probs.list) > 0 {
				err = fmt.Errorf("parse mail: %w (%s)", ErrNoHeader, strings.Join(probs.list, "; "))
			}
		}
	}()
	if r == nil {
		return nil, nil // completed by the deferred function
	}

	lr := newLineReader(newCRNormalizer(r))
	var end headerEnd
	safely(&probs, "header", func() {
		m.Fields, end = readHeader(lr, lim.MaxHeaderBytes, true, nil, &probs)
	})
	if len(m.Fields) == 0 {
		return nil, nil
	}
	d := newDecoder(&probs)
	top := entity{mt: mediaType{value: "text/plain", params: map[string]string{}}}
	m.MediaType = top.mt.value
	safely(&probs, "header fields", func() { top = interpretHeader(m, d) })
	if end == endTooLarge {
		m.PartTypes = []string{m.MediaType}
		return m, nil
	}
	safely(&probs, "body", func() {
		w := &walker{m: m, d: d, lim: lim, probs: &probs, lr: lr, visit: visit}
		w.run(top, end)
	})
	return m, nil
}

// safely runs fn, turning a panic into a problem: one broken mail must never stop a mailbox
// (DESIGN.md invariant 6).
func safely(p *problems, step string, fn func()) {
	defer func() {
		if rec := recover(); rec != nil {
			p.add(panicProblem(step, rec))
		}
	}()
	fn()
}

func panicProblem(step string, rec any) string {
	stack := string(debug.Stack())
	if i := strings.Index(stack, "mailparse."); i >= 0 {
		stack = stack[i:]
		if j := strings.IndexByte(stack, '\n'); j >= 0 {
			stack = stack[:j]
		}
	} else {
		stack = ""
	}
	return clip(fmt.Sprintf("internal error in %s: %v %s", step, rec, stack), 200)
}

// interpretHeader fills the header-derived fields of m and returns the top-level entity.
func interpretHeader(m *Message, d *decoder) entity {
	var from, sender, replyTo, to, cc, bcc, rto, rcc, rbcc []Address
	// The address fields; each may occur more than once and collects all its lists.
	lists := map[string]*[]Address{
		"from": &from, "sender": &sender, "reply-to": &replyTo, "to": &to, "cc": &cc, "bcc": &bcc,
		"resent-to": &rto, "resent-cc": &rcc, "resent-bcc": &rbcc,
	}
	for _, f := range m.Fields {
		key := strings.ToLower(f.Key)
		if list, ok := lists[key]; ok {
			*list = append(*list, d.addressList(f.Key, f.Value)...)
			continue
		}
		switch key {
		case "return-path":
			m.ReturnPaths = append(m.ReturnPaths, returnPath(f.Value))
		case "subject":
			if m.Subject == "" {
				m.Subject = cleanLine(d.text(f.Value))
			}
		case "message-id":
			if m.MessageID == "" {
				if ids := msgIDs(f.Value); len(ids) > 0 {
					m.MessageID = ids[0]
				} else if strings.TrimSpace(f.Value) != "" {
					d.problems.add("unparsable Message-ID")
				}
			}
		case "in-reply-to":
			m.InReplyTo = append(m.InReplyTo, msgIDs(f.Value)...)
		case "references":
			m.References = append(m.References, msgIDs(f.Value)...)
		case "authentication-results":
			if len(m.AuthResults) < maxAuthResults {
				if ar, ok := ParseAuthResults(f.Value); ok {
					m.AuthResults = append(m.AuthResults, ar)
				}
			}
		case "arc-authentication-results":
			if len(m.ARCAuthResults) < maxAuthResults {
				if ar, ok := ParseARCAuthResults(f.Value); ok {
					m.ARCAuthResults = append(m.ARCAuthResults, ar)
				}
			}
		case "date":
			if m.Date.IsZero() {
				if t, ok := parseDate(f.Value); ok {
					m.Date = t
				} else {
					d.problems.add("unparsable Date")
				}
			}
		}
	}
	m.From, m.ReplyTo, m.To, m.Cc, m.Bcc = from, replyTo, to, cc, bcc
	m.ResentTo, m.ResentCc, m.ResentBcc = rto, rcc, rbcc
	if len(sender) > 0 {
		s := sender[0]
		m.Sender = &s
	}
	m.InReplyTo = capIDs(m.InReplyTo)
	m.References = capIDs(m.References)

	top := d.entityOf(m.Fields, "text/plain")
	m.MediaType = top.mt.value
	return top
}

func capIDs(ids []string) []string {
	if len(ids) <= maxIDs {
		return ids
	}
	return append([]string{ids[0]}, ids[len(ids)-maxIDs+1:]...)
}
