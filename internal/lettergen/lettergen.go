package lettergen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Letter is one generated letter.
type Letter struct {
	FirstName, LastName string
	From                string // the sender's address
	Subject             string
	Body                string
	Attachments         []string // file names
	Words               []string // the content words of Body, in order (for queries)
}

// Gen generates letters. It holds no mutable state: safe for concurrent use.
type Gen struct {
	seed  uint64
	words []string // content words, most frequent first (Zipf rank order)
}

// New returns the generator of seed.
func New(seed uint64) *Gen {
	var words []string
	for _, r := range roots {
		for _, h := range heads {
			words = append(words, r+h)
		}
	}
	for _, p := range nouns {
		words = append(words, strings.Split(p, "/")...)
	}
	words = append(words, others...)
	rng := rand.New(rand.NewPCG(seed, 0x1e77e5))
	rng.Shuffle(len(words), func(i, j int) { words[i], words[j] = words[j], words[i] })
	return &Gen{seed: seed, words: words}
}

// Vocabulary returns the content words, the most frequent first. The caller
// must not change it.
func (g *Gen) Vocabulary() []string { return g.words }

func (g *Gen) rng(i uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.seed^i*0x9e3779b97f4a7c15, 0x1e77e5))
}

// Letter returns letter i, written on day received (which only shapes the
// dates in its text).
func (g *Gen) Letter(i uint64, received time.Time) Letter {
	r := g.rng(i)
	z := rand.NewZipf(r, 1.1, 2, uint64(len(g.words)-1))
	word := func() string { return g.words[z.Uint64()] }
	var l Letter
	l.FirstName = firstNames[r.IntN(len(firstNames))]
	l.LastName = lastNames[r.IntN(len(lastNames))]
	local := fold(strings.ToLower(l.FirstName + "." + l.LastName))
	if r.IntN(3) == 0 {
		local = fmt.Sprintf("%s%d", fold(strings.ToLower(l.LastName)), 1950+r.IntN(55))
	}
	l.From = local + "@" + providers[r.IntN(len(providers))]
	street := func() string { return streets[r.IntN(len(streets))] }
	t := subjects[r.IntN(len(subjects))]
	args := []any{word(), street()}
	l.Subject = fmt.Sprintf(t, args[:strings.Count(t, "%s")]...)

	var b strings.Builder
	b.WriteString(greetings[r.IntN(len(greetings))])
	for range 4 + r.IntN(22) {
		n := 7 + r.IntN(12)
		for k := range n {
			var w string
			switch x := r.IntN(100); {
			case x < 42:
				w = stopWords[r.IntN(len(stopWords))]
			case x < 44:
				w = fmt.Sprint(1 + r.IntN(200))
			case x < 45:
				w = received.AddDate(0, 0, -r.IntN(400)).Format("02.01.2006")
			case x < 46:
				w = fmt.Sprintf("%s %d", street(), 1+r.IntN(120))
			case x < 47:
				w = fmt.Sprintf("%d,%02d €", r.IntN(3000), r.IntN(100))
			case x < 48:
				w = lastNames[r.IntN(len(lastNames))]
			default:
				w = word()
				l.Words = append(l.Words, w)
			}
			if k == 0 {
				w = capitalize(w)
			} else {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
		b.WriteString([]string{". ", ". ", ".\n", "? ", "!\n\n"}[r.IntN(5)])
	}
	fmt.Fprintf(&b, "\n\nMit freundlichen Grüßen\n%s %s\n%s %d\n%05d Musterstadt\n",
		l.FirstName, l.LastName, street(), 1+r.IntN(120), 10000+r.IntN(89999))
	l.Body = b.String()
	for a := r.IntN(5) - 2; a > 0; a-- {
		l.Attachments = append(l.Attachments, []string{
			fmt.Sprintf("Scan_%s.pdf", received.Format("2006-01-02")),
			fmt.Sprintf("%s_%s.pdf", word(), fold(l.LastName)),
			"Antrag_ausgefuellt.pdf", "Lageplan.pdf", "Vollmacht.pdf",
		}[r.IntN(5)])
	}
	return l
}

// Phrase returns two adjacent words of one sentence of body (function words
// included), as a clerk copies them from a letter, or "" when it finds none.
func Phrase(r *rand.Rand, body string) string {
	f := strings.Fields(body)
	if len(f) < 8 {
		return ""
	}
	for range 20 {
		i := 3 + r.IntN(len(f)-6)
		if !strings.ContainsAny(f[i], ".,?!") { // not across the end of a sentence
			return f[i] + " " + strings.TrimRight(f[i+1], ".,?!")
		}
	}
	return ""
}

func fold(s string) string {
	return strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue", "ı", "i", "ş", "s").Replace(s)
}

func capitalize(w string) string {
	r, n := utf8.DecodeRuneInString(w)
	if n == 0 {
		return w
	}
	return string(unicode.ToUpper(r)) + w[n:]
}
