package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/ticket"
)

// seedCases registers n citizen cases with raw mails in a register no daemon
// holds and returns their references.
func seedCases(t *testing.T, data string, n int, subject func(i int) string) []ticket.Reference {
	t.Helper()
	s, err := ticket.Open(data, ticket.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	var refs []ticket.Reference
	for i := range n {
		from := fmt.Sprintf("buerger%d@example.org", i)
		raw := fmt.Sprintf("From: %s\r\nSubject: %s\r\n\r\nText %d\r\n", from, subject(i), i)
		sum, size, err := s.StoreRaw(strings.NewReader(raw), 0)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := s.Register(ticket.Incoming{Prefix: "STK", Kind: ticket.KindCitizen, Message: ticket.Message{
			Mailbox: "poststelle", UIDValidity: 1, UID: uint32(i + 1), MessageID: fmt.Sprintf("seed%d@example.org", i),
			From: from, Subject: subject(i), Received: t0.Add(time.Duration(i) * time.Minute),
			Size: size, RawSHA256: sum,
		}, SuppressReason: "ACK_DISABLED"})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, reg.Reference)
	}
	return refs
}

// intakeCLIEnv runs the binary with extra environment variables.
func intakeCLIEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
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

// TestCLIReadsAudited runs the reads of the command line — case show, case
// list, backup, case export, audit export — once with the register opened
// directly and once through a running daemon's socket, each with
// SUDO_USER, USER and LOGNAME saying "mallory". Every read must be in the
// audit log under the real uid's user (the kernel's peer credentials
// through the socket, the process's own uid offline), none under mallory.
func TestCLIReadsAudited(t *testing.T) {
	cfgPath, data := accountConfig(t)
	refs := seedCases(t, data, 2, func(i int) string { return fmt.Sprintf("Antrag %d", i) })
	ref := refs[0].String()
	liar := []string{"SUDO_USER=mallory", "SUDO_UID=4242", "USER=mallory", "LOGNAME=mallory"}
	uid := os.Getuid()
	wantActor := "cli:uid:" + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		wantActor = "cli:" + u.Username
	}
	out := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if _, errOut, code := intakeCLIEnv(t, liar, append(args, "-config", cfgPath)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}

	// The register opened directly: no daemon runs.
	run("case", "show", ref)
	run("case", "list", "-sender", "buerger1@example.org")
	run("backup", filepath.Join(out, "offline.tar.gz"))
	run("case", "export", ref, "-o", filepath.Join(out, "case.zip"))
	run("audit", "export", "-since", "2026-01-01")

	// Through the running daemon's socket.
	d := startDaemon(t, cfgPath)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := intake.DialLocal(intake.SocketPath(data)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon does not answer on its socket:\n%s", d.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	run("case", "show", ref)
	run("case", "list")
	run("backup", filepath.Join(out, "online.tar.gz"))
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, d.log)
	}

	s, err := ticket.Open(data, ticket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries, _, err := s.AuditLog(ticket.AuditFilter{Limit: ticket.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Actor+e.Remote+e.Detail, "mallory") || strings.Contains(e.Remote, "4242") {
			t.Errorf("audit entry takes the environment's word: %+v", e)
		}
	}
	for _, tc := range []struct {
		via, action string
		ref         ticket.Reference
	}{
		{"local", ticket.AuditView, refs[0]},
		{"local", ticket.AuditSearch, ticket.Reference{}},
		{"local", ticket.AuditBackup, ticket.Reference{}},
		{"local", ticket.AuditExport, refs[0]},
		{"local", ticket.AuditAuditExport, ticket.Reference{}},
		{"unix", ticket.AuditView, refs[0]},
		{"unix", ticket.AuditSearch, ticket.Reference{}},
		{"unix", ticket.AuditBackup, ticket.Reference{}},
	} {
		t.Run(tc.via+" "+tc.action, func(t *testing.T) {
			n := 0
			for _, e := range entries {
				if e.Action != tc.action || !strings.HasPrefix(e.Remote, tc.via+" ") {
					continue
				}
				n++
				if e.Actor != wantActor || e.Case != tc.ref {
					t.Errorf("entry %+v: want actor %q, case %v", e, wantActor, tc.ref)
				}
				if !strings.HasPrefix(e.Remote, fmt.Sprintf("%s uid=%d pid=", tc.via, uid)) {
					t.Errorf("entry %+v: remote does not name uid %d and the pid", e, uid)
				}
			}
			if n != 1 {
				t.Errorf("%d %s entries via %s, want 1; log:\n%+v", n, tc.action, tc.via, entries)
			}
		})
	}
	t.Run("the filter of a list is recorded", func(t *testing.T) {
		for _, e := range entries {
			if e.Action == ticket.AuditSearch && strings.HasPrefix(e.Remote, "local ") && !strings.Contains(e.Detail, "sender=buerger1@example.org") {
				t.Errorf("search entry without its filter: %+v", e)
			}
		}
	})
}
