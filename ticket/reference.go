package ticket

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reference is a case number such as "STK-2026-000042-6": prefix, year, running number
// (zero padded to at least 6 digits) and a check digit computed by CheckDigit.
type Reference struct {
	Prefix string // 1-10 chars, A-Z0-9, upper case
	Year   int    // 4 digits
	Number uint64 // >= 1
}

const (
	maxPrefixLen    = 10
	minNumberDigits = 6
	maxNumberDigits = 20 // as written, including leading zeros; uint64 has at most 20 digits
	maxRefInput     = 100
)

// String returns the canonical form PREFIX-YYYY-NNNNNN-C, or "" for the zero Reference.
func (r Reference) String() string {
	if r.IsZero() {
		return ""
	}
	return fmt.Sprintf("%s-%04d-%0*d-%d", r.Prefix, r.Year, minNumberDigits, r.Number, CheckDigit(r.Year, r.Number))
}

// IsZero reports whether r is the zero Reference.
func (r Reference) IsZero() bool { return r == Reference{} }

// MarshalText encodes r as its canonical string; the zero Reference encodes as "".
func (r Reference) MarshalText() ([]byte, error) {
	if r.IsZero() {
		return []byte{}, nil
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return []byte(r.String()), nil
}

// UnmarshalText parses b with ParseReference; "" gives the zero Reference.
func (r *Reference) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*r = Reference{}
		return nil
	}
	ref, err := ParseReference(string(b))
	if err != nil {
		return err
	}
	*r = ref
	return nil
}

// validate checks the fields of r (not a check digit: r carries none).
func (r Reference) validate() error {
	if !validPrefix(r.Prefix) {
		return fmt.Errorf("reference prefix %q (want 1-10 of A-Z0-9): %w", r.Prefix, ErrBadReference)
	}
	if r.Year < 1000 || r.Year > 9999 {
		return fmt.Errorf("reference year %d (want 4 digits): %w", r.Year, ErrBadReference)
	}
	if r.Number == 0 {
		return fmt.Errorf("reference number 0: %w", ErrBadReference)
	}
	return nil
}

// validPrefix reports whether p is 1-10 characters of A-Z and 0-9.
func validPrefix(p string) bool {
	if len(p) == 0 || len(p) > maxPrefixLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !isUpperAlnum(p[i]) {
			return false
		}
	}
	return true
}

func isUpperAlnum(c byte) bool { return 'A' <= c && c <= 'Z' || isDigit(c) }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }

// dammTable is the operation table of the totally anti-symmetric quasigroup of order 10
// from H. Michael Damm (2004), row by row: interim' = dammTable[10*interim+digit]. Its
// diagonal is zero, so digits followed by their check digit reduce to 0.
const dammTable = "0317598642" +
	"7092154863" +
	"4206871359" +
	"1750983426" +
	"6123045978" +
	"3674209581" +
	"5869720134" +
	"8945362017" +
	"9438617205" +
	"2581436790"

// damm returns the Damm interim digit of a string of ASCII digits. For digits followed by
// their check digit it returns 0.
func damm(digits string) int {
	interim := 0
	for i := 0; i < len(digits); i++ {
		interim = int(dammTable[10*interim+int(digits[i]-'0')] - '0')
	}
	return interim
}

// checkString is the digit string the check digit protects: the 4-digit year followed by
// the number zero padded to at least 6 digits.
func checkString(year int, number uint64) string {
	return fmt.Sprintf("%04d%0*d", year, minNumberDigits, number)
}

// CheckDigit returns the Damm check digit over the year followed by the zero-padded
// (at least 6 digits) number. It detects every single-digit error and every adjacent
// transposition in that digit string including the check digit itself.
func CheckDigit(year int, number uint64) int {
	return damm(checkString(year, number))
}

// ParseReference parses a reference tolerantly: any case, surrounding space, any
// separators between the parts (spaces, dashes, dots, slashes, ...) or none at all, e.g.
// "stk 2026 42 6", "STK2026000042-6", " Stk-2026-000042-6 ".
//
// Without separators the prefix ends at its last letter, the 4 digits after it are the year,
// the last digit is the check digit and everything in between is the number; a prefix that
// ends in a digit therefore needs a separator after it. A wrong check digit gives an error
// wrapping ErrCheckDigit; anything else unparsable gives ErrBadReference.
func ParseReference(s string) (Reference, error) {
	if len(s) > maxRefInput {
		return Reference{}, fmt.Errorf("reference of %d bytes: %w", len(s), ErrBadReference)
	}
	// Collect the alphanumerics (upper-cased) and where separators fell between them.
	var (
		content   []byte
		breaks    []int // positions in content before which a separator occurred
		separated bool
	)
	for _, c := range s {
		switch {
		case c < utf8.RuneSelf && (isUpperAlnum(byte(c)) || 'a' <= c && c <= 'z'):
			if separated && len(content) > 0 {
				breaks = append(breaks, len(content))
			}
			separated = false
			content = append(content, byte(unicode.ToUpper(c)))
		case c == utf8.RuneError || unicode.IsLetter(c) || unicode.IsDigit(c):
			return Reference{}, fmt.Errorf("reference %q: unexpected character %q: %w", s, c, ErrBadReference)
		default:
			separated = true
		}
	}
	n := len(content)
	if n < 7 || !isDigit(content[n-1]) {
		return Reference{}, fmt.Errorf("reference %q: %w", s, ErrBadReference)
	}
	// The year starts after the last non-digit at the earliest; take the first split whose
	// field boundaries agree with every separator given.
	first := 1
	for i := n - 1; i >= 0; i-- {
		if !isDigit(content[i]) {
			first = i + 1
			break
		}
	}
	for a := first; a <= n-6 && a <= maxPrefixLen; a++ {
		if !breaksAllowed(breaks, a, a+4, n-1) {
			continue
		}
		return referenceFromParts(s, string(content[:a]), string(content[a:a+4]), string(content[a+4:n-1]), content[n-1])
	}
	return Reference{}, fmt.Errorf("reference %q: %w", s, ErrBadReference)
}

