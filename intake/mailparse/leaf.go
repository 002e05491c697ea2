package mailparse

import (
	"io"
	"strings"
)

// Leaf is one non-multipart part of a mail as Walk meets it.
type Leaf struct {
	Type        string            // media type, lower case; "text/plain" when absent or unparsable
	Params      map[string]string // its parameters (charset, name, ...); keys lower case
	Disposition string            // Content-Disposition type: "attachment", "inline", ""
	Encoding    string            // Content-Transfer-Encoding, lower case; "" when absent
	// Attachment is the leaf's index in Message.Attachments and Filename the name listed
	// there; -1 and "" for a leaf that is not listed.
	Attachment int
	Filename   string
}

// Walk parses the mail from r as Parse does and calls visit for every leaf, in order, with
// the leaf's body as it stands in the mail: still in its Content-Transfer-Encoding (RFC 2045
// §6), without the line break that belongs to the next boundary (RFC 2046 §5.1.1). It is the
// one MIME walker of intake: the web's case view and downloads use it, so the attachment
// numbers there are those of Message.Attachments. visit returns false to end the walk (the
// Message then describes the mail only up to that leaf). Limits apply as in Parse.
//
// visit runs in its own goroutine while the walker feeds it the body; the walker waits for
// it before it goes on, so visits never overlap. A body visit leaves unread is skipped.
func Walk(r io.Reader, lim Limits, visit func(l Leaf, body io.Reader) bool) (*Message, error) {
	return parse(r, lim, visit)
}

// leafSink feeds the body of the current leaf to a Walk visitor through a pipe.
type leafSink struct {
	pw   *io.PipeWriter
	done chan bool // the visitor's answer, once it returned and the body was drained
	eol  []byte    // the line break held back: it may belong to the next boundary
}

// startSink hands the leaf e to the visitor of Walk.
func (w *walker) startSink(e entity, attachment int, name string) {
	l := Leaf{Type: e.mt.value, Params: e.mt.params, Disposition: strings.ToLower(e.disp), Encoding: e.cte,
		Attachment: attachment, Filename: name}
	pr, pw := io.Pipe()
	s := &leafSink{pw: pw, done: make(chan bool, 1)}
	visit := w.visit
	go func() {
		ok := false
		defer func() {
			_, _ = io.Copy(io.Discard, pr) // the walker must never block on an unread body
			s.done <- ok
		}()
		ok = visit(l, pr)
	}()
	w.sink = s
}

// write passes one chunk of the body on, holding back its line break.
func (s *leafSink) write(b []byte) {
	if len(s.eol) > 0 {
		_, _ = s.pw.Write(s.eol)
		s.eol = s.eol[:0]
	}
	n := len(b) - len(trimEOL(b))
	s.eol = append(s.eol, b[len(b)-n:]...)
	if len(b) > n {
		_, _ = s.pw.Write(b[:len(b)-n])
	}
}

// closeSink ends the body of the current leaf and waits for the visitor; its "false" stops
// the walk.
func (w *walker) closeSink() {
	s := w.sink
	if s == nil {
		return
	}
	w.sink = nil
	_ = s.pw.Close()
	if !<-s.done {
		w.stopped = true
	}
}
