package intake

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/templates"
	"github.com/intake-office/intake/ticket"
)

// newIdleDaemon prepares a daemon that is never run, so that tests can set
// its mailboxes' state by hand.
func newIdleDaemon(t *testing.T, admin string, now time.Time) *Daemon {
	t.Helper()
	dir := t.TempDir()
	text := fmt.Sprintf(`data_dir = %q
%s
[office]
name = "Testamt"
privacy_url = "https://office.test/datenschutz"

[[mailbox]]
name = "post"
address = "post@office.test"
prefix = "TST"
[mailbox.imap]
host = "127.0.0.1"
port = 1
tls = "none"
username = "post@office.test"
password = "pw"
[mailbox.smtp]
host = "127.0.0.1"
port = 1
tls = "none"

[[mailbox]]
name = "buero"
address = "buero@office.test"
prefix = "BUE"
[mailbox.imap]
host = "127.0.0.1"
port = 1
tls = "none"
username = "buero@office.test"
password = "pw"
[mailbox.smtp]
host = "127.0.0.1"
port = 1
tls = "none"
`, dir, admin)
	cfg, err := config.Parse([]byte(text), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	store, err := ticket.Open(dir, ticket.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tmpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{
		Config: cfg, Store: store, Templates: tmpl, APISocket: "-",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestReadyz(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	type mbState struct {
		connected bool
		oldest    time.Duration // age of the oldest unregistered mail; 0 = none
	}
	tests := []struct {
		name     string
		admin    string
		post     mbState
		buero    mbState
		wantCode int
		want     map[string]string // failing mailbox -> reason
	}{
		{"all ready", "", mbState{true, 0}, mbState{true, 0}, 200, nil},
		{"young backlog is ready", "", mbState{true, 4 * time.Minute}, mbState{true, 0}, 200, nil},
		{"one not connected", "", mbState{true, 0}, mbState{false, 0}, 503, map[string]string{"buero": ReasonNotConnected}},
		{"stalled beyond default 5m", "", mbState{true, 6 * time.Minute}, mbState{true, 0}, 503, map[string]string{"post": ReasonRegistrationStalled}},
		{"stalled beyond configured 30s", "[admin]\nready_max_age = \"30s\"", mbState{true, time.Minute}, mbState{true, 0}, 503, map[string]string{"post": ReasonRegistrationStalled}},
		{"both failing", "", mbState{false, 0}, mbState{true, time.Hour}, 503, map[string]string{"post": ReasonNotConnected, "buero": ReasonRegistrationStalled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newIdleDaemon(t, tt.admin, now)
			for _, st := range []struct {
				name string
				s    mbState
			}{{"post", tt.post}, {"buero", tt.buero}} {
				m := d.byName[st.name]
				m.update(func(s *MailboxStatus) { s.Connected = st.s.connected })
				if st.s.oldest > 0 {
					m.setOldestUnregistered(now.Add(-st.s.oldest))
				}
			}
			srv := httptest.NewServer(d.AdminHandler())
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantCode)
			}
			var body struct {
				Ready     bool             `json:"ready"`
				Mailboxes []MailboxProblem `json:"mailboxes"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, p := range body.Mailboxes {
				got[p.Mailbox] = p.Reason
			}
			if body.Ready != (tt.wantCode == 200) || len(got) != len(tt.want) {
				t.Fatalf("body = %+v, want failing %v", body, tt.want)
			}
			for mb, reason := range tt.want {
				if got[mb] != reason {
					t.Errorf("mailbox %s: reason %q, want %q", mb, got[mb], reason)
				}
			}
		})
	}
}

func TestMetricsOldestUnregistered(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	d := newIdleDaemon(t, "", now)
	d.byName["post"].setOldestUnregistered(now.Add(-90 * time.Second))
	srv := httptest.NewServer(d.AdminHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`intake_oldest_unregistered_seconds{mailbox="post"} 90`,
		`intake_oldest_unregistered_seconds{mailbox="buero"} 0`,
		`intake_imap_connected{mailbox="buero"} 0`,
	} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// A watcher that has not seen its folder for longer than its check interval allows (a
// folder deleted under an idling session, a stuck command) is not ready, is not counted as
// connected, and the age of what may wait unregistered grows from its last look (issue 9,
// finding 2).
func TestReadyzFolderNotSeen(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		seenAgo   time.Duration
		wantReady bool
		metrics   []string
	}{
		{"seen recently", 10 * time.Second, true, []string{
			`intake_imap_connected{mailbox="post"} 1`, `intake_oldest_unregistered_seconds{mailbox="post"} 0`}},
		{"not seen for 5 minutes", 5 * time.Minute, false, []string{
			`intake_imap_connected{mailbox="post"} 0`, `intake_oldest_unregistered_seconds{mailbox="post"} 300`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newIdleDaemon(t, "", now)
			for _, m := range d.byName {
				m.update(func(s *MailboxStatus) { s.Connected = true })
				m.sawFolder(now, time.Minute)
			}
			d.byName["post"].sawFolder(now.Add(-tt.seenAgo), time.Minute)
			probs := d.NotReady()
			if ready := len(probs) == 0; ready != tt.wantReady {
				t.Fatalf("ready = %v, want %v (%+v)", ready, tt.wantReady, probs)
			}
			if !tt.wantReady && (len(probs) != 1 || probs[0].Mailbox != "post" || probs[0].Reason != ReasonFolderNotSeen) {
				t.Errorf("problems %+v, want post %s", probs, ReasonFolderNotSeen)
			}
			srv := httptest.NewServer(d.AdminHandler())
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			for _, want := range tt.metrics {
				if !strings.Contains(string(b), want+"\n") {
					t.Errorf("/metrics lacks %q", want)
				}
			}
		})
	}
}
