package mailparse

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
)

// maxCharsetName caps a charset name quoted in a problem report.
const maxCharsetName = 40

// decoder holds the per-Parse decoding state: the RFC 2047 word decoder and the problem list it
// reports unknown charsets to. It is created for each Parse call (no package-level state).
type decoder struct {
	words    mime.WordDecoder
	problems *problems
}

func newDecoder(p *problems) *decoder {
	d := &decoder{problems: p}
	d.words.CharsetReader = d.charsetReader
	return d
}

// charsetReader converts input from the named charset to UTF-8 using go-message's charset
// table. An unknown charset is reported and its bytes are passed through unchanged; toUTF8
// later reads what is not UTF-8 as windows-1252. Never failing here keeps the rest of an
// encoded header that mixes known and unknown charsets.
func (d *decoder) charsetReader(cs string, input io.Reader) (io.Reader, error) {
	cs = strings.ToLower(strings.TrimSpace(cs))
	if i := strings.IndexByte(cs, '*'); i >= 0 { // RFC 2231 §5: "charset*language"
		cs = cs[:i]
	}
	switch cs {
	case "utf-8", "us-ascii", "":
		return input, nil
	case "utf-7", "unicode-1-1-utf-7", "x-unicode-1-1-utf-7", "csunicode11utf7":
		// RFC 2152; not in go-message's table, still sent by some MTAs in DSNs.
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		return strings.NewReader(decodeUTF7(b)), nil
	}
	r, err := charset.Reader(cs, input)
	if err != nil || r == nil {
		d.problems.add(fmt.Sprintf("unknown charset %q", clip(cs, maxCharsetName)))
		return input, nil
	}
	return r, nil
}

// decodeUTF7 decodes RFC 2152 UTF-7; malformed shifts are kept as they are.
func decodeUTF7(b []byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '+' {
			sb.WriteByte(c)
			continue
		}
		if i+1 < len(b) && b[i+1] == '-' { // "+-" is "+"
			sb.WriteByte('+')
			i++
			continue
		}
		var bits uint32
		nbits := 0
		var units []uint16
		j := i + 1
		for ; j < len(b); j++ {
			v := strings.IndexByte(alphabet, b[j])
			if v < 0 {
				break
			}
			bits = bits<<6 | uint32(v)
			nbits += 6
			if nbits >= 16 {
				nbits -= 16
				units = append(units, uint16(bits>>uint(nbits)))
				bits &= 1<<uint(nbits) - 1
			}
		}
		sb.WriteString(string(utf16.Decode(units)))
		if j < len(b) && b[j] == '-' {
			j++ // the "-" ending a shift is absorbed
		}
		i = j - 1
	}
	return sb.String()
}

// convert decodes b from charset cs to UTF-8 (unknown charsets: see charsetReader).
func (d *decoder) convert(cs string, b []byte) string {
	r, _ := d.charsetReader(cs, bytes.NewReader(b))
	out, err := io.ReadAll(r)
	if err != nil {
		d.problems.add("charset conversion failed")
	}
	return toUTF8(out)
}

// text decodes an unstructured header value (RFC 5322 §3.2.5, RFC 2047 §6.1): raw 8-bit bytes
// are read as UTF-8 or else windows-1252 first, then encoded words are decoded. The result is
// valid UTF-8 but may still contain line breaks; callers use cleanLine for one-line values.
func (d *decoder) text(raw string) string {
	s := toUTF8String(raw)
	if !strings.Contains(s, "=?") {
		return s
	}
	dec, err := d.words.DecodeHeader(s)
	if err != nil {
		d.problems.add("encoded word could not be decoded")
		dec = s
	}
	if strings.Contains(dec, "=?") {
		// mime.WordDecoder leaves malformed words as they are; the most common defect in the
		// wild is unpadded base64 (RFC 2047 §4.1 requires padding).
		dec = d.lenientWords(dec)
	}
	return toUTF8String(dec)
}

// lenientWords decodes "=?charset?B|Q?text?=" words that mime.WordDecoder rejected: base64
// without padding, and words not separated by white space. Anything still malformed is kept.
func (d *decoder) lenientWords(s string) string {
	var sb strings.Builder
	prevWord := false
	for {
		start := strings.Index(s, "=?")
		if start < 0 {
			sb.WriteString(s)
			break
		}
		cs, enc, text, n, ok := cutEncodedWord(s[start:])
		if !ok {
			sb.WriteString(s[:start+2])
			s = s[start+2:]
			prevWord = false
			continue
		}
		between := s[:start]
		// RFC 2047 §6.2: white space between adjacent encoded words is not displayed.
		if !(prevWord && strings.TrimSpace(between) == "") {
			sb.WriteString(between)
		}
		var raw []byte
		var err error
		switch enc {
		case 'b', 'B':
			t := strings.TrimRight(text, "=")
			raw, err = base64.RawStdEncoding.DecodeString(t)
		default:
			raw, err = decodeQ(text)
		}
		if err != nil {
			sb.WriteString(s[start : start+n])
			prevWord = false
		} else {
			sb.WriteString(d.convert(cs, raw))
			prevWord = true
		}
		s = s[start+n:]
	}
	return sb.String()
}

