package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/intake-office/intake/internal/syncbuf"
	"math/rand/v2"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/ticket"
)

// binary is the intake command built once for the tests that run it as a
// separate process (kill -9, signals, the CLI against a running daemon).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "intake-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "intake")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build intake: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func users() map[string]string { return benchUsers() }

// writeConfig writes a config for the rig and returns its path; the test
// citizens write many letters, so no per-sender limit and no hourly cap.
func writeConfig(t *testing.T, rig *mailrig.Rig, dataDir, imapPassword string) string {
	t.Helper()
	text := rig.IntakeConfig(dataDir, office, "per_sender_limit = 0\nper_domain_limit = 0\nhourly_cap = 100000000")
	if imapPassword != rig.Users[office] {
		text = strings.Replace(text, "password = \""+rig.Users[office]+"\"\nkeyword", "password = \""+imapPassword+"\"\nkeyword", 1)
	}
	path := filepath.Join(t.TempDir(), "intake.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type daemon struct {
	cmd *exec.Cmd
	log *syncbuf.Buffer
}

func startDaemon(t *testing.T, cfgPath string) *daemon {
	t.Helper()
	cmd := exec.Command(binary, "serve", "-config", cfgPath)
	buf := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, log: buf}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return d
}

// intakeCLI runs the binary and returns stdout, stderr and the exit code.
func intakeCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// listCases asks through the CLI (the running daemon's local API, or the
// register directly when no daemon runs).
func listCases(t *testing.T, cfgPath string) []ticket.Case {
	t.Helper()
	out, errOut, code := intakeCLI(t, "case", "list", "-json", "-config", cfgPath)
	if code != 0 {
		t.Fatalf("case list: exit %d: %s", code, errOut)
	}
	var cases []ticket.Case
	if err := json.Unmarshal([]byte(out), &cases); err != nil {
		t.Fatalf("case list -json: %v\n%s", err, out)
	}
	return cases
}

func appendBacklog(t *testing.T, rig *mailrig.Rig, n int) {
	t.Helper()
	c, err := rig.Dial(office)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := appendRaw(c, benchMail(i, "crash")); err != nil {
			t.Fatal(err)
		}
	}
}

// regState is what a killed daemon left in the register.
type regState struct {
	cases, sent, pending int
	inFlight             []string // Message-IDs of acks marked in flight
}

