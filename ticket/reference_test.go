package ticket

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestDammKnownValues(t *testing.T) {
	// Check digits computed independently of this package (Wikipedia's example: 572 -> 4).
	tests := []struct {
		digits string
		want   int
	}{
		{"572", 4},
		{"5724", 0},
		{"2026000042", 6},
		{"2026000001", 5},
		{"2025000001", 9},
		{"2026999999", 5},
		{"20261234567", 5},
	}
	for _, tt := range tests {
		if got := damm(tt.digits); got != tt.want {
			t.Errorf("damm(%q) = %d, want %d", tt.digits, got, tt.want)
		}
	}
}

func TestReferenceString(t *testing.T) {
	tests := []struct {
		ref  Reference
		want string
	}{
		{Reference{"STK", 2026, 42}, "STK-2026-000042-6"},
		{Reference{"STK", 2026, 1}, "STK-2026-000001-5"},
		{Reference{"STK", 2025, 1}, "STK-2025-000001-9"},
		{Reference{"A1", 2026, 999999}, "A1-2026-999999-5"},
		{Reference{"STK", 2026, 1234567}, "STK-2026-1234567-5"},
		{Reference{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.ref.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := CheckDigit(tt.ref.Year, tt.ref.Number); !tt.ref.IsZero() && fmt.Sprint(got) != tt.want[len(tt.want)-1:] {
				t.Errorf("CheckDigit = %d, want the last digit of %q", got, tt.want)
			}
		})
	}
}

