package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/internal/worknice"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (proc(5)); it is 100 on every Linux architecture Go supports.
const clockTicks = 100

// ratioRun is what one repetition of "ratio" measures, all on one rig.
type ratioRun struct {
	PostfixAcceptPerSec float64 `json:"postfix_accept_per_s"` // acks accepted on one submission connection
	PostfixAfterPerSec  float64 `json:"postfix_after_per_s"`  // the same again after intake's drain
	// PostfixEndOfDataMs is the mean time from handing over an ack's data to Postfix's 250
	// (go-smtp buffers the ~3.3 kB ack and sends it with the end of data), over both passes
	// of Postfix alone: the part of an ack that intake's one-ack window covers.
	PostfixEndOfDataMs  float64 `json:"postfix_end_of_data_ms"`
	DovecotFetchPerSec  float64 `json:"dovecot_fetch_per_s"`    // BODY.PEEK[] of the backlog in one session
	RegisteredPerSec    float64 `json:"registered_per_s"`       // intake: all mails registered
	EndToEndPerSec      float64 `json:"end_to_end_per_s"`       // intake: last ack accepted by Postfix
	AcksDuringRegPerSec float64 `json:"acks_during_reg_per_s"`  // acks accepted before the last registration
	CPUMsPerMail        float64 `json:"cpu_ms_per_mail"`        // intake's user+system CPU up to the last ack
	CPUKernelMsPerMail  float64 `json:"cpu_kernel_ms_per_mail"` // the system part of it
	CPUMsPerMailIdle    float64 `json:"cpu_ms_per_mail_idle"`   // the same until intake idles (index caught up)
	PeakRSSMB           float64 `json:"peak_rss_mb"`            // VmHWM of the intake process
	// The machine's CPUs, % busy and % busy in the kernel, while Postfix accepted alone
	// and while intake drained (machinecpu.go).
	MachineBusyPostfix   float64 `json:"machine_busy_postfix_pct"`
	MachineKernelPostfix float64 `json:"machine_kernel_postfix_pct"`
	MachineBusyDrain     float64 `json:"machine_busy_drain_pct"`
	MachineKernelDrain   float64 `json:"machine_kernel_drain_pct"`
	EndToEndVsPostfix    float64 `json:"ratio_end_to_end_vs_postfix"`
	// EndToEndVsPostfixAround is the end-to-end rate against the mean of Postfix's rates
	// before and after the drain: the machine's speed drifts within a run.
	EndToEndVsPostfixAround float64 `json:"ratio_end_to_end_vs_postfix_around"`
	RegisteredVsDovecot     float64 `json:"ratio_registered_vs_dovecot"`
	AcksDuringRegVsRegis    float64 `json:"ratio_acks_during_reg_vs_registered"`
}

// ratios fills the ratio fields from the rates.
func (r *ratioRun) ratios() {
	r.EndToEndVsPostfix = ratio(r.EndToEndPerSec, r.PostfixAcceptPerSec)
	if r.PostfixAfterPerSec > 0 {
		r.EndToEndVsPostfixAround = ratio(r.EndToEndPerSec, (r.PostfixAcceptPerSec+r.PostfixAfterPerSec)/2)
	}
	r.RegisteredVsDovecot = ratio(r.RegisteredPerSec, r.DovecotFetchPerSec)
	r.AcksDuringRegVsRegis = ratio(r.AcksDuringRegPerSec, r.RegisteredPerSec)
}

// ratio is a/b, or 0 when b is not positive.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// spread is the minimum, median and maximum of a measure over the runs.
type spread struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// spreadOf returns min, median and max of xs (the median of an even count
// is the mean of the middle two); the zero spread for no values.
func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	med := s[m]
	if len(s)%2 == 0 {
		med = (s[m-1] + s[m]) / 2
	}
	return spread{Min: s[0], Median: med, Max: s[len(s)-1]}
}

// measure is one figure of a ratioRun.
type measure struct {
	name, unit string
	get        func(ratioRun) float64
}

