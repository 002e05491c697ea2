package lettergen

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLetter(t *testing.T) {
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	g := New(7)
	if !reflect.DeepEqual(g.Letter(42, day), New(7).Letter(42, day)) {
		t.Fatal("letter 42 differs between two generators of the same seed")
	}
	if reflect.DeepEqual(g.Letter(42, day), g.Letter(43, day)) {
		t.Fatal("letters 42 and 43 are the same")
	}
	const n = 2000
	var bytes int
	for i := range uint64(n) {
		l := g.Letter(i, day)
		bytes += len(l.Body)
		if l.Subject == "" || strings.Contains(l.Subject, "%!") || !strings.Contains(l.From, "@") {
			t.Fatalf("letter %d: subject %q from %q", i, l.Subject, l.From)
		}
		lower := strings.ToLower(l.Body) // a word that opens a sentence is capitalised
		for _, w := range l.Words {
			if !strings.Contains(lower, strings.ToLower(w)) {
				t.Fatalf("letter %d: word %q not in the body", i, w)
			}
		}
		flat := strings.Join(strings.Fields(l.Body), " ") // a phrase may span a line break
		if p := Phrase(rand.New(rand.NewPCG(i, 1)), l.Body); p != "" && !strings.Contains(flat, p) {
			t.Fatalf("letter %d: phrase %q not in the body", i, p)
		}
	}
	// Bodies of about 1.9 KB on average, as the search package's generator.
	if avg := bytes / n; avg < 1200 || avg > 2600 {
		t.Errorf("average body %d bytes, want about 1,900", avg)
	}
	if v := g.Vocabulary(); len(v) < 3500 {
		t.Errorf("vocabulary of %d words, want about 3,800", len(v))
	}
}
