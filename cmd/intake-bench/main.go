package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/ticket"
)

// Exit statuses, as those of intake.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `Usage:
  intake-bench drain [-n 10000] [-big 5] [-big-size "20 MB"] [-latency 200] [-trickle 200] [-intake BINARY]
  intake-bench ratio [-n 2000] [-big-every 20] [-big-size "200 KB"] [-repeat 1] [-web] [-discard] [-json] [-intake BINARY]
  intake-bench register [-n 1000000] [-lookups 10000] [-dir DIR]
  intake-bench searchdrain [-cases 1000000] [-n 2000] [-dir DIR] [-idle 20s] [-json] [-intake BINARY]
  intake-bench pin FILE...
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "drain":
		return cmdDrain(args[1:], stdout, stderr)
	case "ratio":
		return cmdRatio(args[1:], stdout, stderr)
	case "register":
		return cmdRegister(args[1:], stdout, stderr)
	case "searchdrain":
		return cmdSearchDrain(args[1:], stdout, stderr)
	case "searchdrain-clerk": // started by searchdrain, not by hand
		return cmdSearchDrainClerk(args[1:], os.Stdin, stdout, stderr)
	case "pin":
		return cmdPin(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "intake-bench: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

// cmdDrain measures the daemon against real Dovecot and Postfix on
// loopback: the drain of a backlog, the arrival→ack latency of mails that
// reach the idle daemon and of a trickle (latency.go), and the daemon's peak
// RSS.
func cmdDrain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("intake-bench drain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 10000, "mails in the backlog")
	big := fs.Int("big", 5, "how many of them are large")
	bigSize := fs.String("big-size", "20 MB", "size of a large mail")
	lat := fs.Int("latency", 200, "mails sent one by one to the idle daemon, each after the previous one's ack")
	trickle := fs.Int("trickle", 200, "mails sent after those, one every 100–190 ms")
	bin := fs.String("intake", "", "the intake binary to measure (default: built from this module with go build)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitUsage
	}
	if *lat < 1 || *trickle < 0 {
		fmt.Fprintln(stderr, "intake-bench: -latency must be at least 1, -trickle at least 0")
		return exitUsage
	}
	size, err := config.ParseByteSize(*bigSize)
	if err != nil {
		fmt.Fprintln(stderr, "intake-bench: -big-size:", err)
		return exitUsage
	}
	ctx := context.Background()
	exe, cleanup, code := prepareIntake(ctx, *bin, stderr)
	defer cleanup()
	if code != exitOK {
		return code
	}
	res, err := runBench(ctx, benchParams{n: *n, big: *big, bigSize: int64(size), latency: *lat, trickle: *trickle, exe: exe}, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "intake-bench:", err)
		return exitFailure
	}
	fmt.Fprint(stdout, res)
	return exitOK
}

// prepareIntake checks that Dovecot and Postfix are installed and returns
// the intake binary to measure: bin, or, if bin is empty, one built from
// this module into a temporary directory that cleanup removes. cleanup is
// never nil. On failure it has reported to stderr and code is the exit
// status; otherwise code is exitOK.
func prepareIntake(ctx context.Context, bin string, stderr io.Writer) (exe string, cleanup func(), code int) {
	cleanup = func() {}
	if err := mailrig.Available(); err != nil {
		fmt.Fprintln(stderr, "intake-bench needs Dovecot and Postfix (run ./scripts/test.sh once, as root):", err)
		return "", cleanup, exitFailure
	}
	if bin != "" {
		return bin, cleanup, exitOK
	}
	dir, err := os.MkdirTemp("", "intake-bench-bin-")
	if err != nil {
		fmt.Fprintln(stderr, "intake-bench:", err)
		return "", cleanup, exitFailure
	}
	cleanup = func() { os.RemoveAll(dir) }
	if exe, err = buildIntake(ctx, dir, stderr); err != nil {
		fmt.Fprintln(stderr, "intake-bench:", err)
		return "", cleanup, exitFailure
	}
	return exe, cleanup, exitOK
}

// buildIntake builds cmd/intake of this module into dir.
func buildIntake(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	exe := filepath.Join(dir, "intake")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", exe, "github.com/intake-office/intake/cmd/intake")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build intake (or pass -intake PATH): %w", err)
	}
	return exe, nil
}