// ratioMeasures names the measures of a ratioRun in report order.
func ratioMeasures() []measure {
	return []measure{
		{"drain end to end / Postfix accept", "ratio", func(r ratioRun) float64 { return r.EndToEndVsPostfix }},
		{"drain end to end / Postfix before and after", "ratio", func(r ratioRun) float64 { return r.EndToEndVsPostfixAround }},
		{"registration / Dovecot fetch", "ratio", func(r ratioRun) float64 { return r.RegisteredVsDovecot }},
		{"acks during registration / registration", "ratio", func(r ratioRun) float64 { return r.AcksDuringRegVsRegis }},
		{"intake CPU per mail", "ms", func(r ratioRun) float64 { return r.CPUMsPerMail }},
		{"intake CPU per mail in the kernel", "ms", func(r ratioRun) float64 { return r.CPUKernelMsPerMail }},
		{"intake CPU per mail, until idle", "ms", func(r ratioRun) float64 { return r.CPUMsPerMailIdle }},
		{"intake peak RSS", "MB", func(r ratioRun) float64 { return r.PeakRSSMB }},
		{"machine CPU busy, Postfix alone", "%", func(r ratioRun) float64 { return r.MachineBusyPostfix }},
		{"machine CPU in the kernel, Postfix alone", "%", func(r ratioRun) float64 { return r.MachineKernelPostfix }},
		{"machine CPU busy, intake's drain", "%", func(r ratioRun) float64 { return r.MachineBusyDrain }},
		{"machine CPU in the kernel, intake's drain", "%", func(r ratioRun) float64 { return r.MachineKernelDrain }},
		{"Postfix accept, one connection", "msgs/s", func(r ratioRun) float64 { return r.PostfixAcceptPerSec }},
		{"Postfix accept after intake's drain", "msgs/s", func(r ratioRun) float64 { return r.PostfixAfterPerSec }},
		{"Postfix end of data to 250, alone", "ms", func(r ratioRun) float64 { return r.PostfixEndOfDataMs }},
		{"Dovecot fetch, one session", "mails/s", func(r ratioRun) float64 { return r.DovecotFetchPerSec }},
		{"intake registration", "mails/s", func(r ratioRun) float64 { return r.RegisteredPerSec }},
		{"intake end to end", "mails/s", func(r ratioRun) float64 { return r.EndToEndPerSec }},
		{"intake acks during registration", "acks/s", func(r ratioRun) float64 { return r.AcksDuringRegPerSec }},
	}
}

// ratioReport is the -json output.
type ratioReport struct {
	Date     string            `json:"date"`
	CPUs     int               `json:"cpus"`
	Mails    int               `json:"mails"`
	Big      int               `json:"big"`
	BigSize  int64             `json:"big_size_bytes"`
	AckSize  int               `json:"ack_size_bytes"`
	Web      bool              `json:"web"`     // -web: the daemon served its web interface
	Discard  bool              `json:"discard"` // -discard: Postfix dropped the acks
	Runs     []ratioRun        `json:"runs"`
	Measures map[string]spread `json:"measures"`
}

func summarize(runs []ratioRun) map[string]spread {
	out := map[string]spread{}
	for _, m := range ratioMeasures() {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = m.get(r)
		}
		out[m.name] = spreadOf(xs)
	}
	return out
}

