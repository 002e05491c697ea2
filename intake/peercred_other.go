//go:build !linux

package intake

import (
	"errors"
	"net"
)

// peerCred has no SO_PEERCRED to ask here; audited reads through the local
// API are refused (the CLI falls back to nothing: the daemon holds the
// register, so the admin stops it or uses the web).
func peerCred(net.Conn) (peer, error) {
	return peer{}, errors.New("peer credentials: SO_PEERCRED is only available on Linux")
}