// cutEncodedWord splits "=?cs?e?text?=..." and returns the length of the word.
func cutEncodedWord(s string) (cs string, enc byte, text string, n int, ok bool) {
	rest := s[2:]
	q1 := strings.IndexByte(rest, '?')
	if q1 <= 0 || q1+3 > len(rest) || rest[q1+2] != '?' {
		return "", 0, "", 0, false
	}
	cs, enc = rest[:q1], rest[q1+1]
	if enc != 'b' && enc != 'B' && enc != 'q' && enc != 'Q' {
		return "", 0, "", 0, false
	}
	body := rest[q1+3:]
	end := strings.Index(body, "?=")
	if end < 0 || strings.ContainsAny(body[:end], " \t\r\n") {
		return "", 0, "", 0, false
	}
	return cs, enc, body[:end], 2 + q1 + 3 + end + 2, true
}

// decodeQ decodes the RFC 2047 §4.2 "Q" encoding.
func decodeQ(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(s):
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, err
			}
			out = append(out, byte(v))
			i += 2
		case c == '=':
			return nil, fmt.Errorf("short Q escape")
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

// mediaType is the tolerant parse of a Content-Type or Content-Disposition value.
type mediaType struct {
	value  string            // lower case, "" when unparsable
	params map[string]string // lower-case names; values decoded to UTF-8 (boundary kept raw)
}

// parseMediaType parses "type/subtype; name=value; ..." (RFC 2045 §5.1, RFC 2183 §2) leniently:
// missing quotes, stray semicolons, duplicate parameters (first wins) and RFC 2231 extended,
// continued and charset-tagged values (any charset go-message knows) are accepted; RFC 2047
// words inside quoted file names (a common violation) are decoded.
func (d *decoder) parseMediaType(raw string) mediaType {
	s := toUTF8String(raw)
	s = stripComments(s)
	head, rest, _ := strings.Cut(s, ";")
	mt := mediaType{value: strings.ToLower(strings.TrimSpace(head)), params: map[string]string{}}

	type segment struct {
		value   string
		encoded bool
	}
	plain := map[string]string{}
	extended := map[string]string{}     // name* (RFC 2231 §4)
	continued := map[string][]segment{} // name*N / name*N* (RFC 2231 §3)
	for _, p := range splitParams(rest) {
		name, value, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = unquote(strings.TrimSpace(value))
		if name == "" {
			continue
		}
		if base, idx, ok := strings.Cut(name, "*"); ok {
			if idx == "" { // name*=charset'lang'value
				if _, dup := extended[base]; !dup {
					extended[base] = d.decode2231(value, true)
				}
				continue
			}
			enc := strings.HasSuffix(idx, "*")
			n, err := strconv.Atoi(strings.TrimSuffix(idx, "*"))
			if err != nil || n < 0 || n > 99 {
				continue
			}
			segs := continued[base]
			for len(segs) <= n {
				segs = append(segs, segment{})
			}
			segs[n] = segment{value: value, encoded: enc}
			continued[base] = segs
			continue
		}
		if _, dup := plain[name]; !dup {
			plain[name] = value
		}
	}
	for name, v := range plain {
		if name != "boundary" && strings.Contains(v, "=?") {
			v = d.text(v)
		}
		mt.params[name] = v
	}
	for name, segs := range continued {
		// RFC 2231 §4.1: only the first segment carries charset'language'; encoded segments
		// are percent-decoded, the whole is then converted from that charset.
		cs := ""
		var buf []byte
		for i, sg := range segs {
			v := sg.value
			if sg.encoded {
				if i == 0 {
					var ok bool
					if cs, v, ok = cut2231(v); !ok {
						v = sg.value
					}
				}
				buf = append(buf, percentDecode(v)...)
			} else {
				buf = append(buf, v...)
			}
		}
		mt.params[name] = d.convert(cs, buf)
	}
	for name, v := range extended {
		mt.params[name] = v
	}
	return mt
}

// decode2231 decodes an RFC 2231 §4 extended value "charset'language'percent-encoded".
func (d *decoder) decode2231(v string, withCharset bool) string {
	cs := ""
	if withCharset {
		var ok bool
		if cs, v, ok = cut2231(v); !ok {
			return toUTF8String(v)
		}
	}
	return d.convert(cs, percentDecode(v))
}

func cut2231(v string) (cs, rest string, ok bool) {
	cs, rest, ok = strings.Cut(v, "'")
	if !ok {
		return "", v, false
	}
	_, rest, ok = strings.Cut(rest, "'") // language tag, ignored
	if !ok {
		return "", v, false
	}
	return cs, rest, true
}

func percentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, s[i])
	}
	return out
}

// splitParams splits a parameter list on ";" outside quoted strings.
func splitParams(s string) []string {
	var out []string
	inQuote, esc := false, false
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\' && inQuote:
			esc = true
		case c == '"':
			inQuote = !inQuote
		case c == ';' && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote removes one level of RFC 5322 quoting; an unterminated quote is taken to the end.
// A backslash quotes only '"' and '\\' and is kept before anything else: mail clients put
// Windows paths unescaped into quoted file names ("C:\\Users\\a.pdf" as C:\Users\a.pdf), so
// the base name survives (as Go's mime package and browsers read it).
func unquote(v string) string {
	if !strings.HasPrefix(v, `"`) {
		return v
	}
	var sb strings.Builder
	for i := 1; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\') {
			i++
			sb.WriteByte(v[i])
			continue
		}
		if c == '"' {
			break
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// stripComments is StripComments.
func stripComments(s string) string { return StripComments(s) }

// StripComments removes RFC 5322 §3.2.2 comments "( ... )" outside quoted strings, with
// nesting and quoted-pairs; each comment leaves one space. An unterminated comment runs to
// the end. It is the one comment stripper of intake (header keywords, addresses, MIME
// fields).
func StripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var sb strings.Builder
	depth := 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (inQuote || depth > 0):
			if depth == 0 {
				sb.WriteByte(c)
				sb.WriteByte(s[i+1])
			}
			i++
			continue
		case c == '"' && depth == 0:
			inQuote = !inQuote
		case c == '(' && !inQuote:
			depth++
			continue
		case c == ')' && !inQuote && depth > 0:
			depth--
			if depth == 0 {
				sb.WriteByte(' ')
			}
			continue
		}
		if depth == 0 {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// decodeBody turns the raw (transfer-encoded) bytes of a text part into UTF-8 text using
// go-message: message.New applies the Content-Transfer-Encoding (RFC 2045 §6) and converts
// the charset (RFC 2046 §4.1.2) through the charset table installed by go-message/charset.
// When the strict decoders of go-message stop at a defect (a stray "=" in quoted-printable, a
// broken base64 line), the part is decoded again leniently so the readable rest is kept.
// truncated says raw was cut at the collection limit, so a decode error at its end is expected.
func (d *decoder) decodeBody(cs, cte string, raw []byte, max int, truncated bool) []byte {
	out, err := d.decodeWith(cs, cte, raw, max)
	if err == nil || truncated {
		return out
	}
	var lenient []byte
	switch cte {
	case "quoted-printable":
		lenient = lenientQP(raw)
	case "base64":
		lenient = lenientBase64(raw)
	default:
		d.problems.add("body decoding: " + clip(err.Error(), 80))
		return out
	}
	d.problems.add("body: invalid " + cte + " data, decoded leniently")
	out, _ = d.decodeWith(cs, "", lenient, max)
	return out
}

func (d *decoder) decodeWith(cs, cte string, raw []byte, max int) ([]byte, error) {
	var h message.Header
	h.SetContentType("application/octet-stream", nil) // charset is converted below
	if cte != "" {
		h.Set("Content-Transfer-Encoding", cte)
	}
	e, err := message.New(h, bytes.NewReader(raw))
	if message.IsUnknownEncoding(err) {
		d.problems.add(fmt.Sprintf("unknown transfer encoding %q", clip(cte, maxCharsetName)))
		return nil, nil
	}
	if err != nil || e == nil || e.Body == nil {
		d.problems.add("body: cannot decode")
		return nil, nil
	}
	body, rerr := d.charsetReader(cs, e.Body)
	if rerr != nil {
		return nil, rerr
	}
	return io.ReadAll(io.LimitReader(body, int64(max)))
}

// lenientQP decodes quoted-printable (RFC 2045 §6.7) keeping malformed escapes as they are.
func lenientQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		rest := b[i+1:]
		switch {
		case bytes.HasPrefix(rest, []byte("\r\n")):
			i += 2 // soft line break
		case bytes.HasPrefix(rest, []byte("\n")):
			i++
		case len(rest) >= 2 && isHex(rest[0]) && isHex(rest[1]):
			v, _ := strconv.ParseUint(string(rest[:2]), 16, 8)
			out = append(out, byte(v))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// lenientBase64 decodes base64 (RFC 2045 §6.8) ignoring every character outside the alphabet
// and stopping at padding.
func lenientBase64(b []byte) []byte {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '=':
			goto done
		}
	}
done:
	if len(clean)%4 == 1 { // a single trailing character carries no full byte
		clean = clean[:len(clean)-1]
	}
	out, _ := base64.RawStdEncoding.DecodeString(string(clean))
	return out
}

// clip shortens s for a problem message.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > n {
		return truncateUTF8(s, n) + "..."
	}
	return s
}