// cmdRatio measures, on one rig per repetition, Postfix's accept rate,
// Dovecot's fetch rate and intake's drain, and reports intake's rates as
// ratios to those two limits (issue 12): a busy machine slows all three,
// so the ratios move less than the rates.
func cmdRatio(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("intake-bench ratio", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 2000, "mails in the backlog, and acks submitted to Postfix")
	bigEvery := fs.Int("big-every", 20, "every k-th mail is large (0: none)")
	bigSize := fs.String("big-size", "200 KB", "size of a large mail")
	repeat := fs.Int("repeat", 1, "repetitions, each on a fresh rig")
	asJSON := fs.Bool("json", false, "print JSON")
	bin := fs.String("intake", "", "the intake binary to measure (default: built from this module with go build)")
	withWeb := fs.Bool("web", false, "the daemon also serves its web interface on a loopback port, as an office's does (then work_nice lowers its mail work)")
	discard := fs.Bool("discard", false, "citizens write from an outside domain and Postfix drops the acks (a discard transport, as issue 12 measured) instead of delivering them into Dovecot over LMTP")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *n < 1 || *repeat < 1 || *bigEvery < 0 {
		return exitUsage
	}
	size, err := config.ParseByteSize(*bigSize)
	if err != nil {
		fmt.Fprintln(stderr, "intake-bench: -big-size:", err)
		return exitUsage
	}
	// Interrupted, the runs so far still stop their servers and remove their files.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, cleanup, code := prepareIntake(ctx, *bin, stderr)
	defer cleanup()
	if code != exitOK {
		return code
	}
	p := ratioParams{n: *n, bigEvery: *bigEvery, bigSize: int64(size), exe: exe, web: *withWeb, discard: *discard}
	var runs []ratioRun
	// Each run's rig and data directory are removed only when all have run (runRatio).
	var removeLater []func()
	defer func() {
		for _, remove := range removeLater {
			remove()
		}
	}()
	for i := range *repeat {
		fmt.Fprintf(stderr, "ratio: run %d of %d\n", i+1, *repeat)
		r, err := runRatio(ctx, p, stderr, &removeLater)
		if err != nil {
			fmt.Fprintln(stderr, "intake-bench:", err)
			return exitFailure
		}
		runs = append(runs, r)
	}
	rep := ratioReport{
		Date: time.Now().UTC().Format("2006-01-02"), CPUs: runtime.NumCPU(), Mails: p.n, Big: p.bigCount(),
		BigSize: p.bigSize, AckSize: len(p.ack(0)), Web: p.web, Discard: p.discard, Runs: runs, Measures: summarize(runs),
	}
	return printReport(stdout, stderr, *asJSON, rep, func() string { return formatRatio(rep) })
}

func formatRatio(rep ratioReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "intake-bench ratio, %s, %d CPUs, %d mails (%d of %s), acks %d B, %d run(s)\n",
		rep.Date, rep.CPUs, rep.Mails, rep.Big, config.ByteSize(rep.BigSize), rep.AckSize, len(rep.Runs))
	if rep.Web {
		fmt.Fprintf(&b, "the daemon served its web interface (-web; no requests)\n")
	}
	if rep.Discard {
		fmt.Fprintf(&b, "Postfix dropped the acks (-discard)\n")
	} else {
		fmt.Fprintf(&b, "Postfix delivered the acks into Dovecot over LMTP\n")
	}
	fmt.Fprintf(&b, "%-42s %10s %10s %10s  %s\n", "measure", "min", "median", "max", "unit")
	for _, m := range ratioMeasures() {
		s := rep.Measures[m.name]
		f := "%10.1f"
		if m.unit == "ratio" || m.unit == "ms" {
			f = "%10.2f"
		}
		fmt.Fprintf(&b, "%-42s "+f+" "+f+" "+f+"  %s\n", m.name, s.Min, s.Median, s.Max, m.unit)
	}
	return b.String()
}

type ratioParams struct {
	n, bigEvery int
	bigSize     int64
	exe         string
	web         bool // serve the web interface on a loopback port
	// discard: the citizens write from outsideDomain, so that Postfix drops the acks
	// (mailrig.Options.DiscardUnknown), as issue 12 measured; otherwise they write from
	// the rig's domain and Postfix delivers the acks into their mailboxes over LMTP.
	discard bool
}

// outsideDomain is the citizens' domain with -discard: none of the rig's, so Postfix
// drops what goes there (RFC 2606 reserves .example).
const outsideDomain = "buerger.example"

// citizen is the address of citizen i%10, as LoadMail writes from it and acks go to it.
func (p ratioParams) citizen(i int) string {
	if p.discard {
		return fmt.Sprintf("c%02d@%s", i%10, outsideDomain)
	}
	return fmt.Sprintf("c%02d@example.test", i%10)
}

