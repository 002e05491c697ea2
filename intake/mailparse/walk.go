package mailparse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// entity is the MIME view of one header section (RFC 2045 §5, §6; RFC 2183).
type entity struct {
	mt       mediaType
	cte      string // lower case, "" when absent
	disp     string // "inline", "attachment", "" ...
	filename string // raw (not yet sanitised)
}

// entityOf reads the MIME fields of a header section. A missing or unparsable Content-Type
// gives defaultType (RFC 2045 §5.2: text/plain; RFC 2046 §5.1.5: message/rfc822 inside
// multipart/digest).
func (d *decoder) entityOf(fields []Field, defaultType string) entity {
	var e entity
	var ct, cd, cte string
	var haveCT, haveCD, haveCTE bool
	for _, f := range fields {
		switch strings.ToLower(f.Key) {
		case "content-type":
			if !haveCT {
				ct, haveCT = f.Value, true
			}
		case "content-disposition":
			if !haveCD {
				cd, haveCD = f.Value, true
			}
		case "content-transfer-encoding":
			if !haveCTE {
				cte, haveCTE = f.Value, true
			}
		}
	}
	e.mt = mediaType{value: defaultType, params: map[string]string{}}
	if haveCT {
		mt := d.parseMediaType(ct)
		if validMediaType(mt.value) {
			e.mt = mt
		} else {
			d.problems.add("unparsable Content-Type; " + defaultType + " assumed")
			e.mt.params = mt.params // keep charset/boundary of e.g. "text; charset=..."
		}
	}
	if haveCTE {
		v, _, _ := strings.Cut(stripComments(cte), ";")
		e.cte = strings.ToLower(strings.TrimSpace(v))
	}
	if haveCD {
		disp := d.parseMediaType(cd)
		e.disp = disp.value
		e.filename = disp.params["filename"]
	}
	if e.filename == "" {
		e.filename = e.mt.params["name"] // RFC 2046 §4.5.1 (deprecated, still common)
	}
	return e
}

// validMediaType accepts "type/subtype" made of RFC 2045 token characters.
func validMediaType(s string) bool {
	t, sub, ok := strings.Cut(s, "/")
	return ok && isToken(t) && isToken(sub)
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// purpose says what a collected body is for.
type purpose int

const (
	keepText       purpose = iota // the first text/plain body: Message.Text
	keepHTML                      // the first text/html body: Message.Text when there is no text/plain
	scanText                      // a further text/plain body of a bounce: searched for returned headers only
	returnedHeader                // a returned-message part: its header section only
	dsnBody                       // the message/delivery-status part
)

// collector keeps the raw bytes of one body, up to a cap.
type collector struct {
	purpose   purpose
	charset   string
	cte       string
	raw       []byte
	cap       int
	truncated bool
	// For returnedHeader: a header line was seen, and the blank line ending the header
	// section after it (RFC 5322 §2.1); the rest of the part is skipped.
	seenField, done bool
}

func (c *collector) full() bool { return c.done || len(c.raw) >= c.cap }

// write appends one chunk; start says the chunk begins a line.
func (c *collector) write(b []byte, start bool) {
	if c.purpose == returnedHeader && identityEncoding(c.cte) && start {
		if len(trimEOL(b)) == 0 {
			if c.seenField {
				c.done = true
				return
			}
		} else {
			c.seenField = true
		}
	}
	if room := c.cap - len(c.raw); len(b) > room {
		b = b[:max(room, 0)]
		c.truncated = true
	}
	c.raw = append(c.raw, b...)
}

// identityEncoding reports a Content-Transfer-Encoding that leaves lines as they are
// (RFC 2045 §6.2: 7bit, 8bit, binary, or none).
func identityEncoding(cte string) bool {
	return cte == "" || cte == "7bit" || cte == "8bit" || cte == "binary"
}

// frame is an open multipart (RFC 2046 §5.1.1).
type frame struct {
	boundary string
	digest   bool
}

// walker walks the MIME tree line by line without recursion. Every boundary of every open
// multipart is recognised, so a part that lacks its closing boundary is ended by an ancestor's
// boundary instead of swallowing the rest of the mail; multiparts deeper than MaxDepth are
// skipped as opaque bodies, and the walk stops after MaxParts entities. Only the first
// text/plain (and, as a fallback, text/html) body is kept, and only up to a cap; all other
// bodies are skipped without being stored (skipToDashLine), and once no multipart is open and
// no text is wanted the rest of the input is not read at all.
type walker struct {
	m     *Message
	d     *decoder
	lim   Limits
	probs *problems
	lr    *lineReader

	stack    []frame
	open     map[string][]int // boundary -> indexes in stack, innermost last
	cur      *collector       // body being kept; nil = skip
	parts    int
	htmlText string
	stopped  bool

	// Bounce data (returned.go). quiet decodes what belongs to returned messages: their
	// defects are not this mail's Problems.
	quiet         *decoder
	quietProbs    problems
	bounce        bool     // the mail is a bounce: its plain text is searched for returned headers
	scans         [][]byte // decoded text/plain bodies kept for that search
	scanBytes     int
	returnedParts int

	// Walk (leaf.go): the visitor of every leaf, and the body being fed to it.
	visit func(Leaf, io.Reader) bool
	sink  *leafSink
}

func (w *walker) run(top entity, end headerEnd) {
	w.open = map[string][]int{}
	w.quiet = newDecoder(&w.quietProbs)
	w.bounce = bounceHeader(w.m, top)
	defer w.closeSink() // also after a panic: the visitor must not wait for ever
	w.begin(top, 0, false)
	defer w.scanForReturned()
	if end == endInput {
		return
	}
	for !w.stopped {
		if len(w.stack) == 0 && (w.cur == nil || w.cur.full()) && w.sink == nil {
			break // nothing left to find: no open multipart, no text wanted
		}
		if (w.cur == nil || w.cur.full()) && w.sink == nil {
			w.lr.skipToDashLine()
		}
		chunk, start, err := w.lr.next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.probs.add("read error: " + clip(err.Error(), 80))
			}
			break
		}
		if start && len(w.stack) > 0 && bytes.HasPrefix(chunk, []byte("--")) {
			if idx, closing := w.match(chunk); idx >= 0 {
				w.boundary(idx, closing)
				continue
			}
		}
		if w.cur != nil {
			w.cur.write(chunk, start)
		}
		if w.sink != nil {
			w.sink.write(chunk)
		}
	}
	w.endLeaf()
	if len(w.stack) > 0 && !w.stopped {
		w.probs.add("multipart without closing boundary")
	}
	if w.m.Text == "" {
		w.m.Text = w.htmlText
	}
}

