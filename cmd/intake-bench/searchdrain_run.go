package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/lettergen"
	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/internal/worknice"
	"github.com/intake-office/intake/ticket"
	"github.com/intake-office/intake/web"
)

type sdParams struct {
	n, bigEvery  int
	bigSize      int64
	idle         time.Duration
	exe          string
	dir          string        // holds data/, the prepared register and index
	only         string        // "lookup", "fulltext" or "" (both in turn)
	requestNice  string        // web.request_nice; "" = intake's default
	workNice     string        // work_nice; "" = intake's default
	keepInMemory string        // keep_register_in_memory; "" = intake's default
	pause        time.Duration // > 0: a second clerk, lookups this far apart
	clerkPause   time.Duration // the first clerk's pause between two requests (0: none)
	clerkInBench bool          // the clerks ask from the bench's process, not from processes of their own
}

// sdReport is what searchdrain prints (-json: as JSON).
type sdReport struct {
	Date       string        `json:"date"`
	CPUs       int           `json:"cpus"`
	Cases      int           `json:"cases_prepared"`
	CasesAtRun uint64        `json:"messages_at_start"` // registered messages when the daemon started
	Mails      int           `json:"mails_drained"`
	Start      time.Time     `json:"daemon_started"` // the phases count from here
	Big        int           `json:"big_mails"`
	APIUp      time.Duration `json:"api_up_ns"`      // daemon start → first answer of the API
	Registered time.Duration `json:"registered_ns"`  // daemon start → all mails registered
	LastAck    time.Duration `json:"last_ack_ns"`    // daemon start → last ack accepted by Postfix
	Idle       time.Duration `json:"idle_ns"`        // daemon start → intake idles (index caught up)
	CPUAtAck   time.Duration `json:"cpu_at_ack_ns"`  // intake's CPU (user+system) at the last ack
	CPUAtIdle  time.Duration `json:"cpu_at_idle_ns"` // … when it idles
	CPUAtEnd   time.Duration `json:"cpu_at_end_ns"`  // … at the end of the idle phase
	// RequestNice is the daemon's web.request_nice ("" = its default); NiceRefused that
	// the daemon logged that the kernel refused it (clerks' requests at normal priority).
	RequestNice string `json:"request_nice"`
	NiceRefused bool   `json:"request_nice_refused"`
	// WorkNice is the daemon's work_nice ("" = its default); ThreadNice counts the daemon's
	// threads by nice value at the last ack (a clerk's connection is open then).
	WorkNice   string        `json:"work_nice"`
	ThreadNice map[int]int   `json:"thread_nice"`
	Pause      time.Duration `json:"paused_clerk_ns"`   // -paused-clerk; 0 = none
	ClerkPause time.Duration `json:"clerk_pause_ns"`    // -clerk-pause; 0 = none
	ClerkConns int64         `json:"clerk_connections"` // connections the (first) clerk opened
	// ClerkInBench: the clerks asked from the bench's own process (-clerk-in-bench), not
	// from processes in sessions of their own.
	ClerkInBench bool   `json:"clerk_in_bench"`
	Only         string `json:"only,omitempty"` // -only
	// ClerkFaults: major page faults of the daemon's raised threads (the clerks') by the
	// last ack: each read a page of the register or the index from disk.
	ClerkFaults int64 `json:"clerk_major_faults_at_ack"`
	// ClerkSwitches: voluntary context switches of the same threads by the last ack: one
	// per request is the wait for the next one; more are the Go runtime handing the
	// goroutine to another thread and back (BENCHMARKS.md, "The clerk in a session of its
	// own; the Go runtime's hand-back").
	ClerkSwitches int64 `json:"clerk_voluntary_switches_at_ack"`
	// KeepInMemory is the daemon's keep_register_in_memory ("" = its default); Locked its
	// locked memory (VmLck) at the last ack, RegisterBytes the size of intake.db then.
	KeepInMemory  string    `json:"keep_register_in_memory"`
	Locked        int64     `json:"locked_bytes_at_ack"`
	RegisterBytes int64     `json:"register_bytes_at_ack"`
	Phases        []sdPhase `json:"phases"`
}

