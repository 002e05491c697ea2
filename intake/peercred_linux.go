//go:build linux

package intake

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerCred asks the kernel for the credentials of the process that
// connected c (SO_PEERCRED, socket(7)): they were fixed at connect and the
// client cannot choose them.
func peerCred(c net.Conn) (peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{}, errors.New("peer credentials: not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var (
		cred    *unix.Ucred
		credErr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return peer{}, fmt.Errorf("peer credentials: SO_PEERCRED: %w", credErr)
	}
	return peer{uid: int(cred.Uid), pid: int(cred.Pid)}, nil
}
