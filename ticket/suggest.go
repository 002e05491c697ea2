package ticket

import (
	"errors"
	"slices"
	"strings"
)

// "Did you mean": a reference typed with a wrong check digit gets the references one
// typing error away that exist. The web's search, the API and "intake case show" all
// answer with these (issue 11 item 9).

// DidYouMean returns the cases whose reference differs from the mistyped input in one
// digit or in one swap of adjacent digits (of year, number and check digit), of those
// whose mailbox canSee allows; without their messages. The Damm check digit detects
// exactly these errors, so these are the references the user most likely meant.
func (s *Store) DidYouMean(input string, prefixes []string, canSee func(mailbox string) bool) ([]Case, error) {
	var out []Case
	for _, ref := range ReferenceCandidates(input, prefixes) {
		c, err := s.Lookup(ref)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if canSee == nil || canSee(c.Mailbox) {
			c.Messages = nil
			out = append(out, *c)
		}
	}
	return out, nil
}

// ReferenceCandidates returns the valid references one typing error away from input:
// every change of one digit and every swap of two adjacent digits of the digit string
// (year, number, check digit), kept when the result has a correct check digit. The prefix
// is one of prefixes when input starts with it, else everything up to the last letter.
func ReferenceCandidates(input string, prefixes []string) []Reference {
	content, ok := referenceContent(input)
	if !ok {
		return nil
	}
	prefix, digits := splitPrefix(content, prefixes)
	if prefix == "" || len(digits) < 6 || len(digits) > 25 {
		return nil
	}
	seen := map[Reference]bool{}
	var out []Reference
	try := func(d []byte) {
		// year 4 digits, check digit last, number in between; separators make the split
		// unambiguous even for a prefix that ends in a digit.
		s := prefix + "-" + string(d[:4]) + "-" + string(d[4:len(d)-1]) + "-" + string(d[len(d)-1:])
		if ref, err := ParseReference(s); err == nil && !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	d := []byte(digits)
	for i := range d {
		orig := d[i]
		for c := byte('0'); c <= '9'; c++ {
			if c != orig {
				d[i] = c
				try(d)
			}
		}
		d[i] = orig
		if i+1 < len(d) && d[i] != d[i+1] {
			d[i], d[i+1] = d[i+1], d[i]
			try(d)
			d[i], d[i+1] = d[i+1], d[i]
		}
	}
	slices.SortFunc(out, func(a, b Reference) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// splitPrefix splits the upper-cased alphanumerics of a reference into prefix and digits.
// referenceContent is input as a reference is read: its letters (upper-cased) and digits,
// separators dropped; false when input has a character beyond ASCII.
func referenceContent(input string) ([]byte, bool) {
	var content []byte
	for _, c := range strings.ToUpper(input) {
		switch {
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			content = append(content, byte(c))
		case c > 127:
			return nil, false
		}
	}
	return content, true
}

// HasOwnPrefix reports whether input, read as a reference is read, is one of prefixes
// followed by digits only: a mistyped reference of this office, not text such as
// "meine 1539,97" that merely has a reference's shape.
func HasOwnPrefix(input string, prefixes []string) bool {
	content, ok := referenceContent(input)
	if !ok {
		return false
	}
	prefix, _ := splitPrefix(content, prefixes)
	return prefix != "" && slices.Contains(prefixes, prefix)
}

func splitPrefix(content []byte, prefixes []string) (string, string) {
	sorted := slices.Clone(prefixes)
	slices.SortFunc(sorted, func(a, b string) int { return len(b) - len(a) })
	allDigits := func(b []byte) bool {
		for _, c := range b {
			if c < '0' || c > '9' {
				return false
			}
		}
		return len(b) > 0
	}
	for _, p := range sorted {
		if rest, ok := strings.CutPrefix(string(content), p); ok && allDigits([]byte(rest)) {
			return p, rest
		}
	}
	last := -1
	for i, c := range content {
		if c >= 'A' && c <= 'Z' {
			last = i
		}
	}
	if last < 0 || !allDigits(content[last+1:]) {
		return "", ""
	}
	return string(content[:last+1]), string(content[last+1:])
}
