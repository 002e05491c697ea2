package mailparse

import "strings"

// AuthResult is one Authentication-Results header field (RFC 8601 §2.2): the authserv-id of
// the host that evaluated the mail and the result of each method it ran. Whether a field can
// be trusted is not decided here: only the fields whose AuthservID is the receiving MTA's own
// count (RFC 8601 §5; policy rule B1).
type AuthResult struct {
	// AuthservID is the authserv-id as written (unquoted, version number dropped). It is ""
	// when the field starts directly with a result, as Microsoft 365 writes it.
	AuthservID string
	Methods    []AuthMethod // in the order of the field; "none" (no-result) gives none
}

// AuthMethod is one resinfo of an Authentication-Results field (RFC 8601 §2.2, §2.7).
type AuthMethod struct {
	Method string // lower case, method version dropped: "spf", "dkim", "dmarc", "arc", "compauth"...
	Result string // lower case: "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"...
	// Props holds the properties by lower-case "ptype.property" key ("smtp.mailfrom",
	// "header.d", "header.i", "header.from", ...) and the reasonspec as "reason"; keys
	// without a ptype that some writers add ("action" of Microsoft 365) are kept as they are.
	// Values are unquoted, otherwise as written; the first instance of a key wins.
	Props map[string]string
}

// Bounds of what is kept from Authentication-Results fields. The fields are kept in header
// order, so the topmost ones (added last, by the receiving MTA) survive the caps.
const (
	maxAuthResults = 50    // fields
	maxAuthMethods = 50    // resinfos per field
	maxAuthProps   = 20    // properties per resinfo
	maxAuthValue   = 256   // bytes of an authserv-id or property value
	maxAuthTokens  = 16384 // tokens read of one field (a 1 MiB field must not become 500k tokens)
)

// authToken is one lexical token of an Authentication-Results value.
type authToken struct {
	kind byte   // 'w' word, 'q' quoted string, ';', '='
	text string // word or unquoted string
}

// lexAuthResults splits an Authentication-Results value into words, quoted strings, ";" and
// "=", dropping CFWS: white space and comments (RFC 5322 §3.2.2, nested, with quoted-pairs;
// an unterminated comment or quoted string runs to the end). At most maxTokens are returned.
func lexAuthResults(s string, maxTokens int) []authToken {
	var toks []authToken
	for i := 0; i < len(s) && len(toks) < maxTokens; {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			depth := 0
			for ; i < len(s); i++ {
				if s[i] == '\\' {
					i++
					continue
				}
				if s[i] == '(' {
					depth++
				} else if s[i] == ')' {
					depth--
					if depth == 0 {
						i++
						break
					}
				}
			}
		case c == '"':
			var sb strings.Builder
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				sb.WriteByte(s[i])
			}
			i++ // closing quote (or past the end)
			toks = append(toks, authToken{kind: 'q', text: sb.String()})
		case c == ';' || c == '=':
			toks = append(toks, authToken{kind: c})
			i++
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\r\n(\";=", s[j]) < 0 {
				j++
			}
			toks = append(toks, authToken{kind: 'w', text: s[i:j]})
			i = j
		}
	}
	return toks
}

// ParseAuthResults parses one Authentication-Results value (RFC 8601 §2.2) leniently:
// comments anywhere, quoted strings, a version number after the authserv-id, the "none"
// no-result form, several resinfos separated by ";", properties with empty values, and the
// Microsoft 365 form without an authserv-id. A resinfo whose method or result is not a
// keyword (e.g. Yahoo's "from=example.jp" after the authserv-id) is skipped; so are stray
// segments without a result. ok is false when the value yields neither an authserv-id nor a
// method.
func ParseAuthResults(raw string) (AuthResult, bool) {
	toks := lexAuthResults(toUTF8String(raw), maxAuthTokens)
	var segs [][]authToken
	start := 0
	for i, t := range toks {
		if t.kind == ';' {
			segs = append(segs, toks[start:i])
			start = i + 1
		}
	}
	segs = append(segs, toks[start:])

	var ar AuthResult
	first := segs[0]
	if len(first) > 0 && !(len(first) > 1 && first[0].kind == 'w' && first[1].kind == '=') {
		// authserv-id [CFWS authres-version] (RFC 8601 §2.2). Anything after it that is no
		// version is tried as a resinfo (a missing ";").
		if first[0].kind == 'w' || first[0].kind == 'q' {
			ar.AuthservID = clipValue(first[0].text)
		}
		first = first[1:]
		if len(first) > 0 && first[0].kind == 'w' && allDigits(first[0].text) {
			first = first[1:]
		}
	}
	segs[0] = first
	for _, seg := range segs {
		if len(ar.Methods) >= maxAuthMethods {
			break
		}
		if m, ok := parseResinfo(seg); ok {
			ar.Methods = append(ar.Methods, m)
		}
	}
	return ar, ar.AuthservID != "" || len(ar.Methods) > 0
}

