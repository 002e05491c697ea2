package intake_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/memmail"
	"github.com/intake-office/intake/ticket"
)

// TestBackupThroughLocalAPI takes a backup from the running daemon (which
// holds the register) over its socket and restores it.
func TestBackupThroughLocalAPI(t *testing.T) {
	p := newPipe(t, memmail.Options{}, "", "")
	p.start()
	const n = 4
	for i := range n {
		p.deliver(citizen, fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: Antrag %d\r\nMessage-ID: <backup-%d@example.test>\r\n"+
			"Date: Mon, 2 Mar 2026 09:30:00 +0100\r\n\r\nGuten Tag %d\r\n", citizen, office, i, i, i))
	}
	waitFor(t, 20*time.Second, "the registrations", func() bool { return p.count() == n })
	var api *intake.LocalClient
	waitFor(t, 10*time.Second, "the local API", func() bool {
		c, err := intake.DialLocal(intake.SocketPath(p.cfg.DataDir))
		api = c
		return err == nil
	})
	var buf bytes.Buffer
	if err := api.Backup(&buf); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	info, err := ticket.Restore(bytes.NewReader(buf.Bytes()), dir)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if info.Cases != n || info.Messages != n || info.RawFiles != n {
		t.Errorf("backup info %+v, want %d cases, messages and raw files", info, n)
	}
	r, err := ticket.Open(dir, ticket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, c := range p.cases(ticket.Filter{}) {
		got, err := r.Lookup(c.Reference)
		if err != nil {
			t.Fatalf("restored %s: %v", c.Reference, err)
		}
		f, err := r.OpenRaw(got.Messages[0].RawSHA256)
		if err != nil {
			t.Errorf("restored raw mail of %s: %v", c.Reference, err)
			continue
		}
		f.Close()
	}
}
