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

// collector keeps the raw bytes of one text part, up to a cap.
type collector struct {
	html      bool
	charset   string
	cte       string
	raw       []byte
	cap       int
	truncated bool
}

func (c *collector) full() bool { return len(c.raw) >= c.cap }

func (c *collector) write(b []byte) {
	if room := c.cap - len(c.raw); len(b) > room {
		b = b[:max(room, 0)]
		c.truncated = true
	}
	c.raw = append(c.raw, b...)
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
}

func (w *walker) run(top entity, end headerEnd) {
	w.open = map[string][]int{}
	w.begin(top, 0)
	if end == endInput {
		return
	}
	for !w.stopped {
		if len(w.stack) == 0 && (w.cur == nil || w.cur.full()) {
			break // nothing left to find: no open multipart, no text wanted
		}
		if w.cur == nil || w.cur.full() {
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
			w.cur.write(chunk)
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
	if w.stack[idx].digest {
		def = "message/rfc822"
	}
	w.begin(w.d.entityOf(fields, def), idx+1)
}

// begin starts the entity e at the given depth (0 = the mail itself).
func (w *walker) begin(e entity, depth int) {
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
	// A leaf. message/rfc822 (a forwarded or returned mail) is recorded by type only and not
	// walked into: its headers are not this mail's (RFC 2046 §5.2.1).
	if e.filename != "" {
		if name := SanitizeFilename(w.d.text(e.filename)); name != "" {
			w.m.Attachments = append(w.m.Attachments, name)
		}
	}
	if e.disp == "attachment" || e.filename != "" {
		return
	}
	max := w.lim.MaxTextBytes
	switch {
	case e.mt.value == "text/plain" && w.m.Text == "":
		// Room for the transfer encoding: base64 grows 4/3, quoted-printable up to 3x.
		w.cur = &collector{charset: strings.ToLower(strings.TrimSpace(e.mt.params["charset"])), cte: e.cte, cap: 4*max + 1024}
	case e.mt.value == "text/html" && w.m.Text == "" && w.htmlText == "":
		w.cur = &collector{html: true, charset: strings.ToLower(strings.TrimSpace(e.mt.params["charset"])), cte: e.cte, cap: 16*max + 4096}
	}
}

// endLeaf decodes the body kept for the current part, if any.
func (w *walker) endLeaf() {
	c := w.cur
	w.cur = nil
	if c == nil {
		return
	}
	max := w.lim.MaxTextBytes
	limit := 4 * max
	if c.html {
		limit = 16 * max
	}
	out := w.d.decodeBody(c.charset, c.cte, c.raw, limit, c.truncated)
	if len(out) >= limit {
		out = trimIncompleteRune(out)
	}
	if c.html {
		if t := cleanText(htmlToText(out), max); t != "" {
			w.htmlText = t
		}
		return
	}
	if t := cleanText(out, max); t != "" {
		w.m.Text = t
	}
}