// sdClasses are the full-text query classes, as in search's latency test:
// a vocabulary word, a word of a letter, two words of a letter, a phrase of
// a letter, a word with a date filter (the last year).
var sdClasses = []string{"word", "word of a letter", "two words", "phrase", "word+since"}

// sdQueries makes the requests of the query loop from the prepared data.
type sdQueries struct {
	d     sdData
	gen   *lettergen.Gen
	rng   *rand.Rand
	years []int
	since string
}

func newSDQueries(d sdData) *sdQueries {
	q := &sdQueries{d: d, gen: lettergen.New(d.Seed), rng: rand.New(rand.NewPCG(42, 12))}
	for y := range d.Years {
		q.years = append(q.years, y)
	}
	q.since = sdLast.AddDate(-1, 0, 0).Format("2006-01-02")
	return q
}

// search returns the query string of a full-text search of class c.
func (q *sdQueries) search(c string) url.Values {
	letter := func() lettergen.Letter {
		for {
			uid := 1 + q.rng.IntN(q.d.Cases)
			if l := q.gen.Letter(uint64(uid), sdReceived(uid, q.d.Cases)); len(l.Words) > 1 {
				return l
			}
		}
	}
	vocab := q.gen.Vocabulary()
	v := url.Values{}
	switch c {
	case "word":
		v.Set("q", vocab[q.rng.IntN(len(vocab))])
	case "word of a letter":
		l := letter()
		v.Set("q", l.Words[q.rng.IntN(len(l.Words))])
	case "two words":
		l := letter()
		v.Set("q", l.Words[q.rng.IntN(len(l.Words))]+" "+l.Words[q.rng.IntN(len(l.Words))])
	case "phrase":
		l := letter()
		if p := lettergen.Phrase(q.rng, l.Body); p != "" {
			v.Set("q", `"`+p+`"`)
		} else {
			v.Set("q", l.Words[0])
		}
	case "word+since":
		v.Set("q", vocab[q.rng.IntN(len(vocab))])
		v.Set("since", q.since)
	}
	return v
}

// lookup returns a random reference of the prepared register.
func (q *sdQueries) lookup() string {
	y := q.years[q.rng.IntN(len(q.years))]
	return ticket.Reference{Prefix: sdPrefix, Year: y, Number: 1 + q.rng.Uint64N(q.d.Years[y])}.String()
}

// sdLetter is drained letter i: a generated letter from citizen c(i%10),
// UTF-8, 8bit, CRLF, that ends with runWord.
func sdLetter(gen *lettergen.Gen, i int, runWord string) []byte {
	now := time.Now()
	l := gen.Letter(uint64(i), now)
	from := fmt.Sprintf("c%02d@example.test", i%10)
	body := strings.ReplaceAll(l.Body+"Vorgangskennung "+runWord+"\n", "\n", "\r\n")
	return []byte(fmt.Sprintf("Return-Path: <%s>\r\nFrom: %s <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <sd-drain-%d@example.test>\r\n"+
		"Date: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s",
		from, mime.QEncoding.Encode("utf-8", l.FirstName+" "+l.LastName), from, mailrig.LoadOffice,
		mime.QEncoding.Encode("utf-8", l.Subject), i, now.Format(time.RFC1123Z), body))
}

// sdToken creates an admin user (once) and a new API token for it in the
// register of data.
func sdToken(data string) (string, error) {
	store, err := ticket.Open(data, ticket.Options{})
	if err != nil {
		return "", fmt.Errorf("open register: %w", err)
	}
	defer store.Close()
	hash, err := ticket.HashPassword("searchdrain-password", ticket.DefaultArgon2())
	if err != nil {
		return "", err
	}
	if err := store.AddUser(ticket.User{Name: "searchdrain", Role: ticket.RoleAdmin}, hash, time.Now()); err != nil && !errors.Is(err, ticket.ErrExists) {
		return "", fmt.Errorf("add user: %w", err)
	}
	token, _, err := store.CreateToken("searchdrain", "searchdrain", time.Now())
	if err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	return token, nil
}

// sdLastSeq returns the highest message Seq of the register of data.
func sdLastSeq(data string) (uint64, error) {
	store, err := ticket.Open(data, ticket.Options{})
	if err != nil {
		return 0, fmt.Errorf("open register: %w", err)
	}
	defer store.Close()
	return store.LastSeq()
}

