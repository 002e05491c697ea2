package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/intake-office/intake/ticket"
)

// Interim actions of the local API and the CLI (issue 11).
const (
	InterimSuppress = "suppress"
	InterimSendNow  = "send-now"
)

// InterimAction suppresses case ref's interim notice or enqueues one now, audited as a.
func InterimAction(store *ticket.Store, ref ticket.Reference, action string, a ticket.Actor) error {
	switch action {
	case InterimSuppress:
		return store.SuppressInterim(ref, a)
	case InterimSendNow:
		return store.SendInterimNow(ref, a)
	}
	return fmt.Errorf("unknown interim action %q (want %q or %q)", action, InterimSuppress, InterimSendNow)
}

// handleInterimAPI adds the local API's endpoints of what was sent and of interim notices.
func handleInterimAPI(mux *http.ServeMux, d *Daemon) {
	mux.HandleFunc("GET /v1/cases/{ref}/sent", func(w http.ResponseWriter, r *http.Request) {
		ref, err := ticket.ParseReference(r.PathValue("ref"))
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err)
			return
		}
		cs, err := d.store.SentOf(ref)
		switch {
		case errors.Is(err, ticket.ErrNotFound):
			writeJSONError(w, http.StatusNotFound, err)
		case err != nil:
			writeJSONError(w, http.StatusInternalServerError, err)
		default:
			writeJSON(w, cs)
		}
	})
	mux.HandleFunc("POST /v1/cases/{ref}/interim", func(w http.ResponseWriter, r *http.Request) {
		ref, err := ticket.ParseReference(r.PathValue("ref"))
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err)
			return
		}
		// The actor is the local user the kernel names for the connection, never what
		// the client says (issue 8).
		actor, ok := peerActor(r)
		if !ok {
			writeJSONError(w, http.StatusForbidden, errNoPeer)
			return
		}
		var req struct{ Action string }
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
			writeJSONError(w, http.StatusBadRequest, errors.New("want {\"action\": …}"))
			return
		}
		err = InterimAction(d.store, ref, req.Action, actor())
		switch {
		case errors.Is(err, ticket.ErrNotFound):
			writeJSONError(w, http.StatusNotFound, err)
		case errors.Is(err, ticket.ErrInterimNotAllowed), errors.Is(err, ticket.ErrBadTransition):
			writeJSONError(w, http.StatusConflict, err)
		case err != nil:
			writeJSONError(w, http.StatusBadRequest, err)
		default:
			writeJSON(w, map[string]string{"done": req.Action})
		}
	})
}

// SentOf returns what the running daemon's register holds as sent for case ref.
func (c *LocalClient) SentOf(ref ticket.Reference) (*ticket.CaseSent, error) {
	var out ticket.CaseSent
	if err := c.get("/v1/cases/"+url.PathEscape(ref.String())+"/sent", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Interim asks the running daemon to suppress case ref's interim notice or send one now.
// The daemon audits the change under the local user the kernel names for the connection.
func (c *LocalClient) Interim(ref ticket.Reference, action string) error {
	body, err := json.Marshal(map[string]string{"action": action})
	if err != nil {
		return err
	}
	resp, err := c.http.Post("http://intake/v1/cases/"+url.PathEscape(ref.String())+"/interim", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("ask the running daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e struct{ Error string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%s: %w", e.Error, ticket.ErrNotFound)
	}
	return fmt.Errorf("daemon answered %s: %s", resp.Status, e.Error)
}
