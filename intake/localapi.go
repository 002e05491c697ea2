package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/intake-office/intake/ticket"
)

// SocketPath is where the running daemon serves its local API: bbolt allows
// one process to hold the register, so the CLI asks the daemon through it.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, "intake.sock") }

// Cases answers case queries. The register itself (*ticket.Store) and the
// client of a running daemon's local API both implement it, so the CLI has
// one code path whether the daemon runs or not.
type Cases interface {
	Lookup(ref ticket.Reference) (*ticket.Case, error)
	List(f ticket.Filter) ([]ticket.Case, error)
}

// AuditedCases is the register as Cases for one local user: every read is
// written to the audit log before its answer is given, as the web does for
// a clerk (a failed audit write refuses the read). The local API uses it with
// the actor the kernel names for the connection; a command that opens the
// register itself uses it with ProcessActor.
type AuditedCases struct {
	Store *ticket.Store
	Actor func() ticket.Actor
}

// SentOf returns what was sent for case ref: part of the case view that Lookup audits.
func (a AuditedCases) SentOf(ref ticket.Reference) (*ticket.CaseSent, error) {
	return a.Store.SentOf(ref)
}

// Lookup implements Cases: a found case is recorded as viewed.
func (a AuditedCases) Lookup(ref ticket.Reference) (*ticket.Case, error) {
	c, err := a.Store.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if _, err := a.Store.AppendAudit(a.Actor().NewAuditEntry(ticket.AuditView, c.Reference, "cli")); err != nil {
		return nil, err
	}
	return c, nil
}

// List implements Cases: the search and its filter are recorded first.
func (a AuditedCases) List(f ticket.Filter) ([]ticket.Case, error) {
	detail := "cli"
	if q, err := url.QueryUnescape(FilterQuery(f).Encode()); err == nil && q != "" {
		detail += " " + q
	}
	if _, err := a.Store.AppendAudit(a.Actor().NewAuditEntry(ticket.AuditSearch, ticket.Reference{}, detail)); err != nil {
		return nil, err
	}
	return a.Store.List(f)
}

// AuditBackup records a backup of the whole register by a.
func AuditBackup(store *ticket.Store, a ticket.Actor) error {
	_, err := store.AppendAudit(a.NewAuditEntry(ticket.AuditBackup, ticket.Reference{}, "cli"))
	return err
}

// errNoPeer refuses a read on a connection whose peer the kernel did not name.
var errNoPeer = errors.New("the local API could not read the peer credentials of this connection (SO_PEERCRED); reads are not answered unaudited")

// peerActor is the actor of r: the local user the kernel named for its
// connection.
func peerActor(r *http.Request) (func() ticket.Actor, bool) {
	p, ok := peerOf(r.Context())
	if !ok {
		return nil, false
	}
	return func() ticket.Actor { return localActor("unix", p.uid, p.pid, time.Now()) }, true
}

// requirePeer is peerActor; where the kernel named no peer it answers 403 (errNoPeer)
// and reports false.
func requirePeer(w http.ResponseWriter, r *http.Request) (func() ticket.Actor, bool) {
	actor, ok := peerActor(r)
	if !ok {
		writeJSONError(w, http.StatusForbidden, errNoPeer)
	}
	return actor, ok
}

type localAPI struct {
	srv  *http.Server
	ln   net.Listener
	path string
}