// freePort returns a free TCP address on 127.0.0.1.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// clerkCounters sums two counters of process pid's threads at a nice value below 0, the
// raised threads of clerks' connections (web/priority.go), since each was created: the
// major page faults (proc(5): majflt of stat) and the voluntary context switches
// (voluntary_ctxt_switches of status): each time the thread slept, in ppoll(2) for the
// clerk's next request, or in futex(2) while the Go runtime handed its goroutine to
// another thread and back. A thread that ended meanwhile is left out. Since a
// connection's goroutine may go on on another thread after an answer, a thread raised
// during the run also brings the sleeps of its time before: the count is an upper bound.
func clerkCounters(pid int) (faults, switches int64, err error) {
	nices, err := worknice.Threads(pid)
	if err != nil {
		return 0, 0, fmt.Errorf("read the clerks' threads: %w", err)
	}
	for tid, nice := range nices {
		if nice >= 0 {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
		if err != nil {
			continue // ended meanwhile
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
		if err != nil {
			continue
		}
		n, err := parseMajorFaults(string(stat))
		if err != nil {
			return 0, 0, err
		}
		v, err := parseVoluntarySwitches(string(status))
		if err != nil {
			return 0, 0, err
		}
		faults, switches = faults+n, switches+v
	}
	return faults, switches, nil
}

// parseVoluntarySwitches reads voluntary_ctxt_switches from a thread's status (proc(5)).
func parseVoluntarySwitches(status string) (int64, error) {
	v, err := statusField(status, "voluntary_ctxt_switches")
	if err != nil {
		return 0, fmt.Errorf("read voluntary context switches: %w", err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read voluntary context switches: %w", err)
	}
	return n, nil
}

// sdStaticPath is what "-only static" asks for in the lookups' place: a file of the web
// interface, which intake answers without its register, its index or the gate that lets the
// mail work step aside, on the same raised connection.
const sdStaticPath = "/static/style.css"

// sdClient sends the query loop's requests.
type sdClient struct {
	http  *http.Client
	base  string
	token string
	// conns counts the connections the client opened: a clerk's browser keeps one
	// open, and each new one costs a handshake and a first request at work_nice.
	conns atomic.Int64
}

// total sends a search and returns its total.
func (c *sdClient) total(ctx context.Context, v url.Values) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/api/cases?"+v.Encode(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("search: %s", resp.Status)
	}
	var out struct {
		Total int `json:"total"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out.Total, err
}

// sdRunWord is a word no letter but the drained ones of this run contain:
// "sdlauf" and the time in letters.
func sdRunWord(t time.Time) string {
	w := []byte("sdlauf")
	for n := t.Unix(); n > 0; n /= 26 {
		w = append(w, byte('a'+n%26))
	}
	return string(w)
}

// get sends GET path?v and reports whether it answered 200 (and, for a
// search, whether the full-text index answered it).
func (c *sdClient) get(ctx context.Context, path string, v url.Values, search bool, server, wake *time.Duration) (bool, error) {
	u := c.base + path
	if v != nil {
		u += "?" + v.Encode()
	}
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			c.conns.Add(1)
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "GET", u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	*server, *wake = serverTimes(resp.Header.Get("Server-Timing"))
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return false, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	if !search {
		_, err := io.Copy(io.Discard, resp.Body)
		return err == nil, err
	}
	var out struct {
		FullText   bool `json:"full_text"`
		CheckDigit bool `json:"check_digit_wrong"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return false, err
	}
	switch {
	case out.CheckDigit:
		return false, errors.New("not searched: q read as a reference with a wrong check digit")
	case !out.FullText:
		return false, errors.New("answered without the full-text index")
	}
	return true, nil
}

// queryLoop sends, one at a time until ctx ends, a full-text search and a
// lookup by reference in turn, and returns the samples, timed from t0. It
// waits for the API to answer first; requests before that are not samples.
//
// With pause > 0 requests are that far apart, so that intake's thread for the connection
// sleeps between them and every request wakes it. second marks the second clerk
// (-paused-clerk): its lookups' class is "paused lookup".
func queryLoop(ctx context.Context, c *sdClient, q *sdQueries, only string, pause time.Duration, second bool, t0 time.Time, up chan<- time.Duration) []sdSample {
	var out []sdSample
	isUp := false
	for i := 0; ctx.Err() == nil; i++ {
		if pause > 0 && isUp {
			select {
			case <-ctx.Done():
				return out
			case <-time.After(pause):
			}
		}
		s := sdSample{fullText: only == "fulltext" || only == "" && i%2 == 0}
		// The request is made before the clock starts.
		path, v := "/api/cases", url.Values(nil)
		if s.fullText {
			s.class = sdClasses[(i/2)%len(sdClasses)]
			v = q.search(s.class)
		} else {
			s.class = "lookup"
			if second {
				s.class = sdPausedLookup
			}
			if only == "static" && isUp {
				path = sdStaticPath
			} else {
				path += "/" + q.lookup()
			}
		}
		start := time.Now()
		ok, err := c.get(ctx, path, v, s.fullText, &s.server, &s.wake)
		s.took, s.start = time.Since(start), start.Sub(t0)
		if !isUp {
			if err != nil || !ok {
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond): // the daemon is starting
				}
				i--
				continue
			}
			isUp = true
			if up != nil {
				up <- s.start
			}
			if only == "static" {
				// Until then "static" asks for lookups, so that its connection proves a
				// user and is raised (web.raiseClerk); its files follow on it, and the
				// lookup is no sample of theirs.
				continue
			}
		}
		if ctx.Err() != nil {
			break // cut short by the end of the run: not a sample
		}
		s.failed = err != nil || !ok
		if err != nil {
			s.err = err.Error()
		}
		out = append(out, s)
	}
	return out
}