type benchParams struct {
	n, big, latency, trickle int
	bigSize                  int64
	exe                      string // the intake binary
}

func runBench(ctx context.Context, p benchParams, logw io.Writer) (string, error) {
	say := func(f string, a ...any) { fmt.Fprintf(logw, "bench: "+f+"\n", a...) }
	rig, err := mailrig.Start(ctx, mailrig.Options{Users: mailrig.LoadUsers()})
	if err != nil {
		return "", err
	}
	defer rig.Close()
	dir, err := os.MkdirTemp("", "intake-bench-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	cfgPath, err := writeBenchConfig(rig, dir, "debug") // the "imap push" lines time the latency
	if err != nil {
		return "", err
	}

	// 1. The backlog, appended to the selected INBOX (fast path, see
	// real-servers.md).
	say("appending %d mails (%d of %s)", p.n, p.big, config.ByteSize(p.bigSize))
	c, err := rig.Dial(mailrig.LoadOffice)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		return "", err
	}
	bigEvery := 0
	if p.big > 0 {
		bigEvery = max(p.n/p.big, 1)
	}
	var bytesTotal int64
	for i := range p.n {
		var raw []byte
		if bigEvery > 0 && i%bigEvery == bigEvery/2 {
			raw = mailrig.BigLoadMail(i, p.bigSize)
		} else {
			raw = mailrig.LoadMail(i, "bench")
		}
		bytesTotal += int64(len(raw))
		if err := mailrig.AppendSelected(c, raw); err != nil {
			return "", fmt.Errorf("append %d: %w", i, err)
		}
	}

	// 2. The drain: the daemon as its own process, so its RSS is its own.
	cmd := exec.Command(p.exe, "serve", "-config", cfgPath)
	logFile, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		return "", err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	sock := intake.SocketPath(filepath.Join(dir, "data"))
	var api *intake.LocalClient
	var regAt, ackAt time.Duration
	deadline := time.Now().Add(30 * time.Minute)
	for regAt == 0 || ackAt == 0 {
		if time.Now().After(deadline) {
			return "", errors.New("drain did not finish within 30 minutes")
		}
		time.Sleep(20 * time.Millisecond)
		if api == nil {
			if api, err = intake.DialLocal(sock); err != nil {
				api = nil
				continue
			}
		}
		st, err := api.Status()
		if err != nil || len(st) == 0 {
			continue
		}
		if regAt == 0 && st[0].Registered >= p.n {
			regAt = time.Since(start)
		}
		if ackAt == 0 && st[0].AcksSent >= p.n {
			ackAt = time.Since(start)
		}
	}
	say("drain: %d registered in %v, all acknowledged after %v", p.n, regAt, ackAt)

	// 3. Latency (latency.go): Dovecot tells an idling session of a new mail up
	// to 0.5 s late (NOTIFY_DELAY_MSECS, real-servers.md), a timer of each
	// session: intake's own share is the time from the push its watcher got
	// (logged at debug level, "imap push") to the ack accepted (SentAt).
	acks, closeAcks, err := newLogCounter(logFile.Name(), `msg="acknowledgement sent"`)
	if err != nil {
		return "", err
	}
	defer closeAcks()
	say("latency: %d mails one by one to the idle daemon, then %d as a trickle", p.latency, p.trickle)
	idle, err := appendIdle(c, acks, p.n, p.latency, p.n, deadline)
	if err != nil {
		return "", err
	}
	trickle, err := appendTrickle(c, p.n+p.latency, p.trickle)
	if err != nil {
		return "", err
	}
	total := p.n + p.latency + p.trickle
	if err := acks.waitFor(total, deadline); err != nil {
		return "", fmt.Errorf("latency acks: %w", err)
	}
	// The log line comes when Postfix accepted the ack; the register has its SentAt
	// with the commit of the responder's batch, a little later.
	var cases []ticket.Case
	for {
		if cases, err = api.List(ticket.Filter{Limit: p.latency + p.trickle + 10}); err != nil {
			return "", err
		}
		if sentOf(cases, idle)+sentOf(cases, trickle) == p.latency+p.trickle {
			break
		}
		if time.Now().After(deadline) {
			return "", errors.New("the latency mails' acks are not all recorded as sent")
		}
		time.Sleep(20 * time.Millisecond)
	}
	logText, err := os.ReadFile(logFile.Name())
	if err != nil {
		return "", err
	}
	pushes := pushTimes(string(logText))
	idleLat, err := splitLatency(cases, idle, pushes)
	if err != nil {
		return "", fmt.Errorf("idle: %w", err)
	}
	var trickleLat latencySplit
	if p.trickle > 0 {
		if trickleLat, err = splitLatency(cases, trickle, pushes); err != nil {
			return "", fmt.Errorf("trickle: %w", err)
		}
	}
	rss, _ := peakRSS(cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()

	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "intake-bench, %s, %s/%s, %d CPUs, %s\n", time.Now().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), host)
	fmt.Fprintf(&b, "backlog:       %d mails, %d of %s, %.1f MB in all\n", p.n, p.big, config.ByteSize(p.bigSize), float64(bytesTotal)/1e6)
	fmt.Fprintf(&b, "drain:         %.0f mails/s registered (%v), %.0f mails/s registered and acknowledged (%v)\n",
		float64(p.n)/regAt.Seconds(), regAt.Round(time.Millisecond), float64(p.n)/ackAt.Seconds(), ackAt.Round(time.Millisecond))
	idleLat.report(&b, "idle", "APPENDed one by one, each 50–150 ms after the previous ack")
	if p.trickle > 0 {
		trickleLat.report(&b, "trickle", "APPENDed every 100–190 ms, several per push")
	}
	fmt.Fprintf(&b, "peak RSS:      %.1f MB (VmHWM of the daemon process)\n", float64(rss)/1e6)
	fmt.Fprintf(&b, "daemon CPU:    %v user + %v system for %d mails (%.2f ms per mail; Dovecot and Postfix share the machine)\n",
		cmd.ProcessState.UserTime().Round(time.Millisecond), cmd.ProcessState.SystemTime().Round(time.Millisecond), total,
		float64(cpu.Microseconds())/1000/float64(total))
	return b.String(), nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

