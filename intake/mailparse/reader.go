package mailparse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxProblems bounds Message.Problems; a hostile mail must not grow it without limit.
const maxProblems = 32

// problems collects distinct non-fatal problems, at most maxProblems of them.
type problems struct {
	list []string
	seen map[string]bool
}

func (p *problems) add(s string) {
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if p.seen[s] {
		return
	}
	p.seen[s] = true
	switch {
	case len(p.list) < maxProblems:
		p.list = append(p.list, s)
	case len(p.list) == maxProblems:
		p.list = append(p.list, "further problems omitted")
	}
}

// crNormalizer turns every lone CR into LF. RFC 5322 §2.3 allows CR and LF only together as
// CRLF; a lone CR is the line end of old Mac software (autoreply-rules.md M2). CRLF and LF are
// passed through unchanged. It reads ahead at most one byte beyond what it returns.
type crNormalizer struct {
	br *bufio.Reader
}

func newCRNormalizer(r io.Reader) *crNormalizer {
	return &crNormalizer{br: bufio.NewReaderSize(r, 32<<10)}
}

func (c *crNormalizer) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.br.Buffered() == 0 {
		if _, err := c.br.Peek(1); err != nil {
			return 0, err
		}
	}
	// Leave room to look one byte past a CR at the end of the returned chunk.
	n := min(len(p), c.br.Buffered(), c.br.Size()-1)
	buf, _ := c.br.Peek(n)
	n = copy(p, buf)
	for i := 0; i < n; i++ {
		if p[i] != '\r' {
			continue
		}
		if i+1 < n {
			if p[i+1] != '\n' {
				p[i] = '\n'
			}
			continue
		}
		if next, _ := c.br.Peek(n + 1); len(next) <= n || next[n] != '\n' {
			p[i] = '\n' // last byte of the input, or followed by something other than LF
		}
	}
	_, _ = c.br.Discard(n)
	return n, nil
}

// lineReader hands out the input line by line. A line longer than its buffer comes in several
// chunks; start reports whether a chunk begins a line. Only the start of a line can be a MIME
// boundary, so long lines never need to be held in memory.
type lineReader struct {
	br       *bufio.Reader
	pending  []byte // a chunk given back with unread
	pendFull bool
	hasPend  bool
	atStart  bool
	err      error
}

// lineBufferSize is the longest chunk handed out at once; it must exceed the longest boundary
// line we accept (maxBoundary + 6).
const lineBufferSize = 16 << 10

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, lineBufferSize), atStart: true}
}

// next returns the next chunk (valid until the following call), whether it starts a line, and
// the read error that ended the input (io.EOF at the normal end) once nothing is left.
func (l *lineReader) next() (chunk []byte, start bool, err error) {
	if l.hasPend {
		l.hasPend = false
		l.atStart = l.pendFull
		return l.pending, true, nil
	}
	if l.err != nil {
		return nil, false, l.err
	}
	start = l.atStart
	chunk, err = l.br.ReadSlice('\n')
	switch {
	case err == nil:
		l.atStart = true
	case errors.Is(err, bufio.ErrBufferFull):
		l.atStart = false
		err = nil
	default:
		l.err = err
		l.atStart = true
		if len(chunk) > 0 {
			err = nil // hand out the last, unterminated line first
		}
	}
	return chunk, start, err
}

// skipToDashLine discards input up to the next line that starts with "--" (a possible MIME
// boundary) or the end of input, searching the buffer at memchr speed instead of handing out
// line after line. It only acts at the start of a line and when no line was given back.
func (l *lineReader) skipToDashLine() {
	if l.hasPend || !l.atStart || l.err != nil {
		return
	}
	for {
		head, _ := l.br.Peek(2)
		if len(head) < 2 || head[0] == '-' && head[1] == '-' {
			return // end of input (next reports it) or a candidate line
		}
		data, _ := l.br.Peek(l.br.Buffered())
		if i := bytes.Index(data, []byte("\n--")); i >= 0 {
			_, _ = l.br.Discard(i + 1)
			return
		}
		if j := bytes.LastIndexByte(data, '\n'); j >= 0 {
			_, _ = l.br.Discard(j + 1) // still at a line start; a "\n-" at the end is re-read
			continue
		}
		l.skipRestOfLine() // a line longer than the buffer
		if l.err != nil {
			return
		}
	}
}