// sdRun starts a fresh rig, appends the backlog, runs "intake serve" on the
// prepared data dir and measures, with the query loop running throughout.
func sdRun(ctx context.Context, p sdParams, d sdData, logw io.Writer) (rep sdReport, err error) {
	say := func(f string, a ...any) { fmt.Fprintf(logw, "searchdrain: "+f+"\n", a...) }
	rep = sdReport{Date: time.Now().UTC().Format("2006-01-02"), CPUs: runtime.NumCPU(), Cases: d.Cases, Mails: p.n}
	data := filepath.Join(p.dir, "data")
	rig, err := mailrig.Start(ctx, mailrig.Options{Users: mailrig.LoadUsers()})
	if err != nil {
		return rep, fmt.Errorf("start rig: %w", err)
	}
	defer rig.Close()
	work, err := os.MkdirTemp("", "intake-bench-searchdrain-run-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(work)

	// The backlog.
	say("appending %d letters", p.n)
	c, err := rig.Dial(mailrig.LoadOffice)
	if err != nil {
		return rep, err
	}
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		return rep, fmt.Errorf("select INBOX: %w", err)
	}
	gen := lettergen.New(d.Seed + 1)
	runWord := sdRunWord(time.Now())
	for i := range p.n {
		raw := sdLetter(gen, i, runWord)
		if p.bigEvery > 0 && i%p.bigEvery == p.bigEvery-1 {
			raw = mailrig.BigLoadMail(i, p.bigSize)
			rep.Big++
		}
		if err := mailrig.AppendSelected(c, raw); err != nil {
			return rep, fmt.Errorf("append %d: %w", i, err)
		}
	}
	c.Close()

	// The daemon's configuration: the rig's, on the prepared data dir,
	// with the web interface and its JSON API on loopback.
	token, err := sdToken(data)
	if err != nil {
		return rep, err
	}
	if rep.CasesAtRun, err = sdLastSeq(data); err != nil {
		return rep, err
	}
	addr, err := freePort()
	if err != nil {
		return rep, err
	}
	text := rig.IntakeConfig(data, mailrig.LoadOffice, "per_sender_limit = 0\nper_domain_limit = 0\nhourly_cap = 100000000")
	text = strings.Replace(text, `level = "debug"`, `level = "warn"`, 1)
	text += webTable(addr)
	if p.requestNice != "" {
		text += "request_nice = " + p.requestNice + "\n"
	}
	if p.workNice != "" {
		text = "work_nice = " + p.workNice + "\n" + text // a top-level key: before the first table
	}
	if p.keepInMemory != "" {
		text = "keep_register_in_memory = " + p.keepInMemory + "\n" + text
	}
	rep.KeepInMemory = p.keepInMemory
	rep.RequestNice, rep.WorkNice, rep.Pause, rep.ClerkPause, rep.Only = p.requestNice, p.workNice, p.pause, p.clerkPause, p.only
	cfgPath := filepath.Join(work, "intake.toml")
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		return rep, err
	}

	// The drain, with the query loop running from the start.
	cmd := exec.Command(p.exe, "serve", "-config", cfgPath)
	logFile, err := os.Create(filepath.Join(work, "daemon.log"))
	if err != nil {
		return rep, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	t0, t0Mono := time.Now(), monotonicNow()
	rep.Start = t0
	if err := cmd.Start(); err != nil {
		return rep, fmt.Errorf("start intake: %w", err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if err != nil {
			if b, rerr := os.ReadFile(logFile.Name()); rerr == nil {
				say("daemon log (last 4 KB):\n%s", b[max(0, len(b)-4096):])
			}
		}
	}()
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	// The clerks: each in a process of its own, or (-clerk-in-bench) on a goroutine of
	// the bench; either way each gives a clerkResult.
	base := "http://" + addr
	jobs := []clerkJob{{Base: base, Token: token, Data: d, Only: p.only, Pause: p.clerkPause, Seed: [2]uint64{42, 12}, T0: t0Mono}}
	if p.pause > 0 {
		// Other cases than the first clerk's.
		jobs = append(jobs, clerkJob{Base: base, Token: token, Data: d, Only: "lookup", Pause: p.pause, Second: true, Seed: [2]uint64{43, 13}, T0: t0Mono})
	}
	rep.ClerkInBench = p.clerkInBench
	results := make([]clerkResult, len(jobs))
	var wg sync.WaitGroup
	var clerks []*clerkProcess // the clerks' processes, in the order of jobs
	defer func() {
		for _, c := range clerks {
			c.end()
		}
		for _, c := range clerks {
			c.wait()
		}
	}()
	for i, job := range jobs {
		if p.clerkInBench {
			wg.Go(func() { results[i] = runClerk(loopCtx, job, t0) })
			continue
		}
		c, err := startClerkProcess(job, logw)
		if err != nil {
			return rep, err
		}
		clerks = append(clerks, c)
	}
	finish := func() error {
		stopLoop()
		wg.Wait()
		for _, c := range clerks {
			c.end()
		}
		for i, c := range clerks {
			res, err := c.wait()
			if err != nil {
				clerks = clerks[i+1:] // the deferred wait collects the others
				return err
			}
			results[i] = res
		}
		clerks = nil
		return nil
	}

	sock := intake.SocketPath(data)
	var api *intake.LocalClient
	deadline := time.Now().Add(30 * time.Minute)
	for rep.Registered == 0 || rep.LastAck == 0 {
		if time.Now().After(deadline) {
			finish()
			return rep, errors.New("drain did not finish within 30 minutes")
		}
		time.Sleep(10 * time.Millisecond) // polling interval: the resolution of the phases
		if api == nil {
			if api, err = intake.DialLocal(sock); err != nil {
				api = nil
				continue
			}
		}
		st, serr := api.Status()
		if serr != nil || len(st) == 0 {
			continue
		}
		if rep.Registered == 0 && st[0].Registered >= p.n {
			rep.Registered = time.Since(t0)
		}
		if rep.LastAck == 0 && st[0].AcksSent >= p.n {
			rep.LastAck = time.Since(t0)
		}
	}
	if rep.CPUAtAck, err = procCPU(cmd.Process.Pid); err != nil {
		finish()
		return rep, err
	}
	if rep.ThreadNice, err = threadNices(cmd.Process.Pid); err != nil {
		finish()
		return rep, err
	}
	if rep.ClerkFaults, rep.ClerkSwitches, err = clerkCounters(cmd.Process.Pid); err != nil {
		finish()
		return rep, err
	}
	if rep.Locked, err = procStatusBytes(cmd.Process.Pid, "VmLck"); err != nil {
		finish()
		return rep, err
	}
	if fi, err := os.Stat(filepath.Join(data, "intake.db")); err == nil {
		rep.RegisterBytes = fi.Size()
	}
	say("drain: %d registered after %v, last ack after %v", p.n, rep.Registered.Round(time.Millisecond), rep.LastAck.Round(time.Millisecond))
	// The index catches up after the drain: wait until a search for the
	// word every drained letter carries finds all of them (at most 10
	// minutes; the query loop keeps intake busy, so its CPU cannot tell).
	poll := &sdClient{http: &http.Client{Timeout: time.Minute}, base: "http://" + addr, token: token}
	for {
		got, terr := poll.total(ctx, url.Values{"q": {runWord}, "sort": {"relevance"}, "limit": {"1"}})
		if terr == nil && got >= p.n-rep.Big {
			break
		}
		if time.Since(t0) > rep.LastAck+10*time.Minute {
			finish()
			return rep, fmt.Errorf("the index did not catch up within 10 minutes (%d of %d letters found: %v)", got, p.n-rep.Big, terr)
		}
		time.Sleep(250 * time.Millisecond) // polling interval: the resolution of the catch-up phase
	}
	rep.Idle = time.Since(t0)
	if rep.CPUAtIdle, err = procCPU(cmd.Process.Pid); err != nil {
		finish()
		return rep, err
	}
	say("index caught up after %v; measuring %v more", rep.Idle.Round(time.Millisecond), p.idle)
	time.Sleep(p.idle) // the idle phase: queries go on
	end := time.Since(t0)
	if err := finish(); err != nil {
		return rep, err
	}
	var samples []sdSample
	for _, res := range results {
		for _, s := range res.Samples {
			samples = append(samples, s.sample())
		}
	}
	rep.ClerkConns, rep.APIUp = results[0].Conns, results[0].Up
	if rep.CPUAtEnd, err = procCPU(cmd.Process.Pid); err != nil {
		return rep, err
	}
	if rep.APIUp == 0 {
		return rep, errors.New("the JSON API never answered")
	}
	rep.Phases = []sdPhase{
		phaseOf("drain", 0, rep.LastAck, samples),
		phaseOf("registration", 0, rep.Registered, samples),
		phaseOf("acks after registration", rep.Registered, rep.LastAck, samples),
		phaseOf("index catch-up", rep.LastAck, rep.Idle, samples),
		phaseOf("idle", rep.Idle, end, samples),
	}
	// The warning web logs when the kernel refuses web.request_nice (web/priority.go).
	if log, err := os.ReadFile(filepath.Join(work, "daemon.log")); err == nil {
		rep.NiceRefused = strings.Contains(string(log), web.RequestNiceRefused)
	}
	return rep, nil
}

func formatSD(rep sdReport) string {
	var b strings.Builder
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	st := func(s latStats) string {
		return fmt.Sprintf("%5d %s/%s/%s/%s", s.N, ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max))
	}
	fmt.Fprintf(&b, "intake-bench searchdrain, %s, %d CPUs\n", rep.Date, rep.CPUs)
	fmt.Fprintf(&b, "register:   %d prepared cases, %d messages when the daemon started; drained %d letters (%d of them large)\n",
		rep.Cases, rep.CasesAtRun, rep.Mails, rep.Big)
	fmt.Fprintf(&b, "daemon:     API answers after %v; all registered after %v; last ack accepted after %v; idle (index caught up) after %v\n",
		rep.APIUp.Round(time.Millisecond), rep.Registered.Round(time.Millisecond), rep.LastAck.Round(time.Millisecond), rep.Idle.Round(time.Millisecond))
	where := "asks from a process in a session of its own"
	if rep.ClerkInBench {
		where = "asks from the bench's process (-clerk-in-bench)"
	}
	fmt.Fprintf(&b, "clerk:      %s; opened %d connection(s)", where, rep.ClerkConns)
	if rep.ClerkPause > 0 {
		fmt.Fprintf(&b, "; pauses %v between two requests", rep.ClerkPause)
	}
	b.WriteString("\n")
	nice := rep.RequestNice
	if nice == "" {
		nice = "intake's default"
	}
	if rep.NiceRefused {
		nice += ", refused by the kernel: clerks' requests ran at the normal priority"
	}
	work := rep.WorkNice
	if work == "" {
		work = "intake's default"
	}
	fmt.Fprintf(&b, "web.request_nice: %s; work_nice: %s; threads at the last ack by nice value: %s\n", nice, work, formatNices(rep.ThreadNice))
	if d := rep.Phases[0]; d.Lookup.N+d.FullText.N+d.PausedLookup.N > 0 {
		n := float64(d.Lookup.N + d.FullText.N + d.PausedLookup.N)
		fmt.Fprintf(&b, "clerks' raised threads by the last ack: %d major page faults (%.2f per request of the drain phase), %d voluntary context switches (%.2f per request)\n",
			rep.ClerkFaults, float64(rep.ClerkFaults)/n, rep.ClerkSwitches, float64(rep.ClerkSwitches)/n)
	}
	keep := rep.KeepInMemory
	if keep == "" {
		keep = "intake's default"
	}
	fmt.Fprintf(&b, "keep_register_in_memory: %s; locked at the last ack: %.0f MB of a %.0f MB register\n", keep, float64(rep.Locked)/1e6, float64(rep.RegisterBytes)/1e6)
	fmt.Fprintf(&b, "intake CPU: %v at the last ack, %v when idle, %v at the end\n",
		rep.CPUAtAck.Round(10*time.Millisecond), rep.CPUAtIdle.Round(10*time.Millisecond), rep.CPUAtEnd.Round(10*time.Millisecond))
	lookups := "GET /api/cases/REF n p50/p95/p99/max ms"
	if rep.Only == "static" {
		lookups = "GET " + sdStaticPath + " n p50/p95/p99/max"
	}
	fmt.Fprintf(&b, "%-24s %9s | %-36s | %-36s | %s\n", "phase (from daemon start)", "span s", "full-text n p50/p95/p99/max ms", lookups, "failed")
	for _, p := range rep.Phases {
		fmt.Fprintf(&b, "%-24s %4.0f–%-4.0f | %-36s | %-36s | %d\n", p.Name, p.From.Seconds(), p.To.Seconds(), st(p.FullText), st(p.Lookup), p.Failed)
	}
	fmt.Fprintf(&b, "the same requests, time in intake itself (Server-Timing: request in the handler → answer's header):\n")
	for _, p := range rep.Phases {
		fmt.Fprintf(&b, "%-24s %9s | %-36s | %-36s |\n", p.Name, "", st(p.FullTextServer), st(p.LookupServer))
	}
	fmt.Fprintf(&b, "lookups that intake's raised thread saw arrive, from then to the handler (Server-Timing wake; clerk, paused clerk):\n")
	for _, p := range rep.Phases {
		fmt.Fprintf(&b, "%-24s %9s | %-36s | %-36s |\n", p.Name, "", st(p.LookupWake), st(p.PausedLookupWake))
	}
	if rep.Phases[0].PausedLookup.N > 0 {
		fmt.Fprintf(&b, "the clerk who pauses %v between lookups (own connection), at the client and in intake:\n", rep.Pause)
		for _, p := range rep.Phases {
			fmt.Fprintf(&b, "%-24s %9s | %-36s | %-36s |\n", p.Name, "", st(p.PausedLookup), st(p.PausedLookupServer))
		}
	}
	for _, p := range rep.Phases[:1] {
		for e, n := range p.Errors {
			fmt.Fprintf(&b, "failed in the drain: %d× %s\n", n, e)
		}
	}
	fmt.Fprintf(&b, "full text by class (p50/p95/p99/max ms):\n")
	for _, p := range rep.Phases {
		if p.Name != "drain" && p.Name != "idle" {
			continue
		}
		for _, c := range sdClasses {
			s := p.ByClass[c]
			fmt.Fprintf(&b, "  %-6s %-18s n=%4d %s/%s/%s/%s\n", p.Name, c, s.N, ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max))
		}
	}
	return b.String()
}

// serverTimes reads intake's "Server-Timing: app;dur=<ms>[, wake;dur=<ms>]" (web/auth.go):
// the time in the handler and, on a raised connection, from the request's arrival to the
// handler; 0 for what is absent.
func serverTimes(h string) (app, wake time.Duration) {
	for _, m := range strings.Split(h, ",") {
		name, dur, ok := strings.Cut(strings.TrimSpace(m), ";dur=")
		if !ok {
			continue
		}
		ms, err := strconv.ParseFloat(dur, 64)
		if err != nil {
			continue
		}
		d := time.Duration(ms * float64(time.Millisecond))
		switch name {
		case "app":
			app = d
		case "wake":
			wake = d
		}
	}
	return app, wake
}