// match finds the innermost open multipart whose delimiter line this is: "--boundary" or the
// close delimiter "--boundary--", each optionally followed by white space (RFC 2046 §5.1.1
// transport padding). The lookup is a map access, so hostile input made of many "--" lines
// costs the same at any nesting depth.
func (w *walker) match(line []byte) (idx int, closing bool) {
	rest := bytes.TrimRight(line[2:], " \t\r\n")
	idx = -1
	if ids := w.open[string(rest)]; len(ids) > 0 {
		idx = ids[len(ids)-1]
	}
	if b, ok := bytes.CutSuffix(rest, []byte("--")); ok {
		if ids := w.open[string(b)]; len(ids) > 0 && ids[len(ids)-1] > idx {
			return ids[len(ids)-1], true
		}
	}
	return idx, false
}

func (w *walker) isBoundary(line []byte) bool {
	if len(w.stack) == 0 || !bytes.HasPrefix(line, []byte("--")) {
		return false
	}
	idx, _ := w.match(line)
	return idx >= 0
}

// push opens a multipart with boundary b; popTo closes every multipart from index n on.
func (w *walker) push(b string, digest bool) {
	w.open[b] = append(w.open[b], len(w.stack))
	w.stack = append(w.stack, frame{boundary: b, digest: digest})
}

func (w *walker) popTo(n int) {
	for i := len(w.stack) - 1; i >= n; i-- {
		b := w.stack[i].boundary
		if ids := w.open[b]; len(ids) <= 1 {
			delete(w.open, b)
		} else {
			w.open[b] = ids[:len(ids)-1]
		}
	}
	w.stack = w.stack[:n]
}

// boundary handles a delimiter line of the open multipart stack[idx].
func (w *walker) boundary(idx int, closing bool) {
	w.endLeaf()
	if w.stopped {
		return // the Walk visitor is done
	}
	if idx < len(w.stack)-1 {
		w.probs.add("multipart without closing boundary")
	}
	if closing {
		w.popTo(idx) // the rest up to an ancestor's boundary is epilogue
		w.cur = nil
		return
	}
	w.popTo(idx + 1)
	if w.parts >= w.lim.MaxParts {
		w.probs.add(fmt.Sprintf("more than %d MIME parts; rest not walked", w.lim.MaxParts))
		w.stopped = true
		return
	}
	fields, end := readHeader(w.lr, w.lim.MaxHeaderBytes, false, w.isBoundary, w.probs)
	if end == endTooLarge {
		w.stopped = true
		return
	}
	def := "text/plain"
	digest := w.stack[idx].digest
	if digest {
		def = "message/rfc822"
	}
	w.begin(w.d.entityOf(fields, def), idx+1, digest)
}