// breaksAllowed reports whether every separator position is one of the allowed field
// boundaries.
func breaksAllowed(breaks []int, allowed ...int) bool {
	for _, b := range breaks {
		if !slices.Contains(allowed, b) {
			return false
		}
	}
	return true
}

// referenceFromParts builds and checks a Reference from its textual parts (prefix upper case,
// year, number and check digit as ASCII digits).
func referenceFromParts(input, prefix, year, number string, check byte) (Reference, error) {
	if len(number) > maxNumberDigits {
		return Reference{}, fmt.Errorf("reference %q: number too long: %w", input, ErrBadReference)
	}
	y, err := strconv.Atoi(year)
	if err != nil {
		return Reference{}, fmt.Errorf("reference %q: year: %w", input, ErrBadReference)
	}
	num, err := strconv.ParseUint(number, 10, 64)
	if err != nil {
		return Reference{}, fmt.Errorf("reference %q: number: %w", input, ErrBadReference)
	}
	ref := Reference{Prefix: prefix, Year: y, Number: num}
	if err := ref.validate(); err != nil {
		return Reference{}, fmt.Errorf("reference %q: %w", input, err)
	}
	if want := CheckDigit(y, num); int(check-'0') != want {
		return Reference{}, fmt.Errorf("reference %q: check digit %c: %w", input, check, ErrCheckDigit)
	}
	return ref, nil
}

// Separators accepted between the parts of a reference in free text.
const (
	sepOptional = `[ \t]*[-./_\x{2013}\x{2014}]?[ \t]*`
	sepRequired = `(?:[ \t]+|[ \t]*[-./_\x{2013}\x{2014}][ \t]*)`
	// refTail is year, number (greedy, so the last digit is the check digit), check digit
	// and a right boundary.
	refTail = `(\d{4})` + sepOptional + `(\d{1,20})` + sepOptional + `(\d)(?:[^A-Za-z0-9]|$)`
)

// anyPrefixRE finds references with any prefix: a prefix ending in a letter may be glued to
// the year, one ending in a digit needs a separator (as in ParseReference).
var anyPrefixRE = regexp.MustCompile(`(?:^|[^A-Za-z0-9])(?:([A-Za-z0-9]{0,9}[A-Za-z])` + sepOptional +
	`|([A-Za-z0-9]{0,9}[0-9])` + sepRequired + `)` + refTail)

// FindReferences returns every syntactically valid reference with a correct check digit
// in free text such as a subject "AW: WG: [stk-2026-000042-6] Antrag", in order of
// appearance and without repeats. prefixes restricts the prefixes looked for (case
// insensitive); nil means any prefix. It builds a ReferenceFinder for the one call: code
// that looks through many texts builds one and keeps it.
func FindReferences(text string, prefixes []string) []Reference {
	return NewReferenceFinder(prefixes).Find(text)
}

// ReferenceFinder finds references with a given set of prefixes in free text
// (FindReferences). Making one compiles a regular expression, which cost more than the
// search itself on every registered mail; it is safe for concurrent use.
type ReferenceFinder struct {
	re        *regexp.Regexp // nil: no valid prefix, nothing is ever found
	anyPrefix bool           // re is anyPrefixRE, whose prefix is one of two groups
}

// NewReferenceFinder returns a finder for references with one of prefixes (case
// insensitive; invalid ones are ignored), or with any prefix when prefixes is nil.
func NewReferenceFinder(prefixes []string) *ReferenceFinder {
	if prefixes == nil {
		return &ReferenceFinder{re: anyPrefixRE, anyPrefix: true}
	}
	var alts []string
	for _, p := range prefixes {
		p = strings.ToUpper(strings.TrimSpace(p))
		if q := regexp.QuoteMeta(p); validPrefix(p) && !slices.Contains(alts, q) {
			alts = append(alts, q)
		}
	}
	if len(alts) == 0 {
		return &ReferenceFinder{}
	}
	// Longest first, so that "STK2" is tried before "STK".
	slices.SortFunc(alts, func(a, b string) int { return len(b) - len(a) })
	return &ReferenceFinder{re: regexp.MustCompile(`(?i)(?:^|[^A-Za-z0-9])(` + strings.Join(alts, "|") + `)` + sepOptional + refTail)}
}

// Find returns the references in text, as FindReferences does.
func (f *ReferenceFinder) Find(text string) []Reference {
	re := f.re
	if re == nil {
		return nil
	}
	var refs []Reference
	for pos := 0; pos < len(text); {
		m := re.FindStringSubmatchIndex(text[pos:])
		if m == nil {
			break
		}
		group := func(i int) string {
			if m[2*i] < 0 {
				return ""
			}
			return text[pos+m[2*i] : pos+m[2*i+1]]
		}
		var prefix, year, number, check string
		if f.anyPrefix {
			prefix = group(1) + group(2)
			year, number, check = group(3), group(4), group(5)
		} else {
			prefix, year, number, check = group(1), group(2), group(3), group(4)
		}
		checkEnd := m[len(m)-1] // end of the last group: the check digit
		pos += checkEnd
		ref, err := referenceFromParts(text, strings.ToUpper(prefix), year, number, check[0])
		if err != nil || slices.Contains(refs, ref) {
			continue
		}
		refs = append(refs, ref)
	}
	return refs
}
