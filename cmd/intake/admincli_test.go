package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/ticket"
)

// TestCLIAccountsThroughDaemon: "intake user …" and "intake token …" work while the
// daemon runs (the real binary, through its local API), and every change is in the audit
// log under the local user the kernel names for the socket — not under what the
// environment claims.
func TestCLIAccountsThroughDaemon(t *testing.T) {
	cfgPath, data := accountConfig(t)
	liar := []string{"SUDO_USER=mallory", "USER=mallory", "LOGNAME=mallory"}
	uid := os.Getuid()
	wantActor := "cli:uid:" + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		wantActor = "cli:" + u.Username
	}
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
	steps := []struct {
		name string
		args []string
		code int
		out  string // substring of stdout
		err  string // substring of stderr
	}{
		{"add clerk", []string{"user", "add", "erika", "-role", "clerk", "-mailboxes", "poststelle", "-generate"}, 0, "User erika added (clerk)", ""},
		{"add twice", []string{"user", "add", "erika", "-role", "clerk", "-generate"}, 1, "", "already exists"},
		{"grant", []string{"user", "grant", "erika", "-mailboxes", "poststelle,presse"}, 0, "erika: clerk, poststelle,presse", ""},
		{"passwd", []string{"user", "passwd", "erika", "-generate"}, 0, "shown only now", ""},
		{"read token", []string{"token", "create", "erika", "-scope", "read", "-expires", "30d", "-label", "Statistik"}, 0, "itk_", "Scope: read; gültig bis"},
		{"unknown scope", []string{"token", "create", "erika", "-scope", "admin"}, 2, "", "valid are: read, read-write"},
		{"bad expiry", []string{"token", "create", "erika", "-expires", "gestern"}, 2, "", "-expires"},
		{"token of unknown user", []string{"token", "create", "niemand"}, 1, "", "not found"},
		{"token list", []string{"token", "list", "erika"}, 0, "read", ""},
		{"disable", []string{"user", "disable", "erika"}, 0, "disabled", ""},
		{"enable", []string{"user", "enable", "erika"}, 0, "enabled", ""},
		{"passwd of unknown user", []string{"user", "passwd", "niemand", "-generate"}, 1, "", "not found"},
	}
	for _, st := range steps {
		out, errOut, code := intakeCLIEnv(t, liar, append(st.args, "-config", cfgPath)...)
		if code != st.code || !strings.Contains(out, st.out) || !strings.Contains(errOut, st.err) {
			t.Errorf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s", st.name, code, st.code, out, errOut)
		}
	}
	out, errOut, code := intakeCLIEnv(t, nil, "token", "list", "-json", "-config", cfgPath)
	var toks []ticket.Token
	if err := json.Unmarshal([]byte(out), &toks); code != 0 || err != nil || len(toks) != 1 || toks[0].Scope != ticket.ScopeRead || toks[0].Expires.IsZero() {
		t.Fatalf("token list -json: %d %v %s %s", code, err, out, errOut)
	}
	if _, errOut, code := intakeCLIEnv(t, liar, "token", "revoke", "erika", toks[0].ID, "-config", cfgPath); code != 0 {
		t.Fatalf("token revoke: %d %s", code, errOut)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, d.log)
	}

	s := openTestRegister(t, data)
	defer s.Close()
	u, err := s.User("erika")
	if err != nil || u.Disabled || strings.Join(u.Mailboxes, ",") != "poststelle,presse" || u.PasswordSet.IsZero() {
		t.Fatalf("erika = %+v, %v", u, err)
	}
	entries, _, err := s.AuditLog(ticket.AuditFilter{Limit: ticket.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if strings.Contains(e.Actor+e.Remote+e.Detail, "mallory") {
			t.Errorf("audit entry takes the environment's word: %+v", e)
		}
		if !strings.HasPrefix(e.Action, "user_") && !strings.HasPrefix(e.Action, "token_") {
			continue
		}
		if e.Actor != wantActor || !strings.HasPrefix(e.Remote, fmt.Sprintf("unix uid=%d pid=", uid)) {
			t.Errorf("entry %+v: want actor %q through the socket", e, wantActor)
		}
		got = append(got, e.Action)
	}
	want := "user_add,user_grant,user_password,token_create,user_disable,user_enable,token_revoke"
	if strings.Join(got, ",") != want {
		t.Errorf("audited %s\nwant    %s", strings.Join(got, ","), want)
	}
}
