package intake_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/memmail"
)

// get requests path from the admin handler and returns status and body.
func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

type readyBody struct {
	Ready     bool                    `json:"ready"`
	Mailboxes []intake.MailboxProblem `json:"mailboxes"`
}

func TestAdminUnreadyWhenIMAPUnreachable(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	// A port nobody listens on: the watcher never connects.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.cfg.Mailboxes[0].IMAP.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	d := p.start()
	srv := httptest.NewServer(d.AdminHandler())
	defer srv.Close()

	waitFor(t, 10*time.Second, "a reconnect attempt", func() bool { return d.Status()[0].Reconnects >= 1 })

	t.Run("healthz", func(t *testing.T) {
		code, body := get(t, srv, "/healthz")
		if code != http.StatusOK || strings.TrimSpace(body) != "ok" {
			t.Errorf("/healthz = %d %q, want 200 ok", code, body)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		code, body := get(t, srv, "/readyz")
		if code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz = %d, want 503; body %s", code, body)
		}
		var rb readyBody
		if err := json.Unmarshal([]byte(body), &rb); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		if rb.Ready || len(rb.Mailboxes) != 1 || rb.Mailboxes[0].Mailbox != "post" || rb.Mailboxes[0].Reason != intake.ReasonNotConnected {
			t.Errorf("body = %+v, want mailbox post not_connected", rb)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		_, body := get(t, srv, "/metrics")
		for _, want := range []string{
			`intake_imap_connected{mailbox="post"} 0`,
			`intake_ack_hourly_cap_tripped 0`,
			`intake_register_in_memory_bytes 0`, // the daemon alone: internal/app keeps it in memory
			`intake_acks_sent_total{mailbox="post"} 0`,
		} {
			if !strings.Contains(body, want+"\n") {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		if !strings.Contains(body, `intake_imap_reconnects_total{mailbox="post"} `) ||
			strings.Contains(body, `intake_imap_reconnects_total{mailbox="post"} 0`+"\n") {
			t.Errorf("/metrics: reconnects not counted:\n%s", grepLines(body, "intake_imap_reconnects_total"))
		}
	})
}

func TestAdminReadyAndMetricsAfterMail(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	p.opts.Version = "v9.9.9-test"
	d := p.start()
	srv := httptest.NewServer(d.AdminHandler())
	defer srv.Close()

	waitFor(t, 10*time.Second, "/readyz 200", func() bool {
		code, _ := get(t, srv, "/readyz")
		return code == http.StatusOK
	})
	p.deliver(citizen, letter("Erika <"+citizen+">", "Antrag", "m1@example.test", "", "Hallo"))
	p.deliver("robot@example.test", letter("robot@example.test", "Abwesend", "m2@example.test", "Auto-Submitted: auto-replied\r\n", "bin weg"))
	waitFor(t, 10*time.Second, "2 registrations and 1 ack", func() bool { return p.count() == 2 && sentAll(p, 1)() })
	// The counters follow the register's commit: wait for the second mail's.
	waitFor(t, 10*time.Second, "the automated mail counted", func() bool {
		_, body := get(t, srv, "/metrics")
		return strings.Contains(body, `intake_mails_registered_total{kind="automated",mailbox="post"} 1`+"\n") &&
			strings.Contains(body, `intake_acks_suppressed_total{mailbox="post",reason="AUTO_SUBMITTED"} 1`+"\n")
	})

	code, body := get(t, srv, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`intake_mails_registered_total{kind="citizen",mailbox="post"} 1`,
		`intake_mails_registered_total{kind="automated",mailbox="post"} 1`,
		`intake_acks_sent_total{mailbox="post"} 1`,
		`intake_acks_suppressed_total{mailbox="post",reason="AUTO_SUBMITTED"} 1`,
		`intake_acks_failed_total{mailbox="post"} 0`,
		`intake_acks_bounced_total{mailbox="post"} 0`,
		`intake_imap_connected{mailbox="post"} 1`,
		`intake_outbox_depth{mailbox="post"} 0`,
		`intake_outbox_oldest_seconds{mailbox="post"} 0`,
		`intake_oldest_unregistered_seconds{mailbox="post"} 0`,
		`intake_build_info{version="v9.9.9-test"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q; intake lines:\n%s", want, grepLines(body, "intake_"))
		}
	}
	for _, want := range []string{"go_goroutines ", "process_start_time_seconds "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks runtime/process metric %q", want)
		}
	}
	if strings.Contains(body, citizen) || strings.Contains(body, "Antrag") {
		t.Error("/metrics shows an address or mail content")
	}
	if code, body := get(t, srv, "/readyz"); code != http.StatusOK || !strings.Contains(body, `"ready":true`) {
		t.Errorf("/readyz = %d %s, want 200 ready", code, body)
	}
}

// grepLines returns the lines of s containing sub, not the comments.
func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