func TestParseReference(t *testing.T) {
	stk42 := Reference{"STK", 2026, 42}
	tests := []struct {
		in   string
		want Reference
	}{
		{"STK-2026-000042-6", stk42},
		{" Stk-2026-000042-6 ", stk42},
		{"stk 2026 42 6", stk42},
		{"STK2026000042-6", stk42},
		{"STK20260000426", stk42},
		{"stk2026426", stk42},
		{"STK/2026/000042/6", stk42},
		{"STK.2026.000042.6", stk42},
		{"STK – 2026 – 000042 – 6", stk42},
		{"[STK-2026-000042-6]", stk42},
		{"STK-2026000042-6", stk42},
		{"STK2026-000042-6", stk42},
		{"STK-2026-0000000042-6", stk42},
		{"A1-2026-999999-5", Reference{"A1", 2026, 999999}},
		{"a1 2026 999999 5", Reference{"A1", 2026, 999999}},
		{"STK-2026-1234567-5", Reference{"STK", 2026, 1234567}},
		{"ABCDEFGHIJ-2025-000001-9", Reference{"ABCDEFGHIJ", 2025, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseReference(tt.in)
			if err != nil {
				t.Fatalf("ParseReference(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseReference(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseReferenceErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"STK-2026-000042-7", ErrCheckDigit},
		{"stk 2026 42 5", ErrCheckDigit},
		{"STK-2026-000043-6", ErrCheckDigit},
		{"STK-2025-000042-6", ErrCheckDigit},
		{"", ErrBadReference},
		{"   ", ErrBadReference},
		{"STK", ErrBadReference},
		{"STK-2026", ErrBadReference},
		{"STK-2026-6", ErrBadReference},                // no number
		{"2026-000042-6", ErrBadReference},             // no prefix
		{"STK-0999-000042-6", ErrBadReference},         // year not 4 digits
		{"STK-2026-000000-2", ErrBadReference},         // number 0
		{"ABCDEFGHIJK-2026-000042-6", ErrBadReference}, // prefix too long
		{"ST K-2026-000042-6", ErrBadReference},        // separator inside the prefix
		{"STK-2026-0000-42-6", ErrBadReference},        // separator inside the number
		{"STK-2026-000042-6X", ErrBadReference},
		{"STÄ-2026-000042-6", ErrBadReference},
		{"STK-2026-99999999999999999999999-1", ErrBadReference}, // number overflows
		{"STK-2026-000042-6\xff", ErrBadReference},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseReference(tt.in)
			if !errors.Is(err, tt.want) {
				t.Errorf("ParseReference(%q) error = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

// TestCheckDigitDetectsErrors changes every digit of the protected string (year, padded
// number and check digit) to every other digit, and swaps every pair of adjacent differing
// digits; each change must be caught.
func TestCheckDigitDetectsErrors(t *testing.T) {
	var sample []Reference
	for _, year := range []int{1999, 2025, 2026, 2099} {
		for n := uint64(1); n <= 1000; n++ {
			sample = append(sample, Reference{"STK", year, n})
		}
		for _, n := range []uint64{99999, 100000, 123456, 654321, 999999, 1000000, 9876543} {
			sample = append(sample, Reference{"STK", year, n})
		}
	}
	for _, ref := range sample {
		digits := checkString(ref.Year, ref.Number) + fmt.Sprint(CheckDigit(ref.Year, ref.Number))
		if damm(digits) != 0 {
			t.Fatalf("%s: %s does not reduce to 0", ref, digits)
		}
		for i := range len(digits) {
			for d := byte('0'); d <= '9'; d++ {
				if d == digits[i] {
					continue
				}
				changed := []byte(digits)
				changed[i] = d
				if damm(string(changed)) == 0 {
					t.Fatalf("%s: substitution %s -> %s not detected", ref, digits, changed)
				}
			}
			if i+1 < len(digits) && digits[i] != digits[i+1] {
				swapped := []byte(digits)
				swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
				if damm(string(swapped)) == 0 {
					t.Fatalf("%s: transposition %s -> %s not detected", ref, digits, swapped)
				}
			}
		}
	}
}

// TestParseReferenceRejectsTypos does the same through ParseReference, on the written form
// (digits of the prefix are not protected: the prefix is checked against the configured ones).
func TestParseReferenceRejectsTypos(t *testing.T) {
	for _, ref := range []Reference{{"STK", 2026, 42}, {"STK", 2025, 1}, {"B7", 2026, 918273}, {"STK", 2026, 1234567}} {
		s := ref.String()
		var variants []string
		for i := len(ref.Prefix); i < len(s); i++ { // the prefix is not protected
			if !isDigit(s[i]) {
				continue
			}
			for d := byte('0'); d <= '9'; d++ {
				if d != s[i] {
					b := []byte(s)
					b[i] = d
					variants = append(variants, string(b))
				}
			}
			// Adjacent digits, also across a separator (the digit string has no separators).
			j := i + 1
			for j < len(s) && s[j] == '-' {
				j++
			}
			if j < len(s) && isDigit(s[j]) && s[j] != s[i] {
				b := []byte(s)
				b[i], b[j] = b[j], b[i]
				variants = append(variants, string(b))
			}
		}
		for _, v := range variants {
			if v == s {
				continue
			}
			_, err := ParseReference(v)
			if !errors.Is(err, ErrCheckDigit) && !errors.Is(err, ErrBadReference) {
				t.Errorf("ParseReference(%q) (typo of %s) error = %v, want a check digit error", v, s, err)
			}
		}
	}
}

func TestReferenceJSON(t *testing.T) {
	type doc struct {
		Ref Reference  `json:"ref"`
		Opt *Reference `json:"opt,omitempty"`
	}
	in := doc{Ref: Reference{"STK", 2026, 42}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"ref":"STK-2026-000042-6"}` {
		t.Errorf("JSON = %s", b)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"ref":"STK-2026-000042-7"}`), &out); !errors.Is(err, ErrCheckDigit) {
		t.Errorf("unmarshal of a wrong check digit: %v", err)
	}
	if _, err := json.Marshal(doc{Ref: Reference{"stk", 2026, 42}}); err == nil {
		t.Errorf("marshal of a lower-case prefix succeeded")
	}
}

func TestFindReferences(t *testing.T) {
	stk42 := Reference{"STK", 2026, 42}
	stk1 := Reference{"STK", 2026, 1}
	tests := []struct {
		name     string
		text     string
		prefixes []string
		want     []Reference
	}{
		{"subject", "AW: WG: [stk-2026-000042-6] Antrag", nil, []Reference{stk42}},
		{"wrong check digit", "AW: WG: [stk-2026-000042-7] Antrag", nil, nil},
		{"glued", "Re:STK2026000042-6", nil, []Reference{stk42}},
		{"spaces", "Ihr Zeichen: STK 2026 000042 6.", []string{"STK"}, []Reference{stk42}},
		{"two and a repeat", "STK-2026-000042-6, STK-2026-000001-5; STK-2026-000042-6", nil, []Reference{stk42, stk1}},
		{"in our Message-ID", "<STK-2026-000042-6.17.ack@amt.example>", []string{"stk"}, []Reference{stk42}},
		{"prefix filter", "ABC-2026-000042-6 STK-2026-000001-5", []string{"STK"}, []Reference{stk1}},
		{"digit prefix", "Az. A1-2026-999999-5", nil, []Reference{{"A1", 2026, 999999}}},
		{"digit prefix glued, known", "Az. A120269999995", []string{"A1"}, []Reference{{"A1", 2026, 999999}}},
		{"inside a word", "XSTK-2026-000042-6", []string{"STK"}, nil},
		{"trailing digit", "STK-2026-000042-67", nil, nil},
		{"date", "Termin am 2026-01-15 um 10 Uhr", nil, nil},
		{"empty prefix list", "STK-2026-000042-6", []string{}, nil},
		{"only invalid prefixes", "STK-2026-000042-6", []string{"", "S T K"}, nil},
		{"two prefixes, one the start of the other", "STK2-2026-000042-6 STK-2026-000001-5", []string{"STK", "STK2", "stk"}, []Reference{{"STK2", 2026, 42}, stk1}},
		// Glued, "STK" would also match (year 2202) and then fail its check digit: the
		// longer prefix must be tried first.
		{"glued, the longer prefix first", "STK220260000426", []string{"STK", "STK2"}, []Reference{{"STK2", 2026, 42}}},
		{"nothing", "Antrag auf Baugenehmigung", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FindReferences(tt.text, tt.prefixes)
			if !slices.Equal(got, tt.want) {
				t.Errorf("FindReferences(%q, %q) = %v, want %v", tt.text, tt.prefixes, got, tt.want)
			}
			// A finder kept for many texts finds the same, every time.
			f := NewReferenceFinder(tt.prefixes)
			for range 2 {
				if got := f.Find(tt.text); !slices.Equal(got, tt.want) {
					t.Errorf("NewReferenceFinder(%q).Find(%q) = %v, want %v", tt.prefixes, tt.text, got, tt.want)
				}
			}
		})
	}
}

// The watcher looks for references in the subject of every mail it registers: a kept
// finder must not compile its expression again for each (issue 12: 3–5 % of intake's
// CPU in the drain).
func TestReferenceFinderFindAllocations(t *testing.T) {
	f := NewReferenceFinder([]string{"STK", "BAU"})
	subject := "AW: WG: [stk-2026-000042-6] Antrag auf Baugenehmigung"
	if got := f.Find(subject); len(got) != 1 {
		t.Fatalf("Find(%q) = %v, want one reference", subject, got)
	}
	allocs := testing.AllocsPerRun(100, func() { f.Find(subject) })
	compile := testing.AllocsPerRun(10, func() { NewReferenceFinder([]string{"STK", "BAU"}) })
	t.Logf("Find: %.0f allocations; making a finder: %.0f", allocs, compile)
	// About 5 against about 170. Under -race regexp's pooled matchers are sometimes
	// dropped and Find allocates a few more, so the bound is relative to a compile.
	if allocs*4 >= compile {
		t.Errorf("Find allocated %.0f times for one subject, as if it compiled (making a finder: %.0f)", allocs, compile)
	}
}
