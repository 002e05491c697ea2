package intake_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/memmail"
)

// countingHandler counts log records by level and message, and passes them on.
type countingHandler struct {
	slog.Handler
	mu     *sync.Mutex
	counts map[string]int // "LEVEL msg"
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.counts[r.Level.String()+" "+r.Message]++
	h.mu.Unlock()
	return h.Handler.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return countingHandler{h.Handler.WithAttrs(a), h.mu, h.counts}
}

func (h countingHandler) WithGroup(g string) slog.Handler {
	return countingHandler{h.Handler.WithGroup(g), h.mu, h.counts}
}

// logsWhere returns how many records at level had a message containing part.
func (h countingHandler) logsWhere(level, part string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for k, c := range h.counts {
		if strings.HasPrefix(k, level+" ") && strings.Contains(k, part) {
			n += c
		}
	}
	return n
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory (root only).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("INTAKE_REQUIRE_REAL_SERVERS") != "" {
			t.Fatal("mounting a tmpfs needs root")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// A full disk under data_dir (issue 9, finding 7): one ERROR that says what to do (not a
// WARN at every reconnect), intake_register_write_errors_total, /readyz 503
// register_unwritable until a write succeeds; then the waiting mail is registered.
func TestDiskFullRegister(t *testing.T) {
	dataDir := mountTmpfs(t, 4<<20)
	p := newPipe(t, memmail.Options{}, "", "")
	p.cfg.DataDir = dataDir
	counts := countingHandler{slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}), &sync.Mutex{}, map[string]int{}}
	p.opts.Logger = slog.New(counts)
	d := p.start()
	admin := httptest.NewServer(d.AdminHandler())
	defer admin.Close()
	p.deliver(citizen, "Return-Path: <"+citizen+">\r\n"+letter(citizen, "Vor dem Vollaufen", "before@example.test", "", "x"))
	waitFor(t, 20*time.Second, "the first registration", func() bool { return p.count() == 1 })

	// Fill the disk.
	filler := filepath.Join(dataDir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	body := strings.Repeat("Sehr geehrte Damen und Herren, bitte um Auskunft.\r\n", 2500) // ~125 KB, more than is left
	for i := range 3 {
		p.deliver(citizen, "Return-Path: <"+citizen+">\r\n"+letter(citizen, fmt.Sprintf("Voll %d", i), fmt.Sprintf("full-%d@example.test", i), "", body))
	}
	readyz := func() (int, string) {
		resp, err := http.Get(admin.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, 30*time.Second, "readyz register_unwritable", func() bool {
		code, body := readyz()
		return code == 503 && strings.Contains(body, "register_unwritable")
	})
	// Several reconnects later: still one ERROR, no WARN about the session.
	waitFor(t, 30*time.Second, "three more write errors", func() bool { return metric(t, admin.URL, "intake_register_write_errors_total") >= 3 })
	if n := counts.logsWhere("ERROR", "register cannot be written"); n != 1 {
		t.Errorf("%d ERROR records about the register, want exactly 1", n)
	}
	if n := counts.logsWhere("WARN", "imap session ended"); n != 0 {
		t.Errorf("%d WARN imap session ended records for a full disk", n)
	}
	// Free the disk: the mails are registered and the daemon is ready again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the waiting mails registered", func() bool { return p.count() == 4 })
	waitFor(t, 30*time.Second, "readyz 200", func() bool { code, _ := readyz(); return code == 200 })
}

// metric reads one unlabelled metric's value from /metrics (0 when absent).
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}
