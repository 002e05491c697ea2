package mailparse

import (
	"bytes"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// toUTF8 returns b as valid UTF-8: valid UTF-8 sequences are kept, every byte that is not part
// of one is read as windows-1252 (a superset of the printable ISO-8859-1 range). This is the
// "utf-8, then windows-1252" order of autoreply-rules.md M2, applied byte by byte so that a
// mostly-UTF-8 text with a few Latin-1 bytes keeps both.
func toUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			sb.WriteRune(charmap.Windows1252.DecodeByte(b[0]))
			b = b[1:]
			continue
		}
		sb.Write(b[:size])
		b = b[size:]
	}
	return sb.String()
}

// toUTF8String is toUTF8 for strings.
func toUTF8String(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return toUTF8([]byte(s))
}

// trimIncompleteRune drops a trailing, incomplete UTF-8 sequence left by cutting b at an
// arbitrary byte, so that the cut does not show up as windows-1252 garbage.
func trimIncompleteRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return b // ASCII: nothing incomplete
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// truncateUTF8 is TruncateUTF8.
func truncateUTF8(s string, max int) string { return TruncateUTF8(s, max) }

// TruncateUTF8 cuts s to at most max bytes at a rune boundary.
func TruncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// cleanText normalises decoded body text: UTF-8, "\n" line ends, no control characters other
// than tab and newline, no trailing blank space, at most max bytes.
func cleanText(b []byte, max int) string {
	s := toUTF8(b)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case unicode.IsControl(r), isBidiControl(r):
			return -1
		}
		return r
	}, s)
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	s = strings.TrimLeft(s, "\n")
	return truncateUTF8(s, max)
}

// cleanLine makes a decoded header text safe for one line: valid UTF-8, CR and LF (and every
// other control character except tab) removed, runs of blanks from unfolding collapsed.
func cleanLine(s string) string {
	s = strings.ToValidUTF8(toUTF8String(s), "\uFFFD")
	var sb strings.Builder
	sb.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r == '\r' || r == '\n' || r == '\t' || r == ' ':
			if !space && sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			space = true
			continue
		case unicode.IsControl(r), isBidiControl(r):
			continue
		}
		space = false
		sb.WriteRune(r)
	}
	return strings.TrimRight(sb.String(), " ")
}

// isBidiControl reports the Unicode directional formatting characters (U+200E, U+200F,
// U+202A–U+202E, U+2066–U+2069) used to disguise file names ("exe.pdf" shown as "fdp.exe").
func isBidiControl(r rune) bool {
	return r == 0x200E || r == 0x200F || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// maxFilenameBytes caps a sanitised attachment name (most file systems allow 255 bytes).
const maxFilenameBytes = 200

// SanitizeFilename reduces an attachment name taken from a mail to something safe to show and
// to store: its base name only (no "/", "\" or ":"), no control or bidi characters, valid UTF-8,
// at most 200 bytes (the extension is kept when the name is cut). "." and ".." become "".
func SanitizeFilename(name string) string {
	s := toUTF8String(name)
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r == ':':
			return '_'
		case r == utf8.RuneError, unicode.IsControl(r), isBidiControl(r):
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "." || s == ".." {
		return ""
	}
	if len(s) > maxFilenameBytes {
		ext := ""
		if i := strings.LastIndexByte(s, '.'); i > 0 && len(s)-i <= 16 {
			ext = s[i:]
		}
		s = truncateUTF8(s[:len(s)-len(ext)], maxFilenameBytes-len(ext)) + ext
	}
	return s
}

// htmlToText strips an HTML body to readable text: tags removed, script/style/head content
// dropped, block elements turned into line breaks, entities decoded. It is not a full HTML
// parser; it only has to give the register a readable excerpt.
func htmlToText(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b) / 2)
	writeText := func(t []byte) {
		for _, c := range t {
			if c == '\r' || c == '\n' || c == '\t' {
				c = ' ' // source line breaks are not text line breaks
			}
			out.WriteByte(c)
		}
	}
	skipUntil := "" // element whose content is dropped ("script", "style", ...)
	for len(b) > 0 {
		lt := bytes.IndexByte(b, '<')
		if lt < 0 {
			if skipUntil == "" {
				writeText(b)
			}
			break
		}
		if skipUntil == "" {
			writeText(b[:lt])
		}
		b = b[lt:]
		if bytes.HasPrefix(b, []byte("<!--")) {
			end := bytes.Index(b[4:], []byte("-->"))
			if end < 0 {
				break
			}
			b = b[4+end+3:]
			continue
		}
		gt := bytes.IndexByte(b, '>')
		if gt < 0 {
			break
		}
		tag := bytes.ToLower(b[1:gt])
		b = b[gt+1:]
		closing := bytes.HasPrefix(tag, []byte("/"))
		tag = bytes.TrimPrefix(tag, []byte("/"))
		if i := bytes.IndexAny(tag, " \t\r\n/"); i >= 0 {
			tag = tag[:i]
		}
		name := string(tag)
		if skipUntil != "" {
			if closing && name == skipUntil {
				skipUntil = ""
			}
			continue
		}
		switch name {
		case "script", "style", "head", "title":
			if !closing {
				skipUntil = name
			}
		case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr", "pre":
			out.WriteByte('\n')
		case "td", "th":
			out.WriteByte(' ')
		}
	}
	text := html.UnescapeString(out.String())
	// Collapse blank space; keep at most one empty line in a row.
	var sb strings.Builder
	blank := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.Join(strings.Fields(strings.ReplaceAll(line, "\u00a0", " ")), " ")
		if line == "" {
			blank++
			if blank > 1 || sb.Len() == 0 {
				continue
			}
		} else {
			blank = 0
		}
		sb.WriteString(line)
		sb.WriteByte('\n')
	}
	return []byte(sb.String())
}
