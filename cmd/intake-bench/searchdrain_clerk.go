package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A clerk's client is, by default, a process of its own in a session of its own
// ("intake-bench searchdrain-clerk", started by searchdrain): a clerk's browser runs on
// another machine and shares no scheduling group with the server. Linux shares the CPU
// first between autogroups (one per session, sched(7)) and only then between the
// threads of a group; a client inside the bench's process waits for a core beside the
// bench and the Dovecot it started, which are busy during the drain (BENCHMARKS.md,
// "The clerk in a session of its own; the Go runtime's hand-back": it made no difference
// there). -clerk-in-bench keeps the client in the bench's process, as before.

// clerkJob is what a clerk process is asked to do: JSON on its standard input. It runs
// its query loop until its standard input ends.
type clerkJob struct {
	Base   string        `json:"base"`
	Token  string        `json:"token"`
	Data   sdData        `json:"data"`
	Only   string        `json:"only"`
	Pause  time.Duration `json:"pause_ns"`
	Second bool          `json:"second"`
	Seed   [2]uint64     `json:"seed"` // of the random cases and words it asks for
	// T0 is the daemon's start on CLOCK_MONOTONIC, the clock of every process of the
	// machine: the samples' starts count from it.
	T0 int64 `json:"t0_monotonic_ns"`
}

// clerkResult is what a clerk process prints on its standard output when its input
// ends: JSON.
type clerkResult struct {
	Samples []clerkSample `json:"samples"`
	Up      time.Duration `json:"up_ns"` // the first answer of the API, from T0; 0 = none
	Conns   int64         `json:"connections"`
}

// clerkSample is an sdSample as JSON.
type clerkSample struct {
	FullText bool          `json:"full_text,omitempty"`
	Class    string        `json:"class"`
	Start    time.Duration `json:"start_ns"`
	Took     time.Duration `json:"took_ns"`
	Server   time.Duration `json:"server_ns,omitempty"`
	Wake     time.Duration `json:"wake_ns,omitempty"`
	Failed   bool          `json:"failed,omitempty"`
	Err      string        `json:"err,omitempty"`
}

func (s sdSample) clerk() clerkSample {
	return clerkSample{s.fullText, s.class, s.start, s.took, s.server, s.wake, s.failed, s.err}
}

func (s clerkSample) sample() sdSample {
	return sdSample{fullText: s.FullText, class: s.Class, start: s.Start, took: s.Took, server: s.Server, wake: s.Wake, failed: s.Failed, err: s.Err}
}

// monotonicNow reads CLOCK_MONOTONIC, the clock Go's time.Now carries for durations.
func monotonicNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(fmt.Sprintf("clock_gettime(CLOCK_MONOTONIC): %v", err)) // cannot fail on Linux
	}
	return ts.Nano()
}

// timeAtMonotonic is the time.Time of a CLOCK_MONOTONIC reading of any process. It
// reads the two clocks close together: a reading of time.Now between two of
// CLOCK_MONOTONIC less than 20 µs apart, or of the tightest of a few tries (the thread
// may be preempted in between).
func timeAtMonotonic(mono int64) time.Time {
	var best time.Time
	bestGap := time.Duration(-1)
	for range 10 {
		a := monotonicNow()
		now := time.Now()
		b := monotonicNow()
		if gap := time.Duration(b - a); bestGap < 0 || gap < bestGap {
			best, bestGap = now.Add(-time.Duration((a+b)/2-mono)), gap
		}
		if bestGap < 20*time.Microsecond {
			break
		}
	}
	return best
}

// runClerk runs job's query loop until ctx ends; its samples start from t0, the
// daemon's start.
func runClerk(ctx context.Context, job clerkJob, t0 time.Time) clerkResult {
	c := &sdClient{http: &http.Client{Timeout: time.Minute}, base: job.Base, token: job.Token}
	q := newSDQueries(job.Data)
	q.rng = rand.New(rand.NewPCG(job.Seed[0], job.Seed[1]))
	up := make(chan time.Duration, 1)
	samples := queryLoop(ctx, c, q, job.Only, job.Pause, job.Second, t0, up)
	res := clerkResult{Conns: c.conns.Load(), Samples: make([]clerkSample, len(samples))}
	for i, s := range samples {
		res.Samples[i] = s.clerk()
	}
	select {
	case res.Up = <-up:
	default:
	}
	return res
}

// cmdSearchDrainClerk is "intake-bench searchdrain-clerk": one clerk, as searchdrain
// starts it. It reads a clerkJob from stdin, asks until stdin ends and prints its
// clerkResult.
func cmdSearchDrainClerk(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "intake-bench searchdrain-clerk: reads its job from stdin, takes no arguments")
		return exitUsage
	}
	dec := json.NewDecoder(stdin)
	var job clerkJob
	if err := dec.Decode(&job); err != nil {
		fmt.Fprintln(stderr, "intake-bench searchdrain-clerk: read the job:", err)
		return exitFailure
	}
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		// The end of stdin ends the clerk: searchdrain closes it, and so does its exit.
		_, _ = io.Copy(io.Discard, io.MultiReader(dec.Buffered(), stdin))
		stop()
	}()
	res := runClerk(ctx, job, timeAtMonotonic(job.T0))
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintln(stderr, "intake-bench searchdrain-clerk: write the result:", err)
		return exitFailure
	}
	return exitOK
}

// clerkProcess is a running "intake-bench searchdrain-clerk".
type clerkProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   bytes.Buffer
}

// startClerkProcess starts a clerk process for job in a session of its own (setsid(2),
// and with it an autogroup of its own).
func startClerkProcess(job clerkJob, stderr io.Writer) (*clerkProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the bench's own binary: %w", err)
	}
	p := &clerkProcess{cmd: exec.Command(exe, "searchdrain-clerk")}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start a clerk process: %w", err)
	}
	if err := json.NewEncoder(p.stdin).Encode(job); err != nil {
		p.stdin.Close()
		p.cmd.Wait()
		return nil, fmt.Errorf("send the clerk its job: %w", err)
	}
	return p, nil
}

// end closes the clerk's standard input, which ends its loop; wait then collects what it
// measured. searchdrain ends all clerks before it waits for the first, so that they stop
// together, as the clerks in the bench's process do.
func (p *clerkProcess) end() { p.stdin.Close() }

// wait waits for the clerk process (ended with end) and returns what it measured.
func (p *clerkProcess) wait() (clerkResult, error) {
	var res clerkResult
	if err := p.cmd.Wait(); err != nil {
		return res, fmt.Errorf("clerk process: %w", err)
	}
	if err := json.Unmarshal(p.out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("read the clerk process's result: %w", err)
	}
	return res, nil
}