func registerState(t *testing.T, dataDir string) regState {
	t.Helper()
	store, err := ticket.Open(dataDir, ticket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cases, err := store.List(ticket.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	st := regState{cases: len(cases)}
	for _, c := range cases {
		for _, m := range c.Messages {
			switch m.Ack.Status {
			case ticket.AckSent:
				st.sent++
			case ticket.AckPending:
				st.pending++
				if !m.Ack.InFlight.IsZero() {
					st.inFlight = append(st.inFlight, m.Ack.MessageID)
				}
			}
		}
	}
	return st
}

// waitLog waits until the daemon's output satisfies cond; the timeout only keeps a broken
// test from hanging.
func waitLog(t *testing.T, d *daemon, timeout time.Duration, cond func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond(d.log.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the daemon's progress\n%s", d.log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCrashKill9DuringDrain(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: users()})
	dataDir := t.TempDir()
	cfgPath := writeConfig(t, rig, dataDir, "office-pass")
	const n = 1000
	appendBacklog(t, rig, n)

	kills := 0
	// inFlight[k] are the acks marked in flight (possibly accepted by the server, not
	// recorded) when kill k landed: the only ones that may arrive twice.
	var inFlight [][]string
	midRegistration, midSending := 0, 0
	for kills < 12 {
		d := startDaemon(t, cfgPath)
		// Kill mid-drain: once this run has registered a mail or sent an ack, after a
		// random little while more.
		waitLog(t, d, 2*time.Minute, func(log string) bool {
			return strings.Contains(log, `msg="mail registered"`) || strings.Contains(log, `msg="acknowledgement sent"`)
		})
		time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
		if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		d.cmd.Wait()
		kills++
		st := registerState(t, dataDir)
		if st.cases == n && st.pending == 0 {
			t.Fatalf("kill %d landed after the drain: nothing left to do", kills)
		}
		if st.cases > 0 && st.cases < n {
			midRegistration++
		}
		if st.sent > 0 && st.pending > 0 {
			midSending++
		}
		// At most one ack became in flight since the last kill: an ack still marked from an
		// earlier kill (not resent yet) is one repeat, whenever it goes out again.
		var fresh []string
		for _, id := range st.inFlight {
			if len(inFlight) == 0 || !slices.Contains(inFlight[len(inFlight)-1], id) {
				fresh = append(fresh, id)
			}
		}
		if len(fresh) > 1 {
			t.Errorf("kill %d: %d acks newly in flight %v, want at most one (one repeat per kill)", kills, len(fresh), fresh)
		}
		inFlight = append(inFlight, st.inFlight)
		t.Logf("kill %d: %d cases, %d acks sent, %d pending, in flight %v", kills, st.cases, st.sent, st.pending, st.inFlight)
	}
	t.Logf("%d kill -9 done: %d during registration, %d during sending", kills, midRegistration, midSending)
	if midRegistration == 0 || midSending == 0 {
		t.Errorf("kills did not land mid-drain: %d during registration, %d during sending", midRegistration, midSending)
	}
	d := startDaemon(t, cfgPath)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		cases := listCases(t, cfgPath)
		sent := 0
		for _, c := range cases {
			for _, m := range c.Messages {
				if m.Ack.Status == ticket.AckSent {
					sent++
				}
			}
		}
		if len(cases) == n && sent == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the kills: %d cases, %d acks sent, want %d\n%s", len(cases), sent, n, d.log)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// SIGTERM: finish, flush, exit 0.
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, d.log)
	}

	// Invariants 1-5 on the register itself.
	store, err := ticket.Open(dataDir, ticket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cases, err := store.List(ticket.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != n {
		t.Fatalf("%d cases, want %d", len(cases), n)
	}
	numbers := map[uint64]bool{}
	msgIDs := map[string]bool{}
	uids := map[uint32]bool{}
	ackIDs := map[string]string{}
	for _, c := range cases {
		if numbers[c.Reference.Number] {
			t.Errorf("number %d twice", c.Reference.Number)
		}
		numbers[c.Reference.Number] = true
		if _, err := ticket.ParseReference(c.Reference.String()); err != nil {
			t.Errorf("%s: %v", c.Reference, err)
		}
		if len(c.Messages) != 1 {
			t.Errorf("%s has %d messages", c.Reference, len(c.Messages))
		}
		for _, m := range c.Messages {
			if msgIDs[m.MessageID] || uids[m.UID] {
				t.Errorf("mail %s (uid %d) registered twice", m.MessageID, m.UID)
			}
			msgIDs[m.MessageID], uids[m.UID] = true, true
			if m.Ack.Status != ticket.AckSent {
				t.Errorf("%s: ack %s", c.Reference, m.Ack.Status)
			}
			ackIDs["<"+m.Ack.MessageID+">"] = c.Reference.String()
		}
	}
	for i := uint64(1); i <= n; i++ {
		if !numbers[i] {
			t.Errorf("gap: number %d missing", i)
		}
	}
	// What the citizens received: every ack names a registered case; each
	// case got its ack; repeats (a kill between SMTP success and its
	// record) carry the same Message-ID and are at most one per SMTP
	// connection and kill.
	received := map[string]int{}
	ctx := context.Background()
	for i := range 10 {
		user := fmt.Sprintf("c%02d@example.test", i)
		if err := rig.WaitCount(ctx, user, "INBOX", n/10); err != nil {
			t.Fatal(err)
		}
		msgs, err := rig.Fetch(ctx, user, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			pm, err := mail.ReadMessage(bytes.NewReader(m.Raw))
			if err != nil {
				t.Fatal(err)
			}
			id := pm.Header.Get("Message-Id")
			if _, ok := ackIDs[id]; !ok {
				t.Errorf("%s received an ack %s that names no registered message", user, id)
			}
			received[id]++
		}
	}
	repeats := 0
	for id := range ackIDs {
		switch c := received[id]; {
		case c == 0:
			t.Errorf("ack %s never arrived", id)
		case c > 1:
			repeats += c - 1
		}
	}
	t.Logf("acks received: %d distinct, %d repeats after %d kills", len(received), repeats, kills)
	if repeats > kills {
		t.Errorf("%d repeated acks after %d kills: more than one per crash", repeats, kills)
	}
	// Each repeat is an ack that was in flight at a kill, and an ack arrives at most once
	// more than the number of kills it was in flight at (the same ack can be in flight
	// again when the next kill lands right after the restart resent it).
	inFlightAt := map[string]int{}
	for _, ids := range inFlight {
		for _, id := range ids {
			inFlightAt["<"+id+">"]++
		}
	}
	for id, c := range received {
		if c > 1 && c-1 > inFlightAt[id] {
			t.Errorf("ack %s arrived %d times; in flight at %d kills", id, c, inFlightAt[id])
		}
	}
	// Every mail carries the keyword on the server (lost marks are redone).
	msgs, err := rig.Fetch(ctx, office, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		marked := false
		for _, f := range m.Flags {
			marked = marked || strings.EqualFold(f, "$Registriert")
		}
		if !marked {
			t.Errorf("office uid %d not marked: %v", m.UID, m.Flags)
		}
	}
}

func TestCLIAgainstRealServers(t *testing.T) {
	rig := mailrig.StartT(t, mailrig.Options{Users: users()})
	dataDir := t.TempDir()
	cfgPath := writeConfig(t, rig, dataDir, "office-pass")

	out, errOut, code := intakeCLI(t, "config", "check", "-config", cfgPath)
	if code != 0 || strings.Count(out, "ok  ") < 3 {
		t.Fatalf("config check: exit %d\n%s%s", code, out, errOut)
	}
	bad := writeConfig(t, rig, dataDir, "wrong-pass")
	out, _, code = intakeCLI(t, "config", "check", "-config", bad)
	if code != 1 || !strings.Contains(out, "FAIL  post imap 127.0.0.1:") || !strings.Contains(out, "login") {
		t.Errorf("config check with a wrong password: exit %d\n%s", code, out)
	}

	appendBacklog(t, rig, 3)
	d := startDaemon(t, cfgPath)
	var cases []ticket.Case
	waitUntil(t, 30*time.Second, func() bool {
		cases = listCases(t, cfgPath)
		return len(cases) == 3 && cases[0].Messages[0].Ack.Status == ticket.AckSent
	}, d)
	ref := cases[0].Reference.String()
	// case show through the running daemon, with a sloppy reference.
	sloppy := strings.ToLower(strings.ReplaceAll(ref, "-", " "))
	out, errOut, code = intakeCLI(t, "case", "show", sloppy, "-json", "-config", cfgPath)
	if code != 0 {
		t.Fatalf("case show %q: exit %d: %s", sloppy, code, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"reference", "mailbox", "status", "created", "messages"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("case JSON lacks %q", k)
		}
	}
	msg := doc["messages"].([]any)[0].(map[string]any)
	for _, k := range []string{"from", "subject", "received", "message_id", "ack"} {
		if _, ok := msg[k]; !ok {
			t.Errorf("message JSON lacks %q", k)
		}
	}
	ack := msg["ack"].(map[string]any)
	for _, k := range []string{"status", "sent_at", "subject", "text"} {
		if _, ok := ack[k]; !ok {
			t.Errorf("ack JSON lacks %q", k)
		}
	}
	// Issue 11: what was sent, exactly (subject and decoded text).
	if s, _ := ack["subject"].(string); !strings.Contains(s, ref) {
		t.Errorf("ack subject sent = %q, want the reference", s)
	}
	if s, _ := ack["text"].(string); !strings.Contains(s, "Sehr geehrte Damen und Herren,\n") || !strings.Contains(s, ref) {
		t.Errorf("ack text sent = %q", s)
	}
	// A clerk suppresses the interim notice through the running daemon.
	out, errOut, code = intakeCLI(t, "case", "interim", ref, "-suppress", "-config", cfgPath)
	if code != 0 {
		t.Fatalf("case interim -suppress: exit %d: %s%s", code, out, errOut)
	}
	out, _, _ = intakeCLI(t, "case", "show", ref, "-json", "-config", cfgPath)
	if !strings.Contains(out, `"interim": {`) || !strings.Contains(out, `"reason": "CLERK"`) {
		t.Errorf("case show after suppress lacks the suppressed notice:\n%s", out)
	}
	if _, _, code = intakeCLI(t, "case", "interim", ref, "-config", cfgPath); code != 2 {
		t.Errorf("case interim without an action: exit %d, want 2", code)
	}
	_, _, code = intakeCLI(t, "case", "show", "STK-1999-000001-0", "-config", cfgPath)
	if code != 1 {
		t.Errorf("unknown case: exit %d, want 1", code)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, d.log)
	}
	// Without the daemon the CLI opens the register itself.
	if got := listCases(t, cfgPath); len(got) != 3 {
		t.Errorf("case list without daemon: %d cases", len(got))
	}
	// Send now, on the register itself.
	if out, errOut, code = intakeCLI(t, "case", "interim", ref, "-send-now", "-config", cfgPath); code != 0 {
		t.Errorf("case interim -send-now without daemon: exit %d: %s%s", code, out, errOut)
	}
	out, _, code = intakeCLI(t, "case", "show", ref, "-config", cfgPath)
	if code != 0 || !strings.Contains(out, ref) {
		t.Errorf("case show without daemon: exit %d\n%s", code, out)
	}
	for _, want := range []string{"Gesendete Bestätigung zu Nachricht 1", "| Sehr geehrte Damen und Herren,", "Zwischennachricht / interim notice: pending"} {
		if !strings.Contains(out, want) {
			t.Errorf("case show lacks %q:\n%s", want, out)
		}
	}
}

func waitUntil(t *testing.T, d time.Duration, cond func() bool, dm *daemon) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v\n%s", d, dm.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
