//go:build linux

package intake

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPeerCredentials: over a unix socket the kernel names the connecting
// process (our own uid and pid here); a connection that is not a unix
// socket gets no peer, and the local API then refuses every audited read.
func TestPeerCredentials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer server.Close()

	p, ok := peerOf(withPeer(context.Background(), server))
	if !ok || p.uid != os.Getuid() || p.pid != os.Getpid() {
		t.Errorf("peer = %+v, %v; want uid %d pid %d", p, ok, os.Getuid(), os.Getpid())
	}
	a := localActor("unix", p.uid, p.pid, time.Now())
	if !strings.HasPrefix(a.Name, "cli:") || !strings.HasPrefix(a.Remote, "unix uid=") {
		t.Errorf("actor = %+v", a)
	}

	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	if p, ok := peerOf(withPeer(context.Background(), c1)); ok {
		t.Errorf("a pipe has peer credentials %+v", p)
	}
}

// TestProcessActorIgnoresEnvironment: the actor of a command that opens the
// register itself is its real uid, whatever SUDO_USER, USER and LOGNAME say.
func TestProcessActorIgnoresEnvironment(t *testing.T) {
	want := ProcessActor(time.Now())
	for _, k := range []string{"SUDO_USER", "USER", "LOGNAME"} {
		t.Setenv(k, "mallory")
	}
	got := ProcessActor(time.Now())
	if got.Name != want.Name || got.Name != "cli:"+userName(os.Getuid()) || strings.Contains(got.Name+got.Remote, "mallory") {
		t.Errorf("actor %+v (before the environment: %+v)", got, want)
	}
}