// letter is the i-th mail of the backlog, from p.citizen(i).
func (p ratioParams) letter(i int) []byte {
	raw := mailrig.LoadMail(i, "bench")
	if p.isBig(i) {
		raw = mailrig.BigLoadMail(i, p.bigSize)
	}
	if p.discard {
		// LoadMail writes from c<i%10>@example.test; its Message-ID stays in the rig's domain.
		raw = bytes.ReplaceAll(raw, []byte(fmt.Sprintf("c%02d@example.test", i%10)), []byte(p.citizen(i)))
	}
	return raw
}

func (p ratioParams) isBig(i int) bool { return p.bigEvery > 0 && i%p.bigEvery == p.bigEvery-1 }

func (p ratioParams) bigCount() int {
	c := 0
	for i := range p.n {
		if p.isBig(i) {
			c++
		}
	}
	return c
}

// ack is a German acknowledgement of about 3 kB from the office to
// p.citizen(i), of the size and shape intake's responder sends.
func (p ratioParams) ack(i int) []byte {
	to := p.citizen(i)
	return []byte(fmt.Sprintf("From: Testamt <%s>\r\nTo: <%s>\r\nSubject: =?utf-8?q?Eingangsbest=C3=A4tigung_STK-2026-%d?=\r\n"+
		"Message-ID: <ratio-ack-%d@example.test>\r\nDate: %s\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s",
		mailrig.LoadOffice, to, i, i, time.Now().Format(time.RFC1123Z),
		strings.Repeat("Ihre Nachricht ist bei uns eingegangen und unter dem Aktenzeichen registriert worden. Bitte geben Sie es bei Rückfragen an.\r\n", 24)))
}

// webTable is the daemon's [web] table in the benches: plain HTTP on addr (loopback).
func webTable(addr string) string {
	return fmt.Sprintf("\n[web]\nlisten = %q\ncookie_secure = false\n", addr)
}

