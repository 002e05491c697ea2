package search

import (
	"errors"
	"fmt"
	"github.com/intake-office/intake/internal/syncbuf"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/analysis"
	bdoc "github.com/blevesearch/bleve/v2/document"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/intake-office/intake/ticket"
)

// ref returns a valid reference with the check digit of ticket.
func ref(prefix string, year int, n uint64) string {
	return fmt.Sprintf("%s-%d-%06d-%d", prefix, year, n, ticket.CheckDigit(year, n))
}

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// fixture returns seven messages; newest first they are 7, 6, 5 (6 and 5 received in the
// same second), 2, 1, 4, 3.
func fixture() []Doc {
	return []Doc{
		{Seq: 1, Reference: ref("STK", 2026, 1), Mailbox: "bauamt", Kind: "citizen", Status: "new",
			From: "hans.mueller@example.org", FromName: "Hans Müller",
			Subject:     "Antrag auf Fällgenehmigung",
			Body:        "Sehr geehrte Damen und Herren,\nich stelle hiermit einen Antrag auf Fällung der Bäume an der Grünfläche hinter dem Haus Lindenstraße 12.\nMit freundlichen Grüßen\nHans Müller",
			Attachments: []string{"Lageplan_Lindenstraße.pdf"},
			Received:    day("2026-01-10 09:00")},
		{Seq: 2, Reference: ref("STK", 2026, 2), Mailbox: "bauamt", Kind: "citizen", Status: "in_progress",
			From: "erika.schroeder@example.net", FromName: "Erika Schröder",
			Subject:  "Anträge zur Gruenflaeche am Markt",
			Body:     "Guten Tag,\nmeine beiden Anträge vom Januar sind noch offen. Die Grünflächen am Marktplatz werden nicht gepflegt.\nViele Grüße",
			Received: day("2026-02-01 12:00")},
		{Seq: 3, Reference: ref("ORD", 2025, 17), Mailbox: "ordnungsamt", Kind: "citizen", Status: "closed",
			From: "k.weiss@gmx.de", FromName: "Karl Weiß",
			Subject:  "Beschwerde über Lärm in der Schillerstraße",
			Body:     "Seit Wochen ist es nachts sehr laut. Die Lärmbelästigung durch die Baustelle ist nicht mehr zu ertragen.",
			Received: day("2025-11-20 22:15")},
		{Seq: 4, Reference: ref("ORD", 2025, 18), Mailbox: "ordnungsamt", Kind: "automated", Status: "closed",
			From: "MAILER-DAEMON@mail.example.org", FromName: "Mail Delivery System",
			Subject:  "Undelivered Mail Returned to Sender",
			Body:     "This is the mail system at host mail.example.org. I'm sorry to have to inform you that your message could not be delivered.",
			Received: day("2025-12-01 03:00")},
		{Seq: 5, Reference: ref("POST", 2026, 3), Mailbox: "poststelle", Kind: "citizen", Status: "new",
			From: "info@baufirma-grosse.de", FromName: "Baufirma Große GmbH",
			Subject:     "AW: Eingangsbestätigung – Az. " + ref("STK", 2026, 1) + ": Antrag auf Fällgenehmigung",
			Body:        "Wir beziehen uns auf das Schreiben zum Bauantrag Müller.",
			Attachments: []string{"Angebot_2026-117.pdf", "Foto Baum.jpg"},
			Received:    day("2026-02-15 08:30")},
		{Seq: 6, Reference: ref("POST", 2026, 4), Mailbox: "poststelle", Kind: "malformed", Status: "new",
			Received: day("2026-02-15 08:30")},
		{Seq: 7, Reference: ref("STK", 2026, 5), Mailbox: "bauamt", Kind: "citizen", Status: "new",
			From: "hans.mueller@example.org", FromName: "Hans Mueller",
			Subject:  "Nachfrage zu meinem Antrag",
			Body:     "Wann wird über den Antrag entschieden? Die Straße ist gesperrt.",
			Received: day("2026-03-01 10:00")},
	}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// openFixture opens a new index in a temporary directory filled with the fixture.
func openFixture(t *testing.T, opts Options) (*Index, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "index")
	if opts.Log == nil {
		opts.Log = testLogger(t)
	}
	ix, err := OpenWith(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if !ix.Rebuilt() {
		t.Error("new index: Rebuilt() = false")
	}
	if err := ix.Add(fixture()...); err != nil {
		t.Fatal(err)
	}
	return ix, dir
}

func seqs(r Result) []uint64 {
	out := make([]uint64, 0, len(r.Hits))
	for _, h := range r.Hits {
		out = append(out, h.Seq)
	}
	return out
}

func TestSearch(t *testing.T) {
	ix, _ := openFixture(t, Options{})
	ref1 := ref("STK", 2026, 1)
	tests := []struct {
		name string
		q    Query
		want []uint64
	}{
		// German analysis (doc.go): umlaut folding, "ae"/"ue" spellings, light stemming.
		{"umlaut word finds singular and plural", Query{Text: "Grünfläche"}, []uint64{2, 1}},
		{"without umlauts", Query{Text: "Grunflache"}, []uint64{2, 1}},
		{"ae spelling", Query{Text: "Gruenflaeche"}, []uint64{2, 1}},
		{"plural query", Query{Text: "Grünflächen"}, []uint64{2, 1}},
		{"Antrag finds Anträge", Query{Text: "Antrag"}, []uint64{7, 5, 2, 1}},
		{"Anträge finds Antrag", Query{Text: "Anträge"}, []uint64{7, 5, 2, 1}},
		{"genitive Antrags", Query{Text: "Antrags"}, []uint64{7, 5, 2, 1}},
		{"lower case", Query{Text: "antrag"}, []uint64{7, 5, 2, 1}},
		{"Bäume finds Baum in an attachment name", Query{Text: "Bäume"}, []uint64{5, 1}},
		{"ß folded", Query{Text: "Strasse"}, []uint64{7}},
		{"ß", Query{Text: "Straße"}, []uint64{7}},
		{"compound not split", Query{Text: "Bauantrag"}, []uint64{5}},
		{"compound whole", Query{Text: "Lindenstraße"}, []uint64{1}},
		{"word of an attachment name with underscore", Query{Text: "Lageplan"}, []uint64{1}},
		{"all words must occur", Query{Text: "Antrag Lindenstraße"}, []uint64{1}},
		{"no document has both", Query{Text: "Antrag Lärm"}, nil},
		{"unknown word", Query{Text: "Wasserrohrbruch"}, nil},
		{"stop words only = all", Query{Text: "der die und"}, []uint64{7, 6, 5, 2, 1, 4, 3}},
		{"stop word ignored", Query{Text: "die Grünfläche"}, []uint64{2, 1}},
		{"name in the text", Query{Text: "Müller"}, []uint64{7, 5, 1}},
		{"name ue spelling", Query{Text: "Mueller"}, []uint64{7, 5, 1}},
		{"word of an address in the text", Query{Text: "weiss"}, []uint64{3}},
		{"address in the text", Query{Text: "K.Weiss@GMX.de"}, []uint64{3}},
		// Phrases.
		{"phrase", Query{Text: `"Lärm in der Schillerstraße"`}, []uint64{3}},
		{"phrase in wrong order", Query{Text: `"Schillerstraße Lärm"`}, nil},
		{"phrase with German quotes and stemming", Query{Text: "„Fällung der Bäume“"}, []uint64{1}},
		{"phrase reversed", Query{Text: "„Bäume der Fällung“"}, nil},
		{"phrase and word", Query{Text: `"Antrag auf Fällgenehmigung" Hans`}, []uint64{1}},
		{"unclosed quote", Query{Text: `"Fällung der Bäume`}, []uint64{1}},
		{"hyphenated word is a phrase", Query{Text: "Fällung-Bäume"}, nil},
		// References.
		{"reference finds the case and its mentions", Query{Text: ref1}, []uint64{5, 1}},
		{"reference typed loosely", Query{Text: "stk 2026 1 " + ref1[len(ref1)-1:]}, []uint64{5, 1}},
		{"reference lower case without separators", Query{Text: strings.ToLower(strings.ReplaceAll(ref1, "-", ""))}, []uint64{5, 1}},
		{"reference and word", Query{Text: ref1 + " Hans"}, []uint64{1}},
		{"reference of an automated mail", Query{Text: ref("ORD", 2025, 18)}, []uint64{4}},
		// Sender.
		{"sender address", Query{Sender: "hans.mueller@example.org"}, []uint64{7, 1}},
		{"sender address any case", Query{Sender: "HANS.MUELLER@EXAMPLE.ORG"}, []uint64{7, 1}},
		{"sender address stored upper case", Query{Sender: "mailer-daemon@mail.example.org"}, []uint64{4}},
		{"sender name with umlaut finds ue address", Query{Sender: "Müller"}, []uint64{7, 1}},
		{"sender first and last name", Query{Sender: "Hans Müller"}, []uint64{7, 1}},
		{"sender name ö", Query{Sender: "Schröder"}, []uint64{2}},
		{"sender ß", Query{Sender: "Große"}, []uint64{5}},
		{"sender domain", Query{Sender: "example.org"}, []uint64{7, 1, 4}},
		{"sender part of address", Query{Sender: "weiss"}, []uint64{3}},
		{"sender and text", Query{Sender: "Müller", Text: "Straße"}, []uint64{7}},
		{"sender unknown", Query{Sender: "Schmidt"}, nil},
		// Mailbox access.
		{"one mailbox", Query{Mailboxes: []string{"bauamt"}}, []uint64{7, 2, 1}},
		{"other mailbox never sees bauamt", Query{Mailboxes: []string{"ordnungsamt"}, Text: "Antrag"}, nil},
		{"other mailbox by reference", Query{Mailboxes: []string{"ordnungsamt"}, Text: ref1}, nil},
		{"other mailbox by sender", Query{Mailboxes: []string{"ordnungsamt"}, Sender: "hans.mueller@example.org"}, nil},
		{"two mailboxes", Query{Mailboxes: []string{"bauamt", "poststelle"}, Text: "Antrag"}, []uint64{7, 5, 2, 1}},
		{"no mailbox granted", Query{Mailboxes: []string{}}, nil},
		{"unknown mailbox", Query{Mailboxes: []string{"kaemmerei"}}, nil},
		// Kind, status, dates.
		{"kind automated", Query{Kind: "automated"}, []uint64{4}},
		{"kind malformed", Query{Kind: "malformed"}, []uint64{6}},
		{"status closed", Query{Status: "closed"}, []uint64{4, 3}},
		{"status and mailbox", Query{Status: "new", Mailboxes: []string{"bauamt"}}, []uint64{7, 1}},
		{"since inclusive", Query{Since: day("2026-02-01 12:00")}, []uint64{7, 6, 5, 2}},
		{"until exclusive", Query{Until: day("2026-02-01 12:00")}, []uint64{1, 4, 3}},
		{"since and until", Query{Since: day("2025-12-01 00:00"), Until: day("2026-02-15 08:30")}, []uint64{2, 1, 4}},
		{"date and text", Query{Since: day("2026-01-01 00:00"), Text: "Antrag"}, []uint64{7, 5, 2, 1}},
		{"date in other zone", Query{Since: day("2026-02-15 08:30").In(time.FixedZone("CET", 3600))}, []uint64{7, 6, 5}},
		// Order.
		{"all newest first, ties by seq", Query{}, []uint64{7, 6, 5, 2, 1, 4, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ix.Search(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(res); !slices.Equal(got, tt.want) {
				t.Errorf("Search(%+v) = %v, want %v", tt.q, got, tt.want)
			}
			if res.Total != uint64(len(tt.want)) {
				t.Errorf("Total = %d, want %d", res.Total, len(tt.want))
			}
		})
	}
}

func TestHitFields(t *testing.T) {
	ix, _ := openFixture(t, Options{})
	res, err := ix.Search(Query{})
	if err != nil {
		t.Fatal(err)
	}
	byseq := map[uint64]Doc{}
	for _, d := range fixture() {
		byseq[d.Seq] = d
	}
	for _, h := range res.Hits {
		d := byseq[h.Seq]
		if h.Reference != d.Reference || !h.Received.Equal(d.Received) || h.Score != 0 {
			t.Errorf("hit %+v, want reference %s, received %s, score 0", h, d.Reference, d.Received)
		}
	}
	if res.Took <= 0 {
		t.Errorf("Took = %v", res.Took)
	}
}

func TestPaging(t *testing.T) {
	ix, _ := openFixture(t, Options{})
	tests := []struct {
		offset, limit int
		want          []uint64
	}{
		{0, 3, []uint64{7, 6, 5}},
		{3, 3, []uint64{2, 1, 4}},
		{6, 3, []uint64{3}},
		{7, 3, nil},
		{0, 0, []uint64{7, 6, 5, 2, 1, 4, 3}}, // default 20
		{1, 1, []uint64{6}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("offset %d limit %d", tt.offset, tt.limit), func(t *testing.T) {
			res, err := ix.Search(Query{Offset: tt.offset, Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(res); !slices.Equal(got, tt.want) || res.Total != 7 {
				t.Errorf("got %v total %d, want %v total 7", got, res.Total, tt.want)
			}
		})
	}
	bad := []Query{{Limit: -1}, {Offset: -1}, {Limit: MaxLimit + 1}, {Offset: MaxOffset + 1}, {Sender: "@"}}
	for _, q := range bad {
		if _, err := ix.Search(q); !errors.Is(err, ErrBadQuery) {
			t.Errorf("Search(%+v) error %v, want ErrBadQuery", q, err)
		}
	}
}

func TestSortByScore(t *testing.T) {
	ix, _ := openFixture(t, Options{})
	res, err := ix.Search(Query{Text: "Antrag", SortByScore: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 4 {
		t.Fatalf("hits %v, want 4", seqs(res))
	}
	for i, h := range res.Hits {
		if h.Score <= 0 {
			t.Errorf("hit %d score %v", h.Seq, h.Score)
		}
		if i > 0 && h.Score > res.Hits[i-1].Score {
			t.Errorf("not sorted by score: %+v", res.Hits)
		}
	}
	// Seq 7 has Antrag in subject and body, twice in a short document: most relevant.
	if res.Hits[0].Seq != 7 {
		t.Errorf("first hit %d, want 7 (%+v)", res.Hits[0].Seq, res.Hits)
	}
	// With a filter, the filter does not change what matches.
	res, err = ix.Search(Query{Text: "Antrag", SortByScore: true, Mailboxes: []string{"bauamt"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(res); len(got) != 3 || slices.Contains(got, 5) {
		t.Errorf("filtered by score: %v, want 7, 2, 1 in some order", got)
	}
	// Without text SortByScore is ignored.
	res, err = ix.Search(Query{SortByScore: true, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(res); !slices.Equal(got, []uint64{7, 6}) {
		t.Errorf("no text by score: %v, want [7 6]", got)
	}
}

func TestAddIdempotent(t *testing.T) {
	ix, _ := openFixture(t, Options{})
	if err := ix.Add(fixture()...); err != nil {
		t.Fatal(err)
	}
	if n, err := ix.Count(); err != nil || n != 7 {
		t.Fatalf("Count after re-add = %d, %v; want 7", n, err)
	}
	res, err := ix.Search(Query{Text: "Antrag"})
	if err != nil || res.Total != 4 {
		t.Fatalf("Antrag after re-add: %v, %v", seqs(res), err)
	}
	// Re-adding a changed message replaces it: its old words are gone.
	d := fixture()[0]
	d.Body = "Der Baum ist umgestürzt."
	d.Attachments = nil
	if err := ix.Add(d, d); err != nil { // twice in one batch, too
		t.Fatal(err)
	}
	res, err = ix.Search(Query{Text: "Grünfläche"})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(res); !slices.Equal(got, []uint64{2}) {
		t.Errorf("Grünfläche after replacing 1 = %v, want [2]", got)
	}
	if n, _ := ix.Count(); n != 7 {
		t.Errorf("Count = %d, want 7", n)
	}
	if err := ix.Add(Doc{Reference: "X"}); err == nil {
		t.Error("Add with seq 0: no error")
	}
	if got := ix.LastSeq(); got != 7 {
		t.Errorf("LastSeq = %d, want 7", got)
	}
}

func TestDelete(t *testing.T) {
	var logged syncbuf.Buffer
	ix, dir := openFixture(t, Options{Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err := ix.Delete(3, 999); err != nil {
		t.Fatal(err)
	}
	// Delete returns when scorch has persisted the batch (its callback), not when its
	// own wait for that runs out.
	if strings.Contains(logged.String(), "not persisted in time") {
		t.Errorf("Delete returned without the persistence of its batch:\n%s", logged.String())
	}
	defer func() {
		// Persisted: an index opened again from disk no longer holds message 3.
		ix.Close()
		again, err := OpenWith(dir, Options{Log: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		if n, err := again.Count(); err != nil || n != 6 {
			t.Errorf("reopened after Delete: Count = %d, %v; want 6", n, err)
		}
	}()
	if n, err := ix.Count(); err != nil || n != 6 {
		t.Errorf("Count = %d, %v; want 6", n, err)
	}
	res, err := ix.Search(Query{Text: "Lärm"})
	if err != nil || res.Total != 0 {
		t.Errorf("deleted message found: %v, %v", seqs(res), err)
	}
	if err := ix.Delete(); err != nil {
		t.Errorf("Delete(): %v", err)
	}
}

func TestUpdate(t *testing.T) {
	docs := map[uint64]Doc{}
	for _, d := range fixture() {
		docs[d.Seq] = d
	}
	source := func(seq uint64) (Doc, error) {
		d, ok := docs[seq]
		if !ok {
			return Doc{}, fmt.Errorf("message %d: %w", seq, ticket.ErrNotFound)
		}
		return d, nil
	}
	ix, dir := openFixture(t, Options{Source: source})
	if err := ix.Update(2, "closed"); err != nil {
		t.Fatal(err)
	}
	check := func(ix *Index) {
		t.Helper()
		res, err := ix.Search(Query{Status: "closed"})
		if err != nil {
			t.Fatal(err)
		}
		if got := seqs(res); !slices.Equal(got, []uint64{2, 4, 3}) {
			t.Errorf("closed after Update = %v, want [2 4 3]", got)
		}
		// The rest of the document is still indexed.
		res, err = ix.Search(Query{Text: "Marktplatz", Status: "closed"})
		if err != nil || !slices.Equal(seqs(res), []uint64{2}) {
			t.Errorf("text of updated message: %v, %v", seqs(res), err)
		}
	}
	check(ix)
	if err := ix.Update(99, "closed"); !errors.Is(err, ticket.ErrNotFound) {
		t.Errorf("Update of unknown message: %v, want ticket.ErrNotFound", err)
	}
	// Update is persisted: it survives a reopen.
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix2, err := OpenWith(dir, Options{Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	check(ix2)
	if err := ix2.Update(1, "closed"); !errors.Is(err, ErrNoSource) {
		t.Errorf("Update without source: %v, want ErrNoSource", err)
	}
}

func TestReopen(t *testing.T) {
	ix, dir := openFixture(t, Options{})
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := ix.Search(Query{}); err == nil {
		t.Error("Search after Close: no error")
	}
	if err := ix.Add(fixture()[0]); err == nil {
		t.Error("Add after Close: no error")
	}
	ix, err := Open(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if ix.Rebuilt() {
		t.Error("reopened index: Rebuilt() = true")
	}
	if n, err := ix.Count(); err != nil || n != 7 {
		t.Errorf("Count after reopen = %d, %v; want 7", n, err)
	}
	if got := ix.LastSeq(); got != 7 {
		t.Errorf("LastSeq after reopen = %d, want 7", got)
	}
	res, err := ix.Search(Query{Text: "Grünfläche"})
	if err != nil || !slices.Equal(seqs(res), []uint64{2, 1}) {
		t.Errorf("search after reopen: %v, %v", seqs(res), err)
	}
}

// TestOpenDamaged damages a closed index in several ways; Open must move it aside, start
// empty, report Rebuilt, and the new index must work.
func TestOpenDamaged(t *testing.T) {
	garbage := []byte(strings.Repeat("\x00garbage\xff", 1000))
	overwrite := func(match func(name string) bool) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			n := 0
			err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || !match(d.Name()) {
					return err
				}
				n++
				return os.WriteFile(p, garbage, 0o600)
			})
			if err != nil || n == 0 {
				t.Fatalf("overwrote %d files: %v", n, err)
			}
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"every file garbage", overwrite(func(string) bool { return true })},
		{"index_meta.json garbage", overwrite(func(n string) bool { return n == "index_meta.json" })},
		{"root.bolt garbage", overwrite(func(n string) bool { return n == "root.bolt" })},
		{"segments garbage", overwrite(func(n string) bool { return strings.HasSuffix(n, ".zap") })},
		{"segments truncated", func(t *testing.T, dir string) {
			files, _ := filepath.Glob(filepath.Join(dir, "store", "*.zap"))
			if len(files) == 0 {
				t.Fatal("no segment files")
			}
			for _, f := range files {
				if err := os.Truncate(f, 10); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"segments removed", func(t *testing.T, dir string) {
			files, _ := filepath.Glob(filepath.Join(dir, "store", "*.zap"))
			if len(files) == 0 {
				t.Fatal("no segment files")
			}
			for _, f := range files {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"bytes flipped inside a segment (checksum)", func(t *testing.T, dir string) {
			files, _ := filepath.Glob(filepath.Join(dir, "store", "*.zap"))
			if len(files) == 0 {
				t.Fatal("no segment files")
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for i := len(b) / 2; i < len(b)/2+8; i++ {
					b[i] ^= 0xff
				}
				if err := os.WriteFile(f, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"root.bolt removed", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "store", "root.bolt")); err != nil {
				t.Fatal(err)
			}
		}},
		{"index_meta.json removed", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "index_meta.json")); err != nil {
				t.Fatal(err)
			}
		}},
		{"other schema version", func(t *testing.T, dir string) {
			ix, err := Open(dir, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			ix.mu.RLock()
			err = ix.idx.SetInternal([]byte(keySchema), []byte("0"))
			ix.mu.RUnlock()
			if err != nil {
				t.Fatal(err)
			}
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix, dir := openFixture(t, Options{})
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, dir)
			ix, err := Open(dir, testLogger(t))
			if err != nil {
				t.Fatalf("Open of damaged index: %v", err)
			}
			defer ix.Close()
			if !ix.Rebuilt() {
				t.Error("Rebuilt() = false")
			}
			if n, err := ix.Count(); err != nil || n != 0 {
				t.Errorf("Count = %d, %v; want 0", n, err)
			}
			if ix.LastSeq() != 0 {
				t.Errorf("LastSeq = %d, want 0", ix.LastSeq())
			}
			if _, err := os.Stat(dir + ".broken"); err != nil {
				t.Errorf("damaged index not moved aside: %v", err)
			}
			if err := ix.Add(fixture()...); err != nil {
				t.Fatal(err)
			}
			res, err := ix.Search(Query{Text: "Grünfläche"})
			if err != nil || !slices.Equal(seqs(res), []uint64{2, 1}) {
				t.Errorf("search in rebuilt index: %v, %v", seqs(res), err)
			}
		})
	}
}

func TestOpenMissingOrEmpty(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(dir string) error
	}{
		{"missing", func(string) error { return nil }},
		{"missing parent", func(string) error { return nil }},
		{"empty directory", func(dir string) error { return os.Mkdir(dir, 0o700) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "index")
			if tt.name == "missing parent" {
				dir = filepath.Join(t.TempDir(), "a", "b", "index")
			}
			if err := tt.prepare(dir); err != nil {
				t.Fatal(err)
			}
			ix, err := Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			if !ix.Rebuilt() {
				t.Error("Rebuilt() = false")
			}
			if _, err := os.Stat(dir + ".broken"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("nothing to move aside, but %s.broken: %v", dir, err)
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Run("not an index", func(t *testing.T) {
		dir := t.TempDir()
		db := filepath.Join(dir, "intake.db")
		if err := os.WriteFile(db, []byte("register"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, testLogger(t)); !errors.Is(err, ErrNotIndex) {
			t.Errorf("Open of a non-index directory: %v, want ErrNotIndex", err)
		}
		if _, err := os.Stat(db); err != nil {
			t.Errorf("non-index directory touched: %v", err)
		}
		if _, err := Open(db, testLogger(t)); !errors.Is(err, ErrNotIndex) {
			t.Errorf("Open of a file: %v, want ErrNotIndex", err)
		}
	})
	t.Run("locked", func(t *testing.T) {
		ix, dir := openFixture(t, Options{})
		_, err := OpenWith(dir, Options{Log: testLogger(t), LockTimeout: 100 * time.Millisecond})
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("second Open: %v, want ErrLocked", err)
		}
		if _, err := os.Stat(dir + ".broken"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("locked index moved aside: %v", err)
		}
		if n, err := ix.Count(); err != nil || n != 7 {
			t.Errorf("first index after second Open: %d, %v", n, err)
		}
	})
}

func TestReset(t *testing.T) {
	ix, dir := openFixture(t, Options{})
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if ix.Rebuilt() {
		t.Fatal("Rebuilt before Reset")
	}
	if err := ix.Reset(); err != nil {
		t.Fatal(err)
	}
	if !ix.Rebuilt() || ix.LastSeq() != 0 {
		t.Errorf("after Reset: Rebuilt %v, LastSeq %d", ix.Rebuilt(), ix.LastSeq())
	}
	if n, err := ix.Count(); err != nil || n != 0 {
		t.Errorf("Count after Reset = %d, %v", n, err)
	}
	n, err := ix.Fill(t.Context(), func(yield func(Doc, error) bool) {
		for _, d := range fixture() {
			if !yield(d, nil) {
				return
			}
		}
	})
	if err != nil || n != 7 {
		t.Fatalf("Fill = %d, %v", n, err)
	}
	if c, _ := ix.Count(); c != 7 {
		t.Errorf("Count after Fill = %d", c)
	}
	// A failing source stops Fill and keeps what came before.
	boom := errors.New("boom")
	_, err = ix.Fill(t.Context(), func(yield func(Doc, error) bool) {
		yield(Doc{}, boom)
	})
	if !errors.Is(err, boom) {
		t.Errorf("Fill with failing source: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	ix, _ := openFixture(t, Options{})
	c := newCorpus(7, 400)
	done := make(chan error, 3)
	go func() {
		for i := 0; i < 400; i += 50 {
			batch := make([]Doc, 0, 50)
			for k := i; k < i+50; k++ {
				d := c.doc(k).Doc
				d.Seq += 100
				batch = append(batch, d)
			}
			if err := ix.Add(batch...); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 2 {
		go func() {
			for range 50 {
				if _, err := ix.Search(Query{Text: "Antrag", Mailboxes: []string{"bauamt"}}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := ix.Count(); n != 407 {
		t.Errorf("Count = %d, want 407", n)
	}
}

func TestClampTime(t *testing.T) {
	tests := []struct {
		in   time.Time
		want time.Time
	}{
		{time.Time{}, time.Unix(0, -1<<63)},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, 1<<63-1)},
		{day("2026-01-01 00:00"), day("2026-01-01 00:00")},
	}
	for _, tt := range tests {
		if got := clampTime(tt.in); !got.Equal(tt.want) {
			t.Errorf("clampTime(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	// A message without a date is still indexed, as the oldest.
	ix, _ := openFixture(t, Options{})
	if err := ix.Add(Doc{Seq: 50, Reference: "X", Mailbox: "bauamt", Subject: "ohne Datum"}); err != nil {
		t.Fatal(err)
	}
	res, err := ix.Search(Query{Mailboxes: []string{"bauamt"}})
	if err != nil || !slices.Equal(seqs(res), []uint64{7, 2, 1, 50}) {
		t.Errorf("undated message: %v, %v", seqs(res), err)
	}
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		in   string
		want []textPart
	}{
		{"", nil},
		{"  a  b ", []textPart{{"a", false}, {"b", false}}},
		{`a "b c" d`, []textPart{{"a", false}, {"b c", true}, {"d", false}}},
		{"„b c“ d", []textPart{{"b c", true}, {"d", false}}},
		{"“b c” d", []textPart{{"b c", true}, {"d", false}}},
		{`"b c`, []textPart{{"b c", true}}},
		{`"" x`, []textPart{{"x", false}}},
		{"a\tb\nc", []textPart{{"a", false}, {"b", false}, {"c", false}}},
	}
	for _, tt := range tests {
		if got := splitText(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("splitText(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestReferenceWord(t *testing.T) {
	r := ref("STK", 2026, 42)
	wrong := fmt.Sprintf("STK-2026-000042-%d", (ticket.CheckDigit(2026, 42)+1)%10)
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{r, r, true},
		{strings.ToLower(r), r, true},
		{"Antrag", "", false},
		{"0301234567", "", false}, // digits only: never a reference
		{wrong, "", false},        // wrong check digit
	}
	for _, tt := range tests {
		if got, ok := reference(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("reference(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestDocumentMatchesMapping: document builds the fields itself; every field must use the
// analyzer the mapping names for it, or queries would analyse differently than indexing.
func TestDocumentMatchesMapping(t *testing.T) {
	m, err := newMapping()
	if err != nil {
		t.Fatal(err)
	}
	analyzers := map[string]analysis.Analyzer{}
	for _, name := range []string{keywordAnalyzer, deAnalyzer, filenameAnalyzer, senderAnalyzer} {
		analyzers[name] = m.AnalyzerNamed(name)
	}
	d := fixture()[0]
	doc, err := document(&d, analyzers)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	doc.VisitFields(func(f index.Field) {
		seen[f.Name()] = true
		tf, ok := f.(*bdoc.TextField)
		if !ok {
			return
		}
		want := m.AnalyzerNamed(m.AnalyzerNameForPath(f.Name()))
		if want == nil || tf.Analyzer() != want {
			t.Errorf("field %s: analyzer differs from the mapping's %q", f.Name(), m.AnalyzerNameForPath(f.Name()))
		}
	})
	for _, name := range []string{fReference, fMailbox, fKind, fStatus, fFrom, fSender, fFromName, fSubject, fBody, fAttachments, fReceived, fOrder} {
		if !seen[name] {
			t.Errorf("field %s missing from the document", name)
		}
	}
}

// TestSearchByPeriods: a newest-first search that goes by periods (forced here: every
// query counts as expensive) returns exactly the hits of the plain search; only Total may
// be a lower bound, and then TotalAtLeast says so.
func TestSearchByPeriods(t *testing.T) {
	ix, _ := openFixture(t, Options{})
	queries := []Query{
		{}, {Text: "Antrag"}, {Text: "Grünfläche"}, {Mailboxes: []string{"bauamt"}},
		{Status: "new"}, {Since: day("2026-01-01 00:00")}, {Until: day("2026-02-15 08:30")},
		{Text: `"Antrag auf Fällgenehmigung"`}, {Sender: "example.org"}, {Text: ref("STK", 2026, 1)},
		{Since: day("2026-02-10 00:00"), Until: day("2026-02-20 00:00")},
	}
	periodsUsed := false
	for _, q := range queries {
		for _, page := range [][2]int{{0, 1}, {0, 2}, {1, 1}, {0, 3}, {2, 2}, {0, 20}, {5, 3}} {
			q.Offset, q.Limit = page[0], page[1]
			ix.expensive = defaultExpensive
			want, err := ix.Search(q)
			if err != nil {
				t.Fatal(err)
			}
			if want.TotalAtLeast {
				t.Fatalf("%+v: small fixture searched by periods", q)
			}
			ix.expensive = 0
			got, err := ix.Search(q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqs(got), seqs(want)) {
				t.Errorf("%+v by periods: %v, want %v", q, seqs(got), seqs(want))
			}
			switch {
			case got.TotalAtLeast && (got.Total > want.Total || got.Total <= uint64(q.Offset+q.Limit)):
				t.Errorf("%+v: lower bound %d, exact %d", q, got.Total, want.Total)
			case !got.TotalAtLeast && got.Total != want.Total:
				t.Errorf("%+v: Total %d, want %d", q, got.Total, want.Total)
			}
			periodsUsed = periodsUsed || got.TotalAtLeast
		}
	}
	if !periodsUsed {
		t.Error("no query stopped early")
	}
	// Sorted by score, a search never goes by periods.
	res, err := ix.Search(Query{Text: "Antrag", SortByScore: true, Limit: 1})
	if err != nil || res.TotalAtLeast || res.Total != 4 {
		t.Errorf("by score: total %d, at least %v, %v", res.Total, res.TotalAtLeast, err)
	}
}