// begin starts the entity e at the given depth (0 = the mail itself); inDigest says its
// parent is a multipart/digest, whose messages are collected mail, not returned mail.
func (w *walker) begin(e entity, depth int, inDigest bool) {
	w.parts++
	w.m.PartTypes = append(w.m.PartTypes, e.mt.value)
	w.cur = nil
	if strings.HasPrefix(e.mt.value, "multipart/") {
		if e.mt.value == "multipart/report" && w.m.ReportType == "" {
			// RFC 6522 §3: report-type is required; "" when a broken report lacks it.
			w.m.ReportType = strings.ToLower(strings.TrimSpace(e.mt.params["report-type"]))
		}
		// RFC 2046 §5.1.1: a boundary does not end in a space; some do, and match() trims
		// the line, so the boundary is trimmed the same way.
		b := strings.TrimRight(e.mt.params["boundary"], " \t")
		switch {
		case b == "":
			w.probs.add("multipart without boundary; not walked")
		case len(b) > maxBoundary:
			w.probs.add(fmt.Sprintf("multipart boundary longer than %d characters; not walked", maxBoundary))
		case depth >= w.lim.MaxDepth:
			w.probs.add(fmt.Sprintf("multipart nested deeper than %d; not walked", w.lim.MaxDepth))
		default:
			w.push(b, e.mt.value == "multipart/digest")
		}
		return
	}
	// A leaf. message/rfc822 (a forwarded or returned mail) is not walked into: its headers
	// are not this mail's (RFC 2046 §5.2.1). Only its header section is read, for
	// ReturnedMessageIDs; a delivery-status part is read for DSN.
	attachment, listed := -1, ""
	if e.filename != "" {
		if name := SanitizeFilename(w.d.text(e.filename)); name != "" {
			w.m.Attachments = append(w.m.Attachments, name)
			attachment, listed = len(w.m.Attachments)-1, name
		}
	}
	if w.visit != nil {
		w.startSink(e, attachment, listed)
	}
	charset := strings.ToLower(strings.TrimSpace(e.mt.params["charset"]))
	switch t := e.mt.value; {
	case isDSNType(t):
		w.bounce = true
		if w.m.DSN == nil {
			w.m.DSN = &DSN{}
			w.cur = &collector{purpose: dsnBody, cte: e.cte, cap: maxDSNBytes}
		}
		return
	case isReturnedType(t):
		if !inDigest && w.returnedParts < maxReturnedParts {
			w.returnedParts++
			w.cur = &collector{purpose: returnedHeader, cte: e.cte, cap: maxReturnedHeaderBytes}
		}
		return
	}
	max := w.lim.MaxTextBytes
	switch {
	case e.disp == "attachment" || e.filename != "":
		if e.mt.value == "text/plain" {
			w.scanLater(charset, e.cte) // a returned message sent as a text attachment
		}
	case e.mt.value == "text/plain" && w.m.Text == "":
		// Room for the transfer encoding: base64 grows 4/3, quoted-printable up to 3x.
		w.cur = &collector{purpose: keepText, charset: charset, cte: e.cte, cap: 4*max + 1024}
	case e.mt.value == "text/html" && w.m.Text == "" && w.htmlText == "":
		w.cur = &collector{purpose: keepHTML, charset: charset, cte: e.cte, cap: 16*max + 4096}
	case e.mt.value == "text/plain":
		w.scanLater(charset, e.cte)
	}
}

// scanLater collects a further text/plain body of a bounce for the returned-header search.
func (w *walker) scanLater(charset, cte string) {
	if w.bounce && len(w.scans) < maxScanParts && w.scanBytes < maxScanTotal {
		// Room for the transfer encoding, as for keepText.
		w.cur = &collector{purpose: scanText, charset: charset, cte: cte, cap: 4*maxScanPartBytes + 1024}
	}
}

// keepForScan keeps (a bounded prefix of) a decoded text/plain body for scanForReturned.
func (w *walker) keepForScan(out []byte) {
	if len(w.scans) >= maxScanParts || w.scanBytes >= maxScanTotal || len(out) == 0 {
		return
	}
	out = out[:min(len(out), maxScanPartBytes, maxScanTotal-w.scanBytes)]
	w.scans = append(w.scans, out)
	w.scanBytes += len(out)
}

// scanForReturned searches the kept plain text of a bounce for returned header sections,
// once the walk is over (a delivery-status part after the text also makes the mail a bounce).
func (w *walker) scanForReturned() {
	if !w.bounce {
		return
	}
	for _, b := range w.scans {
		w.scanReturnedText(toUTF8(b))
	}
	w.scans = nil
}

// endLeaf decodes the body kept for the current part, if any.
func (w *walker) endLeaf() {
	w.closeSink()
	c := w.cur
	w.cur = nil
	if c == nil {
		return
	}
	switch c.purpose {
	case dsnBody:
		out := w.quiet.decodeBody("", c.cte, c.raw, maxDSNBytes, c.truncated)
		parseDSN(out, w.m.DSN)
		return
	case returnedHeader:
		out := w.quiet.decodeBody("", c.cte, c.raw, maxReturnedHeaderBytes, c.truncated || c.done)
		w.returnedHeader(out)
		return
	case scanText:
		w.keepForScan(w.quiet.decodeBody(c.charset, c.cte, c.raw, maxScanPartBytes, c.truncated))
		return
	}
	max := w.lim.MaxTextBytes
	limit := 4 * max
	if c.purpose == keepHTML {
		limit = 16 * max
	}
	out := w.d.decodeBody(c.charset, c.cte, c.raw, limit, c.truncated)
	if len(out) >= limit {
		out = trimIncompleteRune(out)
	}
	if c.purpose == keepText {
		w.keepForScan(out)
	}
	if c.purpose == keepHTML {
		if t := cleanText(htmlToText(out), max); t != "" {
			w.htmlText = t
		}
		return
	}
	if t := cleanText(out, max); t != "" {
		w.m.Text = t
	}
}