// startLocalAPI serves the local API on a unix socket readable only by the
// daemon's user (mode 0600). Reads of the register (a case, a list, a
// backup) are audited under the local user the kernel names for the
// connection (SO_PEERCRED).
func startLocalAPI(path string, store *ticket.Store, d *Daemon, log *slog.Logger) (*localAPI, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another intake already serves %s", path)
	}
	_ = os.Remove(path) // a stale socket of a crashed daemon
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/cases/{ref}", func(w http.ResponseWriter, r *http.Request) {
		ref, err := ticket.ParseReference(r.PathValue("ref"))
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err)
			return
		}
		actor, ok := requirePeer(w, r)
		if !ok {
			return
		}
		c, err := AuditedCases{Store: store, Actor: actor}.Lookup(ref)
		if errors.Is(err, ticket.ErrNotFound) {
			writeJSONError(w, http.StatusNotFound, err)
			return
		}
		if err != nil {
			writeJSONError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, c)
	})
	mux.HandleFunc("GET /v1/cases", func(w http.ResponseWriter, r *http.Request) {
		f, err := FilterFromQuery(r.URL.Query())
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err)
			return
		}
		actor, ok := requirePeer(w, r)
		if !ok {
			return
		}
		list, err := AuditedCases{Store: store, Actor: actor}.List(f)
		if err != nil {
			writeJSONError(w, http.StatusInternalServerError, err)
			return
		}
		if list == nil {
			list = []ticket.Case{}
		}
		writeJSON(w, list)
	})
	handleInterimAPI(mux, d)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, d.Status())
	})
	mux.HandleFunc("POST /v1/reindex", func(w http.ResponseWriter, r *http.Request) {
		if d.opts.Search == nil {
			writeJSONError(w, http.StatusConflict, errors.New("the daemon runs without a search index"))
			return
		}
		n, err := Reindex(r.Context(), d.store, d.opts.Search)
		if err != nil {
			writeJSONError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, map[string]int{"indexed": n})
	})
	mux.HandleFunc("GET /v1/ack/cap", func(w http.ResponseWriter, r *http.Request) {
		st, err := d.cap.state()
		if err != nil {
			writeJSONError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, st)
	})
	mux.HandleFunc("POST /v1/ack/resume", func(w http.ResponseWriter, r *http.Request) {
		if err := d.cap.resume(); err != nil {
			writeJSONError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, map[string]bool{"resumed": true})
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		if d.opts.ConfigPath == "" {
			writeJSONError(w, http.StatusConflict, errors.New("the daemon was started without a configuration file path"))
			return
		}
		res, err := d.ReloadFromFile(d.opts.ConfigPath)
		if err != nil {
			problems := ConfigProblems(err)
			for _, p := range problems {
				log.Error("reload refused: the running configuration stays", "problem", p)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_ = json.NewEncoder(w).Encode(problems)
			return
		}
		writeJSON(w, res)
	})
	mux.HandleFunc("GET /v1/backup", func(w http.ResponseWriter, r *http.Request) {
		actor, ok := requirePeer(w, r)
		if !ok {
			return
		}
		// Recorded before the first byte leaves: a backup that breaks off
		// has still handed out mail.
		if err := AuditBackup(store, actor()); err != nil {
			writeJSONError(w, http.StatusInternalServerError, err)
			return
		}
		w.Header().Set("Content-Type", "application/gzip")
		info, err := store.Backup(w)
		if err != nil {
			// The status line is gone already: break the stream so that the
			// client sees a truncated archive instead of a short valid one.
			log.Error("backup through the local API failed", "err", err)
			panic(http.ErrAbortHandler)
		}
		log.Info("backup written through the local API", "cases", info.Cases, "messages", info.Messages,
			"raw_files", info.RawFiles, "raw_bytes", info.RawBytes)
	})
	accountRoutes(mux, store, d) // accounts.go
	mux.HandleFunc("GET /v1/didyoumean", func(w http.ResponseWriter, r *http.Request) {
		writeDidYouMean(w, store, r.URL.Query().Get("ref"), d.snap.Load().prefixes)
	})
	a := &localAPI{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ConnContext: withPeer}, ln: ln, path: path}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("local API stopped", "err", err)
		}
	}()
	return a, nil
}

func (a *localAPI) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
	_ = os.Remove(a.path)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// FilterQuery encodes a filter as URL query parameters.
func FilterQuery(f ticket.Filter) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("mailbox", f.Mailbox)
	set("sender", f.Sender)
	set("status", string(f.Status))
	set("kind", string(f.Kind))
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// FilterFromQuery is the inverse of FilterQuery.
func FilterFromQuery(q url.Values) (ticket.Filter, error) {
	f := ticket.Filter{
		Mailbox: q.Get("mailbox"), Sender: q.Get("sender"),
		Status: ticket.CaseStatus(q.Get("status")), Kind: ticket.Kind(q.Get("kind")),
	}
	var err error
	if v := q.Get("since"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339, v); err != nil {
			return f, fmt.Errorf("since: %w", err)
		}
	}
	if v := q.Get("until"); v != "" {
		if f.Until, err = time.Parse(time.RFC3339, v); err != nil {
			return f, fmt.Errorf("until: %w", err)
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 0 {
			return f, fmt.Errorf("limit: not a number: %q", v)
		}
	}
	return f, nil
}