// skipRestOfLine discards up to and including the next "\n".
func (l *lineReader) skipRestOfLine() {
	for {
		_, err := l.br.ReadSlice('\n')
		switch {
		case err == nil:
			l.atStart = true
			return
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			l.err = err
			l.atStart = true
			return
		}
	}
}

// unread gives back a whole line (start == true) so that the next call returns it again.
func (l *lineReader) unread(line []byte) {
	l.pending = append(l.pending[:0], line...)
	l.pendFull = l.atStart
	l.hasPend = true
}

// trimEOL removes a trailing "\r\n" or "\n".
func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// headerEnd says how a header section ended.
type headerEnd int

const (
	endBlankLine headerEnd = iota // the normal end (RFC 5322 §2.1)
	endBody                       // a line that is no header field: the body starts there
	endBoundary                   // a MIME boundary line (a part without header or body)
	endInput                      // end of input
	endTooLarge                   // MaxHeaderBytes reached; the rest is not read
)

// readHeader reads one header section (RFC 5322 §2.2): "name: value" fields, folded lines
// unfolded (§2.2.3: only the line breaks are removed), duplicates kept in order. It is
// tolerant: white space before the colon is accepted, a leading "From " mbox line is skipped,
// a first line that is a continuation is dropped, and a line that is no field ends the
// header as if a blank line preceded it (the line is left for the body). isBoundary, if
// set, stops at a MIME boundary line. At most max bytes are read.
func readHeader(lr *lineReader, max int, top bool, isBoundary func([]byte) bool, probs *problems) ([]Field, headerEnd) {
	var fields []Field
	var cur []byte // current field: "name:value", unfolded, without line ends
	read := 0
	flush := func() {
		if cur == nil {
			return
		}
		i := bytes.IndexByte(cur, ':')
		fields = append(fields, Field{
			Key:   string(bytes.TrimRight(cur[:i], " \t")),
			Value: string(bytes.Trim(cur[i+1:], " \t")),
		})
		cur = nil
	}
	first := true
	for {
		line, tooLarge, err := readWholeLine(lr, max-read)
		read += len(line)
		if tooLarge {
			flush()
			probs.add(fmt.Sprintf("header section larger than %d bytes; rest of the mail not read", max))
			return fields, endTooLarge
		}
		if len(line) == 0 && err != nil {
			flush()
			if !errors.Is(err, io.EOF) {
				probs.add("read error in header: " + clip(err.Error(), 80))
			}
			return fields, endInput
		}
		if first && top && bytes.HasPrefix(line, []byte("\xef\xbb\xbf")) {
			probs.add("byte order mark skipped")
			line = line[3:]
		}
		content := trimEOL(line)
		if len(content) == 0 {
			flush()
			return fields, endBlankLine
		}
		if isBoundary != nil && isBoundary(line) {
			flush()
			lr.unread(line)
			return fields, endBoundary
		}
		wasFirst := first
		first = false
		if content[0] == ' ' || content[0] == '\t' {
			if cur == nil {
				probs.add("header starts with a continuation line")
				continue
			}
			cur = append(cur, content...) // RFC 5322 §2.2.3 unfolding
			continue
		}
		if isFieldLine(content) {
			flush()
			cur = append([]byte(nil), content...)
			continue
		}
		if wasFirst && top && bytes.HasPrefix(content, []byte("From ")) {
			probs.add("mbox From_ line skipped")
			continue
		}
		flush()
		probs.add("header line without field name; body assumed to start there")
		lr.unread(line)
		return fields, endBody
	}
}

// isFieldLine reports "name:" with a name of printable ASCII other than ":" (RFC 5322 §2.2),
// allowing white space between name and colon (RFC 5322 §4.5.3 obsolete syntax).
func isFieldLine(b []byte) bool {
	i := bytes.IndexByte(b, ':')
	if i <= 0 {
		return false
	}
	name := bytes.TrimRight(b[:i], " \t")
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// readWholeLine reads one line, joining chunks, but never more than budget bytes.
func readWholeLine(lr *lineReader, budget int) (line []byte, tooLarge bool, err error) {
	for {
		chunk, _, err := lr.next()
		if err != nil {
			return line, false, err // only once nothing is left: line is empty here
		}
		if len(line)+len(chunk) > budget {
			return line, true, nil
		}
		line = append(line, chunk...)
		if lr.atStart { // the chunk completed the line
			return line, false, nil
		}
	}
}