// peakRSS reads VmHWM (the peak resident set) of a process, in bytes.
func peakRSS(pid int) (int64, error) { return procStatusBytes(pid, "VmHWM") }

// procStatusBytes reads a size of /proc/PID/status (proc(5)), e.g. VmHWM, in bytes.
func procStatusBytes(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	v, err := statusField(string(b), key)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
	return kb * 1024, err
}

// statusField returns the value of key in a status file of proc(5) ("Key:\tvalue").
func statusField(status, key string) (string, error) {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(rest), nil
		}
	}
	return "", fmt.Errorf("no %s", key)
}

func writeBenchConfig(rig *mailrig.Rig, dir, logLevel string) (string, error) {
	// Many letters from few benchmark citizens: no per-sender limit, no
	// hourly cap.
	text := rig.IntakeConfig(filepath.Join(dir, "data"), mailrig.LoadOffice, "per_sender_limit = 0\nper_domain_limit = 0\nhourly_cap = 100000000")
	text = strings.Replace(text, `level = "debug"`, `level = "`+logLevel+`"`, 1)
	path := filepath.Join(dir, "intake.toml")
	return path, os.WriteFile(path, []byte(text), 0o600)
}

// pushTimes returns the times of the daemon's "imap push" debug lines,
// ascending.
func pushTimes(log string) []time.Time {
	var out []time.Time
	for line := range strings.Lines(log) {
		if !strings.Contains(line, `msg="imap push"`) || !strings.HasPrefix(line, "time=") {
			continue
		}
		stamp, _, _ := strings.Cut(line[len("time="):], " ")
		if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// printReport prints rep as indented JSON, or as text.
func printReport(stdout, stderr io.Writer, asJSON bool, rep any, text func() string) int {
	if !asJSON {
		fmt.Fprint(stdout, text())
		return exitOK
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		fmt.Fprintln(stderr, "intake-bench:", err)
		return exitFailure
	}
	return exitOK
}