// parseResinfo parses "method[/version]=result [reason=value] [ptype.property=value ...]"
// (RFC 8601 §2.2 methodspec, reasonspec, propspec).
func parseResinfo(seg []authToken) (AuthMethod, bool) {
	if len(seg) < 3 || seg[0].kind != 'w' || seg[1].kind != '=' || seg[2].kind != 'w' {
		return AuthMethod{}, false
	}
	method, _, _ := strings.Cut(strings.ToLower(seg[0].text), "/")
	result := strings.ToLower(seg[2].text)
	if !isAuthKeyword(method) || !isAuthKeyword(result) {
		return AuthMethod{}, false
	}
	m := AuthMethod{Method: method, Result: result, Props: map[string]string{}}
	for i := 3; i < len(seg); {
		if seg[i].kind != 'w' || i+1 >= len(seg) || seg[i+1].kind != '=' {
			i++ // stray token
			continue
		}
		key := strings.ToLower(seg[i].text)
		value := ""
		i += 2
		if i < len(seg) && (seg[i].kind == 'w' || seg[i].kind == 'q') {
			value = seg[i].text
			i++
		}
		if !isAuthPropKey(key) || len(m.Props) >= maxAuthProps {
			continue
		}
		if _, dup := m.Props[key]; !dup {
			m.Props[key] = clipValue(value)
		}
	}
	return m, true
}

// isAuthKeyword: RFC 8601 §2.2 Keyword (RFC 5321 Ldh-str), plus "_" as some writers use it.
func isAuthKeyword(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isAuthPropKey: "ptype.property" (the property may itself contain dots, RFC 8601 §2.3) or a
// bare keyword such as "reason".
func isAuthPropKey(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if !isAuthKeyword(part) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// clipValue makes a token safe to keep: valid UTF-8, no control characters, at most
// maxAuthValue bytes.
func clipValue(s string) string {
	return truncateUTF8(cleanLine(s), maxAuthValue)
}

// ARCAuthResult is one ARC-Authentication-Results header field (RFC 8617 §4.1.1): the
// instance number of the ARC set and an Authentication-Results payload written by the
// sealer of that instance. Whether it can be trusted (a configured sealer, the highest
// instance) is the policy's decision.
type ARCAuthResult struct {
	Instance int // 1..50 (RFC 8617 §4.2.1)
	AuthResult
}

// maxARCInstance is the largest ARC instance number (RFC 8617 §4.2.1).
const maxARCInstance = 50

// ParseARCAuthResults parses "i=N; authserv-id; resinfo..." (RFC 8617 §4.1.1). ok is false
// when the instance tag is missing or out of range, or the rest yields no authserv-id.
func ParseARCAuthResults(raw string) (ARCAuthResult, bool) {
	tag, rest, found := strings.Cut(toUTF8String(raw), ";")
	if !found {
		return ARCAuthResult{}, false
	}
	toks := lexAuthResults(tag, 8)
	if len(toks) != 3 || toks[0].kind != 'w' || !strings.EqualFold(toks[0].text, "i") || toks[1].kind != '=' ||
		toks[2].kind != 'w' || !allDigits(toks[2].text) || len(toks[2].text) > 2 {
		return ARCAuthResult{}, false
	}
	n := 0
	for _, c := range toks[2].text {
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > maxARCInstance {
		return ARCAuthResult{}, false
	}
	ar, ok := ParseAuthResults(rest)
	if !ok || ar.AuthservID == "" {
		return ARCAuthResult{}, false
	}
	return ARCAuthResult{Instance: n, AuthResult: ar}, true
}