// LocalClient talks to a running daemon over its socket.
type LocalClient struct {
	http *http.Client
}

// DialLocal returns a client when a daemon answers on the socket.
func DialLocal(path string) (*LocalClient, error) {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, err
	}
	c.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &LocalClient{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

func (c *LocalClient) get(path string, v any) error {
	resp, err := c.http.Get("http://intake" + path)
	if err != nil {
		return fmt.Errorf("ask the running daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ticket.ErrNotFound
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("daemon answered %s: %s", resp.Status, e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Lookup implements Cases.
func (c *LocalClient) Lookup(ref ticket.Reference) (*ticket.Case, error) {
	var out ticket.Case
	if err := c.get("/v1/cases/"+url.PathEscape(ref.String()), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// List implements Cases.
func (c *LocalClient) List(f ticket.Filter) ([]ticket.Case, error) {
	var out []ticket.Case
	err := c.get("/v1/cases?"+FilterQuery(f).Encode(), &out)
	return out, err
}

// CapState returns the hourly cap of the running daemon.
func (c *LocalClient) CapState() (CapState, error) {
	var out CapState
	err := c.get("/v1/ack/cap", &out)
	return out, err
}

// Reindex asks the running daemon to rebuild its search index.
func (c *LocalClient) Reindex() (int, error) {
	hc := *c.http
	hc.Timeout = 0 // a rebuild of years of mail takes a while
	resp, err := hc.Post("http://intake/v1/reindex", "application/json", nil)
	if err != nil {
		return 0, fmt.Errorf("ask the running daemon: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Indexed int
		Error   string
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("daemon answered %s: %s", resp.Status, out.Error)
	}
	return out.Indexed, nil
}

// Reload asks the running daemon to read its configuration file again.
// A refused file gives the problems (one line each, file:line: key: message
// where known) and a nil error; the running configuration then stays.
func (c *LocalClient) Reload() (res ReloadResult, problems []string, err error) {
	resp, err := c.http.Post("http://intake/v1/reload", "application/json", nil)
	if err != nil {
		return res, nil, fmt.Errorf("ask the running daemon to reload: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
			return res, nil, fmt.Errorf("reload: read the daemon's answer: %w", err)
		}
		return res, nil, nil
	case http.StatusUnprocessableEntity:
		if err := json.NewDecoder(resp.Body).Decode(&problems); err != nil {
			return res, nil, fmt.Errorf("reload refused: read the daemon's answer: %w", err)
		}
		if problems == nil {
			problems = []string{}
		}
		return res, problems, nil
	default:
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return res, nil, fmt.Errorf("reload: daemon answered %s: %s", resp.Status, e.Error)
	}
}

// ResumeAcks lifts the hourly cap of the running daemon.
func (c *LocalClient) ResumeAcks() error {
	resp, err := c.http.Post("http://intake/v1/ack/resume", "application/json", nil)
	if err != nil {
		return fmt.Errorf("ask the running daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("daemon answered %s", resp.Status)
	}
	return nil
}

// ResumeAcksOffline records an admin's reset of the hourly cap in a register
// no daemon holds; the next daemon counts only acknowledgements sent after
// it.
func ResumeAcksOffline(store *ticket.Store, now time.Time) error {
	if err := store.PutSetting(settingCapReset, []byte(now.Format(time.RFC3339Nano))); err != nil {
		return err
	}
	return store.PutSetting(settingCapTripped, nil)
}

// Status returns the mailbox states of the running daemon.
func (c *LocalClient) Status() ([]MailboxStatus, error) {
	var out []MailboxStatus
	err := c.get("/v1/status", &out)
	return out, err
}

// Backup streams a backup of the running daemon's register (ticket.Backup's
// gzip tar archive) to w. There is no timeout: years of mail take a while.
// A daemon whose backup fails breaks the stream, which gives an error here.
func (c *LocalClient) Backup(w io.Writer) error {
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Get("http://intake/v1/backup")
	if err != nil {
		return fmt.Errorf("ask the running daemon for a backup: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("backup: daemon answered %s: %s", resp.Status, e.Error)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("backup: read from the running daemon: %w", err)
	}
	return nil
}
