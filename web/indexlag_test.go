package web

import (
	"strings"
	"testing"

	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/ticket"
)

// TestSearchPageSaysHowFarTheIndexLags: while the indexer catches up after a
// drain, the search page says how many registered messages the full-text
// index does not hold yet; the lookup by reference never depends on it.
func TestSearchPageSaysHowFarTheIndexLags(t *testing.T) {
	var store *ticket.Store
	idx, err := search.OpenWith(t.TempDir(), search.Options{Source: func(seq uint64) (search.Doc, error) {
		return docOf(store, seq)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	f := newFixture(t, fixtureOptions{search: idx})
	store = f.store
	last, err := store.LastSeq()
	if err != nil || last == 0 {
		t.Fatalf("LastSeq = %d, %v", last, err)
	}
	var lastName string
	for name, seq := range f.seqs {
		if seq == last {
			lastName = name
		}
	}
	// The index holds everything but the last two messages.
	for seq := uint64(1); seq <= last-2; seq++ {
		d, err := docOf(store, seq)
		if err != nil {
			continue // not a message of the fixture
		}
		if err := idx.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	c := f.loggedIn("erika")
	const lag = "Suchindex 2 Nachrichten hinter dem Register"
	if _, body := c.get("/?q=Garage"); !strings.Contains(body, lag) {
		t.Errorf("index 2 behind: no %q on the search page:\n%s", lag, body)
	}
	if lastName != "presse" {
		t.Fatalf("the fixture's last message is %q; the test looks up presse's case, which paul sees", lastName)
	}
	ref := f.ref(lastName)
	if _, body := f.loggedIn("paul").get("/?q=" + ref); !strings.Contains(body, `href="/cases/`+ref) && !strings.Contains(body, "<h1>"+ref) || strings.Contains(body, "Kein Vorgang") {
		t.Errorf("lookup of %s, not in the index, failed:\n%s", ref, body)
	}
	for seq := last - 1; seq <= last; seq++ {
		d, err := docOf(store, seq)
		if err != nil {
			t.Fatal(err)
		}
		if err := idx.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	if _, body := c.get("/?q=Garage"); strings.Contains(body, "Suchindex") {
		t.Errorf("index caught up, still a lag on the search page:\n%s", body)
	}
}
