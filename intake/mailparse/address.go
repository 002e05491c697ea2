package mailparse

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
)

// addressList parses an address-list header value (RFC 5322 §3.4) with net/mail, decoding
// RFC 2047 display names with the per-parse word decoder. When net/mail rejects the value,
// each comma-separated item is tried on its own and then leniently (lenientAddress), so one
// broken entry does not lose the others. Raw 8-bit values are read as UTF-8 or windows-1252
// first: net/mail refuses invalid UTF-8.
func (d *decoder) addressList(key, raw string) []Address {
	s := toUTF8String(raw)
	if strings.TrimSpace(s) == "" {
		return nil
	}
	p := mail.AddressParser{WordDecoder: &d.words}
	if list, err := p.ParseList(s); err == nil {
		return convertAddresses(list)
	}
	var out []Address
	for _, item := range splitAddressItems(s) {
		if strings.TrimSpace(item) == "" {
			continue
		}
		if list, err := p.ParseList(item); err == nil {
			out = append(out, convertAddresses(list)...)
			continue
		}
		if a, ok := d.lenientAddress(item); ok {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		d.problems.add("unparsable " + key)
	} else {
		d.problems.add(key + " parsed leniently")
	}
	return out
}

func convertAddresses(list []*mail.Address) []Address {
	out := make([]Address, 0, len(list))
	for _, a := range list {
		if a == nil || a.Address == "" {
			continue
		}
		out = append(out, Address{Name: cleanLine(a.Name), Addr: NormalizeAddr(a.Address)})
	}
	return out
}

// NormalizeAddr lower-cases the domain of an addr-spec and leaves the local part as it is
// (RFC 5321 §2.4: local parts may be case-sensitive, domains are not).
func NormalizeAddr(addr string) string {
	addr = strings.TrimSpace(addr)
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return addr
	}
	return addr[:i+1] + strings.ToLower(addr[i+1:])
}

// splitAddressItems splits on commas outside quoted strings, comments and angle brackets.
func splitAddressItems(s string) []string {
	var out []string
	depth, angle := 0, false
	inQuote, esc := false, false
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case inQuote:
			if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '<' && depth == 0:
			angle = true
		case c == '>' && depth == 0:
			angle = false
		case (c == ',' || c == ';') && depth == 0 && !angle:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// lenientAddress extracts an address from something net/mail rejects: the last "<addr@domain>"
// or else the last bare token containing "@" with text on both sides. Whatever precedes an
// angle address is taken as the display name.
func (d *decoder) lenientAddress(item string) (Address, bool) {
	if lt := strings.LastIndexByte(item, '<'); lt >= 0 {
		if gt := strings.IndexByte(item[lt:], '>'); gt > 0 {
			addr := cleanAddrToken(item[lt+1 : lt+gt])
			if validLenient(addr) {
				name := strings.TrimSpace(stripComments(item[:lt]))
				name = strings.Trim(unquote(name), `" `)
				return Address{Name: cleanLine(d.text(name)), Addr: NormalizeAddr(addr)}, true
			}
		}
	}
	fields := strings.FieldsFunc(stripComments(item), func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == ',' || r == ';' || r == '"' || r == '<' || r == '>'
	})
	for i := len(fields) - 1; i >= 0; i-- {
		addr := cleanAddrToken(fields[i])
		if validLenient(addr) {
			return Address{Addr: NormalizeAddr(addr)}, true
		}
	}
	return Address{}, false
}

func cleanAddrToken(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.HasPrefix(s, "@") {
		s = s[i+1:] // RFC 5322 §4.4 obsolete source route "@a,@b:user@host"
	}
	return strings.Trim(s, `"'()[]{},;:.`+" \t")
}

// validLenient is a loose addr-spec check for the fallback: text, one "@" position with text
// on both sides, no white space or control characters.
func validLenient(s string) bool {
	i := strings.LastIndexByte(s, '@')
	if i <= 0 || i == len(s)-1 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' {
			return false
		}
	}
	return true
}

// returnPath extracts the address of one Return-Path value (RFC 5322 §3.6.7:
// "<" [addr-spec] ">"): "" for the null path "<>", the addr-spec without brackets otherwise
// (source route removed, domain lower-cased). A value without brackets is accepted; a value
// with no recognisable address is returned trimmed so that the policy can reject it.
func returnPath(raw string) string {
	s := strings.TrimSpace(stripComments(toUTF8String(raw)))
	if lt := strings.IndexByte(s, '<'); lt >= 0 {
		inner := s[lt+1:]
		if gt := strings.LastIndexByte(inner, '>'); gt >= 0 {
			inner = inner[:gt]
		}
		inner = strings.TrimSpace(strings.Trim(strings.TrimSpace(inner), "<>"))
		if inner == "" {
			return ""
		}
		return NormalizeAddr(cleanAddrToken(inner))
	}
	if s == "" {
		return ""
	}
	if f := strings.Fields(s); len(f) == 1 {
		return NormalizeAddr(cleanAddrToken(f[0]))
	}
	return s
}

// msgIDs extracts message identifiers (RFC 5322 §3.6.4) from a Message-ID, In-Reply-To or
// References value: every "<id>" with a non-empty id without white space; when the value has
// no "<" at all, every token (separated by white space, "," or a stray ">") with text on both
// sides of an "@" (a Message-ID written without brackets). Bad entries are skipped.
func msgIDs(raw string) []string {
	s := stripComments(toUTF8String(raw))
	var out []string
	if strings.Contains(s, "<") {
		for {
			lt := strings.IndexByte(s, '<')
			if lt < 0 {
				break
			}
			s = s[lt+1:]
			gt := strings.IndexAny(s, "<>")
			if gt < 0 {
				break
			}
			if s[gt] == '>' {
				id := strings.TrimSpace(s[:gt])
				if id != "" && !strings.ContainsAny(id, " \t\r\n") {
					out = append(out, id)
				}
				s = s[gt+1:]
			} else {
				s = s[gt:] // "<a <b>": skip the unterminated entry
			}
		}
		return out
	}
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '>' || unicode.IsSpace(r) || unicode.IsControl(r) }) {
		if i := strings.IndexByte(tok, '@'); i > 0 && i < len(tok)-1 {
			out = append(out, tok)
		}
	}
	return out
}

// parseDate parses a Date value (RFC 5322 §3.3) with net/mail, then with a few lenient
// layouts; zero time when nothing fits.
func parseDate(raw string) (time.Time, bool) {
	s := strings.Join(strings.Fields(stripComments(toUTF8String(raw))), " ")
	if s == "" {
		return time.Time{}, false
	}
	if t, err := mail.ParseDate(s); err == nil {
		return t, true
	}
	// Obsolete and common broken forms (asctime, no zone, ISO 8601).
	for _, l := range []string{
		"Mon Jan _2 15:04:05 2006",
		"Mon Jan _2 15:04:05 MST 2006",
		"Mon, _2 Jan 2006 15:04:05",
		"_2 Jan 2006 15:04:05",
		"Mon, _2 Jan 2006 15:04 -0700",
		"2006-01-02 15:04:05 -0700",
		"2006-01-02T15:04:05Z07:00",
	} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
