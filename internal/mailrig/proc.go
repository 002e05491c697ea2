package mailrig

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pickPorts returns n distinct ports that were free on 127.0.0.1 a moment
// ago. They come from below the kernel's ephemeral range, so no outgoing
// connection takes one while a server restarts, and are random, so that
// parallel processes rarely try the same one; Start retries on a clash.
func pickPorts(n int) ([]int, error) {
	lo, hi := 10000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > lo+1000 {
				hi = v
			}
		}
	}
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		addr := "127.0.0.1:0"
		if tries < 200 {
			addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(lo+rand.IntN(hi-lo)))
		}
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			if tries >= 200 {
				return nil, err
			}
			continue
		}
		held = append(held, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// probe checks that a server greets: prefix is how its first line starts.
type probe struct {
	addr   string
	tls    *tls.Config // nil: plain TCP
	prefix string
}

func (p probe) try() error {
	conn, err := net.DialTimeout("tcp", p.addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	if p.tls != nil {
		tc := tls.Client(conn, p.tls)
		if err := tc.Handshake(); err != nil {
			return err
		}
		conn = tc
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, p.prefix) {
		return fmt.Errorf("unexpected greeting %q", strings.TrimSpace(line))
	}
	if strings.HasPrefix(p.prefix, "*") {
		io.WriteString(conn, "x LOGOUT\r\n")
	} else {
		io.WriteString(conn, "QUIT\r\n")
	}
	return nil
}

// waitReady tries each probe until it succeeds, the server exits (exited is
// closed) or readyTimeout passes.
func waitReady(exited <-chan struct{}, probes []probe) error {
	deadline := time.Now().Add(readyTimeout)
	for _, p := range probes {
		for {
			select {
			case <-exited:
				return errors.New("exited during start-up")
			default:
			}
			err := p.try()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s did not greet within %v: %w", p.addr, readyTimeout, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// procStat returns the state letter and process group of pid.
func procStat(pid int) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) S ppid pgrp ..."; comm may contain anything, so cut at
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0, 0, false
	}
	pgrp, _ = strconv.Atoi(f[2])
	return f[0][0], pgrp, true
}

// pidAlive reports whether pid runs; a zombie (not reaped by whoever
// inherited it) counts as gone.
func pidAlive(pid int) bool {
	st, _, ok := procStat(pid)
	return ok && st != 'Z' && st != 'X'
}

// groupAlive reports whether any live process is in process group pgid.
func groupAlive(pgid int) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, pg, ok := procStat(pid); ok && pg == pgid && st != 'Z' && st != 'X' {
			return true
		}
	}
	return false
}

// waitGone waits until pid and every process of its process group are gone.
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for pidAlive(pid) || groupAlive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("bad pid file %s: %q", path, b)
	}
	return pid, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns what was appended to path after offset.
func logSince(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// removeAll retries for a moment: a server process that is just exiting may
// still write a last log line.
func removeAll(dir string) error {
	var err error
	for range 20 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// Logs returns the last lines of Dovecot's and Postfix's logs, for test
// failure messages.
func (r *Rig) Logs() string {
	var b strings.Builder
	for _, f := range []string{"dv/dovecot.log", "dv/stderr.log", "pf/postfix.out", "pf/maillog"} {
		data, err := os.ReadFile(filepath.Join(r.Dir, f))
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		fmt.Fprintf(&b, "==> %s/%s (last %d lines) <==\n%s\n", r.Dir, f, len(lines), strings.Join(lines, "\n"))
	}
	if b.Len() == 0 {
		return "(no server logs in " + r.Dir + ")"
	}
	return b.String()
}

// reapOrphans stops and removes rigs whose owning process died without
// closing them (a test binary killed by -timeout, say). It only touches
// directories /tmp/mr-* with an owner file, and only server processes whose
// command line or working directory points into that directory.
func reapOrphans() {
	dirs, _ := filepath.Glob(filepath.Join("/tmp", dirPrefix+"*"))
	for _, dir := range dirs {
		owner, err := readPIDFile(filepath.Join(dir, "owner"))
		if err != nil || pidAlive(owner) {
			continue
		}
		f, err := os.Open(filepath.Join(dir, "owner"))
		if err != nil {
			continue
		}
		// One reaper per directory.
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close()
			continue
		}
		if pid, err := readPIDFile(filepath.Join(dir, "dv", "run", "master.pid")); err == nil {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			if pidAlive(pid) && bytes.Contains(cmdline, []byte(filepath.Join(dir, "dv", "dovecot.conf"))) {
				// Its own process group (Setpgid in StartDovecot).
				syscall.Kill(-pid, syscall.SIGKILL)
				waitGone(pid, stopTimeout)
			}
		}
		if pid, err := readPIDFile(filepath.Join(dir, "pf", "spool", "pid", "master.pid")); err == nil {
			cwd, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
			if pidAlive(pid) && cwd == filepath.Join(dir, "pf", "spool") {
				syscall.Kill(pid, syscall.SIGTERM)
				waitGone(pid, stopTimeout)
			}
		}
		removeAll(dir)
		f.Close()
	}
}