// appendWeb adds a [web] table on a free loopback port to the config at path.
func appendWeb(path string) error {
	addr, err := freePort()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, webTable(addr)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runRatio measures one run on a rig of its own, in this order: Dovecot's fetch of the
// backlog, Postfix's accept of n acks, intake's drain of the backlog, Postfix's accept
// again. Its rig's servers are stopped when it returns; the rig's files and intake's
// data directory are removed by the functions it appends to removeLater, which the
// caller runs after the last run, so that one run's cleanup does not slow the next
// (mailrig.Rig.Stop).
func runRatio(ctx context.Context, p ratioParams, logw io.Writer, removeLater *[]func()) (ratioRun, error) {
	say := func(f string, a ...any) { fmt.Fprintf(logw, "ratio: "+f+"\n", a...) }
	var res ratioRun
	rig, err := mailrig.Start(ctx, mailrig.Options{Users: mailrig.LoadUsers(), DiscardUnknown: p.discard})
	if err != nil {
		return res, fmt.Errorf("start rig: %w", err)
	}
	*removeLater = append(*removeLater, func() {
		if err := rig.Close(); err != nil {
			fmt.Fprintln(logw, "intake-bench: remove the rig:", err)
		}
	})
	defer func() {
		if err := rig.Stop(); err != nil {
			fmt.Fprintln(logw, "intake-bench: stop the rig:", err)
		}
	}()
	dir, err := os.MkdirTemp("", "intake-bench-")
	if err != nil {
		return res, err
	}
	*removeLater = append(*removeLater, func() {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintln(logw, "intake-bench: remove the data directory:", err)
		}
	})
	cfgPath, err := writeBenchConfig(rig, dir, "warn")
	if err != nil {
		return res, err
	}
	if p.web {
		if err := appendWeb(cfgPath); err != nil {
			return res, err
		}
	}

	// The backlog.
	say("appending %d mails", p.n)
	c, err := rig.Dial(mailrig.LoadOffice)
	if err != nil {
		return res, err
	}
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		return res, fmt.Errorf("select INBOX: %w", err)
	}
	for i := range p.n {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := mailrig.AppendSelected(c, p.letter(i)); err != nil {
			return res, fmt.Errorf("append %d: %w", i, err)
		}
	}
	c.Close()

	// 1. Dovecot: the same mails, BODY.PEEK[] in one session.
	d, err := dovecotFetch(rig, p.n)
	if err != nil {
		return res, err
	}
	res.DovecotFetchPerSec = float64(p.n) / d.Seconds()
	say("Dovecot fetch: %d mails in %v", p.n, d.Round(time.Millisecond))

	// 2. Postfix: n acks on one submission connection.
	cpu0, err := machineCPU()
	if err != nil {
		return res, err
	}
	d, eod, err := postfixAccept(ctx, rig, p)
	if err != nil {
		return res, err
	}
	cpu1, err := machineCPU()
	if err != nil {
		return res, err
	}
	res.MachineBusyPostfix, res.MachineKernelPostfix = cpu0.shares(cpu1)
	res.PostfixAcceptPerSec = float64(p.n) / d.Seconds()
	say("Postfix accept: %d acks in %v (end of data to 250: %v each); the machine's CPU %.0f %% busy, %.0f %% in the kernel",
		p.n, d.Round(time.Millisecond), (eod / time.Duration(p.n)).Round(time.Microsecond), res.MachineBusyPostfix, res.MachineKernelPostfix)
	// Let Postfix deliver them before the drain starts, so that its
	// queue does not compete with intake.
	if err := waitDelivered(ctx, rig, p, 1); err != nil {
		return res, err
	}

	// 3. intake's drain.
	if err := intakeDrain(ctx, p, cfgPath, dir, &res, say); err != nil {
		return res, err
	}

	// 4. Postfix again, once intake has stopped and its acks are delivered: a shared
	// machine's speed drifts within a run, and the mean of the two measurements
	// around the drain is the fairer limit for it.
	if err := waitDelivered(ctx, rig, p, 2); err != nil {
		return res, err
	}
	d, eodAfter, err := postfixAccept(ctx, rig, p)
	if err != nil {
		return res, err
	}
	res.PostfixAfterPerSec = float64(p.n) / d.Seconds()
	res.PostfixEndOfDataMs = float64(eod+eodAfter) / float64(2*p.n) / float64(time.Millisecond)
	say("Postfix accept after intake's drain: %d acks in %v (end of data to 250: %v each)", p.n, d.Round(time.Millisecond), (eodAfter / time.Duration(p.n)).Round(time.Microsecond))
	res.ratios()
	return res, nil
}

// waitDelivered waits until the citizens' mailboxes c00–c09 hold rounds times n acks
// between them, spread as postfixAccept and intake send n (ack i to c(i%10)); with
// -discard, until Postfix has dropped rounds times n.
func waitDelivered(ctx context.Context, rig *mailrig.Rig, p ratioParams, rounds int) error {
	n := p.n
	if p.discard {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := rig.WaitDiscarded(wctx, rounds*n); err != nil {
			return fmt.Errorf("wait for Postfix to drop the acks: %w", err)
		}
		return nil
	}
	for i := range 10 {
		want := n / 10
		if i < n%10 {
			want++
		}
		want *= rounds
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		err := rig.WaitCount(wctx, fmt.Sprintf("c%02d@example.test", i), "INBOX", want)
		cancel()
		if err != nil {
			return fmt.Errorf("wait for Postfix to deliver the acks: %w", err)
		}
	}
	return nil
}

