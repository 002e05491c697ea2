package intake

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/intake-office/intake/ticket"
)

// The audit log names the local user of the command line by what the kernel
// says, never by what the process says about itself: $SUDO_USER, $USER and
// $LOGNAME are set by whoever starts the process. Through the daemon's
// socket the kernel tells the daemon who is at the other end (SO_PEERCRED,
// socket(7), fixed at connect); a command that opens the register itself
// names its own real uid. A name comes from the user database (os/user
// LookupId), so the same uid always has the same actor.

// peer is the credentials of the process at the other end of a local API
// connection, as the kernel gave them.
type peer struct {
	uid, pid int
}

type peerKey struct{}

// withPeer is the local API server's ConnContext: it reads the peer's
// credentials once per connection. A connection without them (an error, or
// a platform without SO_PEERCRED) gets none, and every audited read on it
// is refused.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	p, err := peerCred(c)
	if err != nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, p)
}

func peerOf(ctx context.Context) (peer, bool) {
	p, ok := ctx.Value(peerKey{}).(peer)
	return p, ok
}

// ProcessActor is the actor of a command that opens the register itself
// (no daemon runs): the process's own real uid and pid.
func ProcessActor(at time.Time) ticket.Actor {
	return localActor("local", os.Getuid(), os.Getpid(), at)
}

// localActor names uid as "cli:NAME" ("cli:uid:N" when the user database
// has no entry) and says in Remote how it came (via "unix": the daemon's
// socket; "local": the register opened directly), the uid and pid, and the
// kernel's audit login user when one is set and differs (who logged in
// before sudo).
func localActor(via string, uid, pid int, at time.Time) ticket.Actor {
	name := userName(uid)
	remote := fmt.Sprintf("%s uid=%d pid=%d", via, uid, pid)
	if login, ok := loginUID(pid); ok && login != uid {
		remote += " login=" + userName(login)
	}
	return ticket.Actor{Name: "cli:" + name, Remote: remote, At: at}
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid:" + strconv.Itoa(uid)
}

// loginUID reads the audit login uid of pid (/proc/PID/loginuid, set by
// pam_loginuid at login and kept across sudo and su). Unset is 2^32-1.
func loginUID(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/loginuid")
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil || n == 1<<32-1 {
		return 0, false
	}
	return int(n), true
}
