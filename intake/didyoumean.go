package intake

import (
	"net/http"
	"net/url"

	"github.com/intake-office/intake/ticket"
)

// DidYouMean returns the existing references one typing error away from a reference
// with a wrong check digit (ticket.Store.DidYouMean), for the command line: every case,
// as the local user sees every case.
func DidYouMean(store *ticket.Store, input string, prefixes []string) ([]string, error) {
	cases, err := store.DidYouMean(input, prefixes, nil)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, c := range cases {
		out = append(out, c.Reference.String())
	}
	return out, nil
}

func writeDidYouMean(w http.ResponseWriter, store *ticket.Store, input string, prefixes []string) {
	refs, err := DidYouMean(store, input, prefixes)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, refs)
}

// DidYouMean asks the running daemon for the references one typing error away from
// input.
func (c *LocalClient) DidYouMean(input string) ([]string, error) {
	var out []string
	err := c.get("/v1/didyoumean?"+url.Values{"ref": {input}}.Encode(), &out)
	return out, err
}