// dovecotFetch fetches BODY.PEEK[] of all n messages of the office's
// INBOX in one UID FETCH on one session, reading every byte.
func dovecotFetch(rig *mailrig.Rig, n int) (time.Duration, error) {
	c, err := rig.Dial(mailrig.LoadOffice)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return 0, fmt.Errorf("select INBOX: %w", err)
	}
	var all imap.UIDSet
	all.AddRange(1, 0)
	body := &imap.FetchItemBodySection{Peek: true}
	cmd := c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{body}})
	got := 0
	for m := cmd.Next(); m != nil; m = cmd.Next() {
		for item := m.Next(); item != nil; item = m.Next() {
			if bs, ok := item.(imapclient.FetchItemDataBodySection); ok && bs.Literal != nil {
				if _, err := io.Copy(io.Discard, bs.Literal); err != nil {
					return 0, fmt.Errorf("fetch: read body: %w", err)
				}
				got++
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return 0, fmt.Errorf("fetch: %w", err)
	}
	d := time.Since(start)
	if got != n {
		return 0, fmt.Errorf("fetch: %d bodies, want %d", got, n)
	}
	return d, nil
}

// postfixAccept submits p.n acks (p.ack) on one connection to Postfix's
// submission port, with STARTTLS and AUTH PLAIN as the office, as intake's
// responder does, and returns the time from connecting to the last 250
// after DATA, and the sum of the times from handing over each ack's data
// (sent with the end of data: go-smtp buffers it) to its 250.
// They go to the same recipients, by the same path (LMTP into Dovecot, or
// dropped with -discard), as intake's acks in the drain.
func postfixAccept(ctx context.Context, rig *mailrig.Rig, p ratioParams) (took, endOfData time.Duration, err error) {
	acks := make([][]byte, p.n)
	for i := range acks {
		acks[i] = p.ack(i)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	start := time.Now()
	sc, err := rig.DialSMTP(ctx, rig.SubmissionAddr, rig.TLSConfig())
	if err != nil {
		return 0, 0, err
	}
	defer sc.Close()
	if err := sc.Auth(sasl.NewPlainClient("", mailrig.LoadOffice, rig.Users[mailrig.LoadOffice])); err != nil {
		return 0, 0, fmt.Errorf("submission AUTH: %w", err)
	}
	for i, raw := range acks {
		// What go-smtp's SendMail does, with the end of data timed.
		if err := sc.Mail(mailrig.LoadOffice, nil); err != nil {
			return 0, 0, fmt.Errorf("submit ack %d: MAIL: %w", i, err)
		}
		if err := sc.Rcpt(p.citizen(i), nil); err != nil {
			return 0, 0, fmt.Errorf("submit ack %d: RCPT: %w", i, err)
		}
		w, err := sc.Data()
		if err != nil {
			return 0, 0, fmt.Errorf("submit ack %d: DATA: %w", i, err)
		}
		if _, err := w.Write(raw); err != nil {
			return 0, 0, fmt.Errorf("submit ack %d: %w", i, err)
		}
		end := time.Now() // nothing is sent yet: go-smtp buffers the data until Close
		if err := w.Close(); err != nil {
			return 0, 0, fmt.Errorf("submit ack %d: end of data: %w", i, err)
		}
		endOfData += time.Since(end)
	}
	took = time.Since(start)
	if err := sc.Quit(); err != nil {
		return 0, 0, fmt.Errorf("submission QUIT: %w", err)
	}
	return took, endOfData, nil
}

// intakeDrain runs "intake serve" on the backlog until every mail is
// registered and acknowledged, and records the rates, CPU and peak RSS. It stops
// intake and returns when ctx ends.
func intakeDrain(ctx context.Context, p ratioParams, cfgPath, dir string, res *ratioRun, say func(string, ...any)) error {
	cmd := exec.Command(p.exe, "serve", "-config", cfgPath)
	logFile, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cpu0, err := machineCPU()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start intake: %w", err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	sock := intake.SocketPath(filepath.Join(dir, "data"))
	var api *intake.LocalClient
	var regAt, ackAt time.Duration
	acksAtReg := 0
	deadline := time.Now().Add(30 * time.Minute)
	for regAt == 0 || ackAt == 0 {
		if time.Now().After(deadline) {
			return errors.New("drain did not finish within 30 minutes")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(10 * time.Millisecond) // polling interval: the resolution of the rates
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
			acksAtReg = st[0].AcksSent
		}
		if ackAt == 0 && st[0].AcksSent >= p.n {
			ackAt = time.Since(start)
			cpu1, err := machineCPU()
			if err != nil {
				return err
			}
			res.MachineBusyDrain, res.MachineKernelDrain = cpu0.shares(cpu1)
		}
	}
	user, sys, err := procCPUSplit(cmd.Process.Pid)
	if err != nil {
		return err
	}
	cpu := user + sys
	// The full-text index may still be catching up: wait until intake
	// uses less than 10 ms of CPU in half a second (at most 5 minutes).
	idleCPU := cpu
	for range 600 {
		time.Sleep(500 * time.Millisecond)
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := procCPU(cmd.Process.Pid)
		if err != nil {
			return err
		}
		if c-idleCPU < 10*time.Millisecond {
			break
		}
		idleCPU = c
	}
	rss, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		return err
	}
	say("intake: %d registered after %v (%d acks by then), all acknowledged after %v, CPU %v (%v of it in the kernel; %v until idle), peak RSS %.1f MB; the machine's CPU %.0f %% busy, %.0f %% in the kernel",
		p.n, regAt.Round(time.Millisecond), acksAtReg, ackAt.Round(time.Millisecond), cpu, sys, idleCPU, float64(rss)/1e6, res.MachineBusyDrain, res.MachineKernelDrain)
	res.RegisteredPerSec = float64(p.n) / regAt.Seconds()
	res.EndToEndPerSec = float64(p.n) / ackAt.Seconds()
	res.AcksDuringRegPerSec = float64(acksAtReg) / regAt.Seconds()
	res.CPUMsPerMail = float64(cpu.Microseconds()) / 1000 / float64(p.n)
	res.CPUKernelMsPerMail = float64(sys.Microseconds()) / 1000 / float64(p.n)
	res.CPUMsPerMailIdle = float64(idleCPU.Microseconds()) / 1000 / float64(p.n)
	res.PeakRSSMB = float64(rss) / 1e6
	return nil
}

// procCPU reads utime + stime of a live process from /proc/PID/stat
// (fields 14 and 15, proc(5)).
func procCPU(pid int) (time.Duration, error) {
	user, sys, err := procCPUSplit(pid)
	return user + sys, err
}

// procCPUSplit reads utime and stime of a live process: the CPU time it spent
// in its own code and in the kernel on its behalf.
func procCPUSplit(pid int) (user, sys time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read CPU time: %w", err)
	}
	return parseProcStatCPU(string(b))
}

