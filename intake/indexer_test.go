package intake_test

import (
	"context"
	"testing"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/ticket"
)

func TestSearchIndexFollowsTheRegister(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	ix, err := search.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	p.opts.Search = ix
	p.start()
	p.deliver(citizen, letter(citizen, "Antrag", "s1@example.test", "", "Es geht um die Grünfläche hinter dem Rathaus."))
	p.deliver(citizen, letter(citizen, "Beschwerde", "s2@example.test", "", "Der Baulärm ist unerträglich."))
	find := func(text string) search.Result {
		r, err := ix.Search(search.Query{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	waitFor(t, 10*time.Second, "both mails in the index", func() bool { return find("").Total == 2 })
	r := find("Baulärm")
	if r.Total != 1 {
		t.Fatalf("Baulärm: %d hits, want 1", r.Total)
	}
	want := caseOfPipe(t, p, "s2@example.test")
	if r.Hits[0].Reference != want {
		t.Errorf("Baulärm found %s, want %s", r.Hits[0].Reference, want)
	}
	// The index is derived data: emptied, it is rebuilt from the register.
	p.stop()
	n, err := intake.Reindex(context.Background(), p.store, ix)
	if err != nil || n != 2 {
		t.Fatalf("Reindex: %d, %v", n, err)
	}
	if find("Grünfläche").Total != 1 {
		t.Error("Grünfläche not found after the rebuild")
	}
}

func caseOfPipe(t *testing.T, p *pipe, msgID string) string {
	t.Helper()
	for _, c := range p.cases(ticket.Filter{}) {
		for _, m := range c.Messages {
			if m.MessageID == msgID {
				return c.Reference.String()
			}
		}
	}
	t.Fatalf("no case holds %s", msgID)
	return ""
}