// threadNices counts the threads of a live process by nice value.
func threadNices(pid int) (map[int]int, error) {
	byThread, err := worknice.Threads(pid)
	if err != nil {
		return nil, fmt.Errorf("read the threads' nice values: %w", err)
	}
	out := map[int]int{}
	for _, nice := range byThread {
		out[nice]++
	}
	return out, nil
}

// formatNices prints threadNices' counts as "nice×threads", lowest nice first.
func formatNices(m map[int]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d×%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func parseProcStatCPU(stat string) (user, sys time.Duration, err error) {
	f, err := procStatFields(stat, 15)
	if err != nil {
		return 0, 0, fmt.Errorf("read CPU time: %w", err)
	}
	var ticks [2]int64
	for k, s := range f[11:13] { // fields 14 utime and 15 stime
		if ticks[k], err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("read CPU time: %w", err)
		}
	}
	return time.Duration(ticks[0]) * time.Second / clockTicks, time.Duration(ticks[1]) * time.Second / clockTicks, nil
}

// procStatFields splits a /proc stat line (proc(5)) into its fields from field 3 (state)
// on, so that field k is at index k-3, and checks that it reaches field last. comm (field 2)
// may contain spaces and parentheses: the fields after it start behind the last ')'.
func procStatFields(stat string, last int) ([]string, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, errors.New("malformed /proc stat")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < last-2 {
		return nil, errors.New("short /proc stat")
	}
	return f, nil
}

// parseMajorFaults reads majflt (field 12) of a /proc stat line: the page faults that had
// to read from disk.
func parseMajorFaults(stat string) (int64, error) {
	f, err := procStatFields(stat, 12)
	if err != nil {
		return 0, fmt.Errorf("read major page faults: %w", err)
	}
	n, err := strconv.ParseInt(f[12-3], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read major page faults: %w", err)
	}
	return n, nil
}
