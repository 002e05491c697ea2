package intake

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/intake-office/intake/ticket"
)

// pipeScript is what a pipeServer answers.
type pipeScript struct {
	mail, rcpt, end map[int]string // replies by transaction; missing = the usual positive one
	hangUpAtEnd     int            // at the end of data of this transaction, counted from 1, the server hangs up unanswered; 0 = never
}

// pipeServer is the server end of one SMTP connection that offers PIPELINING and answers
// transaction by transaction (counted by MAIL, from 0) as scripted. It reads the way a
// real server does, through a buffer, so that it can tell what the client had sent
// before it answered.
type pipeServer struct {
	pipeScript
	onEnd func(tx int) // called at each end of data, before the reply

	mu    sync.Mutex
	lines []string // what the client sent, in order ("<data>" for a message's content)
	// aheadAtEnd says, per end of data, whether the next command was already there:
	// sent in the same write as the end of data, not after its reply.
	aheadAtEnd []bool
}

func (s *pipeServer) log(line string) {
	s.mu.Lock()
	s.lines = append(s.lines, line)
	s.mu.Unlock()
}

func (s *pipeServer) read() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func (s *pipeServer) serve(conn net.Conn) {
	defer conn.Close()
	r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
	// Replies are sent when the client has nothing more buffered, as Postfix does
	// (RFC 2920 §3.2 lets the server group them).
	reply := func(line string) {
		w.WriteString(line + "\r\n")
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
	pick := func(m map[int]string, tx int, def string) string {
		if v, ok := m[tx]; ok {
			return v
		}
		return def
	}
	reply("220 pipe ESMTP")
	tx, mailOK, rcptOK := -1, false, false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		if verb != "EHLO" {
			s.log(line)
		}
		switch verb {
		case "EHLO":
			reply("250-pipe\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 DSN")
		case "MAIL":
			tx++
			rep := pick(s.mail, tx, "250 2.1.0 Ok")
			mailOK = strings.HasPrefix(rep, "2")
			reply(rep)
		case "RCPT":
			rep := "503 5.5.1 need MAIL"
			if mailOK {
				rep = pick(s.rcpt, tx, "250 2.1.5 Ok")
			}
			rcptOK = strings.HasPrefix(rep, "2")
			reply(rep)
		case "DATA":
			if !rcptOK {
				reply("554 5.5.1 no valid recipients")
				continue
			}
			reply("354 End data with <CR><LF>.<CR><LF>")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			s.log("<data>")
			s.mu.Lock()
			s.aheadAtEnd = append(s.aheadAtEnd, r.Buffered() > 0)
			s.mu.Unlock()
			if s.onEnd != nil {
				s.onEnd(tx)
			}
			if tx+1 == s.hangUpAtEnd {
				return
			}
			mailOK, rcptOK = false, false
			reply(pick(s.end, tx, "250 2.0.0 Ok: queued as 4711"))
		case "RSET":
			mailOK, rcptOK = false, false
			reply("250 2.0.0 Ok")
		case "QUIT":
			reply("221 2.0.0 Bye")
			w.Flush()
			return
		default:
			reply("502 5.5.2 Error: command not recognized")
		}
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
}

// pipeRig is a responder of an idle daemon with n acknowledgements due, to citizens
// who are verified senders unless unverified says otherwise.
type pipeRig struct {
	r       *responder
	store   *ticket.Store
	dataDir string
	batch   *ticket.AckBatch
	entries []ticket.OutboxEntry
	// register registers the i-th mail of the rig (counted from 0), whose
	// acknowledgement is due at once.
	register func(i int) error
	// beforeCommit, when set, runs after the burst, before send commits its batch;
	// with skipCommit, send leaves the batch as the burst left it.
	beforeCommit func()
	skipCommit   bool
}

func newPipeRig(t *testing.T, n int, unverified bool) *pipeRig {
	t.Helper()
	now := time.Now()
	d := newIdleDaemon(t, "", now)
	m := d.mailboxes[0]
	register := func(i int) error {
		rcpt := fmt.Sprintf("buerger%d@example.org", i)
		msg := ticket.Message{Mailbox: m.cfg.Name, UIDValidity: 1, UID: uint32(i + 1), From: rcpt,
			MessageID: fmt.Sprintf("m%d@example.org", i), Subject: "Antrag", Received: now,
			RawSHA256: fmt.Sprintf("%064x", i+1)}
		if !unverified {
			msg.VerifiedSender = rcpt
		}
		_, err := d.store.Register(ticket.Incoming{Prefix: "TST", Location: time.UTC, AckDomain: "office.test",
			Message: msg, AckRecipient: rcpt, AckEcho: ticket.EchoMinimal})
		return err
	}
	for i := range n {
		if err := register(i); err != nil {
			t.Fatal(err)
		}
	}
	due, err := d.store.DueAcks(m.cfg.Name, now, 0)
	if err != nil || len(due) != n {
		t.Fatalf("DueAcks = %d, %v; want %d", len(due), err, n)
	}
	r := &responder{mb: m, log: slog.New(slog.NewTextHandler(io.Discard, nil)), snap: d.snap.Load(),
		outbox: d.store, cap: d.cap, now: time.Now, tune: d.tune, metrics: d.metrics}
	return &pipeRig{r: r, store: d.store, dataDir: d.currentConfig().DataDir, batch: d.store.NewAckBatch(), entries: due, register: register}
}

// send runs sendPipelined against srv over an in-memory connection and commits the batch.
func (p *pipeRig) send(t *testing.T, ctx context.Context, srv *pipeServer) (batchResult, bool) {
	t.Helper()
	cli, end := net.Pipe()
	served := make(chan struct{})
	go func() { defer close(served); srv.serve(end) }()
	sc, err := gosmtp.NewClient(cli, "pipe")
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Hello("intake.test"); err != nil {
		t.Fatal(err)
	}
	res, keep := p.r.sendPipelined(ctx, p.batch, sc, p.entries)
	cli.Close()
	<-served
	if p.beforeCommit != nil {
		p.beforeCommit()
	}
	if p.skipCommit {
		return res, keep
	}
	if _, err := p.batch.Commit(); err != nil {
		t.Fatal(err)
	}
	return res, keep
}

// acks returns the acknowledgement of each entry as the register has it now.
func (p *pipeRig) acks(t *testing.T) []ticket.Ack {
	t.Helper()
	out := make([]ticket.Ack, len(p.entries))
	for i, e := range p.entries {
		c, err := p.store.Lookup(e.Reference)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = c.Messages[0].Ack
	}
	return out
}

func statuses(acks []ticket.Ack) string {
	var s []string
	for _, a := range acks {
		s = append(s, string(a.Status))
	}
	return strings.Join(s, " ")
}

// commands is what the server read, without the MAIL/RCPT arguments: "M R D <data> ...".
func commands(lines []string) string {
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		switch {
		case l == "<data>":
			out = append(out, "<data>")
		case len(f) > 0:
			out = append(out, strings.ToUpper(f[0][:1]))
		}
	}
	return strings.Join(out, " ")
}

func TestAckPipeline(t *testing.T) {
	sent, pending, failed := string(ticket.AckSent), string(ticket.AckPending), string(ticket.AckFailed)
	tests := []struct {
		name       string
		n          int
		unverified bool             // the citizens are not verified senders
		setup      func(p *pipeRig) // before sending
		stopped    bool             // the responder is stopping before the burst
		stopAtEnd  int              // the responder stops when the server reads this end of data (from 1)
		server     pipeScript
		wantResult batchResult
		wantKeep   bool
		wantAcks   string         // the entries' ack statuses, in order
		wantReply  map[int]string // a part of the recorded reply, by entry
		wantWire   string         // commands (first letter) and messages, in the order the server read them
	}{
		{name: "a burst goes out, each envelope behind the end of data before", n: 3,
			wantResult: batchDone, wantKeep: true, wantAcks: strings.Join([]string{sent, sent, sent}, " "),
			wantWire: "M R D <data> M R D <data> M R D <data>"},
		{name: "recipient refused behind an accepted message: RSET, then on", n: 3,
			server:     pipeScript{rcpt: map[int]string{1: "550 5.1.1 no such user"}},
			wantResult: batchDone, wantKeep: true, wantAcks: strings.Join([]string{sent, failed, sent}, " "),
			wantReply: map[int]string{1: "550"}, wantWire: "M R D <data> M R D R M R D <data>"},
		{name: "sender refused for now behind an accepted message", n: 3,
			server:     pipeScript{mail: map[int]string{1: "451 4.3.0 try later"}},
			wantResult: batchDone, wantKeep: true, wantAcks: strings.Join([]string{sent, pending, sent}, " "),
			wantReply: map[int]string{1: "451"}, wantWire: "M R D <data> M R D R M R D <data>"},
		{name: "message refused: the envelope behind it is a new transaction", n: 3,
			server:     pipeScript{end: map[int]string{0: "554 5.7.1 refused"}},
			wantResult: batchDone, wantKeep: true, wantAcks: strings.Join([]string{failed, sent, sent}, " "),
			wantReply: map[int]string{0: "554"},
			wantWire:  "M R D <data> M R D <data> M R D <data>"},
		{name: "connection lost at an end of data, the next envelope behind it", n: 4,
			server:     pipeScript{hangUpAtEnd: 2},
			wantResult: batchStopped, wantKeep: false, wantAcks: strings.Join([]string{sent, pending, pending, pending}, " "),
			wantWire: "M R D <data> M R D <data>"},
		{name: "connection lost at the first end of data", n: 2,
			server:     pipeScript{hangUpAtEnd: 1},
			wantResult: batchStopped, wantKeep: false, wantAcks: strings.Join([]string{pending, pending}, " "),
			wantWire: "M R D <data>"},
		// The hourly cap counts the ack whose end of data is out and the one whose
		// envelope is out: the third is never started, not even its envelope.
		{name: "hourly cap reached with two acks under way", n: 3,
			setup:      func(p *pipeRig) { p.r.cap.(*ackCap).setLimit(2) },
			wantResult: batchDone, wantKeep: true, wantAcks: strings.Join([]string{sent, sent, pending}, " "),
			wantWire: "M R D <data> M R D <data>"},
		{name: "end of data refused for now", n: 2,
			server:     pipeScript{end: map[int]string{0: "451 4.7.1 try again later"}},
			wantResult: batchDone, wantKeep: true, wantAcks: strings.Join([]string{pending, sent}, " "),
			wantReply: map[int]string{0: "451"}, wantWire: "M R D <data> M R D <data>"},
		// Stopping in the middle: the ack whose envelope is accepted goes out, nothing
		// after it starts, not even an envelope.
		{name: "stopping in the middle of a burst", n: 4, stopAtEnd: 1,
			wantResult: batchStopped, wantKeep: true, wantAcks: strings.Join([]string{sent, sent, pending, pending}, " "),
			wantWire: "M R D <data> M R D <data>"},
		{name: "unverified share used up by the ack under way", n: 2, unverified: true,
			setup: func(p *pipeRig) {
				one := 1
				p.r.mb.cfg.Policy.UnverifiedHourlyCap = &one
			},
			wantResult: batchDone, wantKeep: true, wantAcks: strings.Join([]string{sent, pending}, " "),
			wantReply: map[int]string{1: "unverified_hourly_cap"}, wantWire: "M R D <data>"},
		{name: "stopping: nothing starts", n: 2, stopped: true,
			wantResult: batchStopped, wantKeep: true, wantAcks: strings.Join([]string{pending, pending}, " "),
			wantWire: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPipeRig(t, tt.n, tt.unverified)
			if tt.setup != nil {
				tt.setup(p)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.stopped {
				cancel()
			}
			srv := &pipeServer{pipeScript: tt.server}
			// Invariant 3: when the server reads an end of data, every earlier
			// acknowledgement's result is recorded already.
			var early []string
			srv.onEnd = func(tx int) {
				if tx+1 == tt.stopAtEnd {
					cancel()
				}
				if got := p.batch.Results(); got < tx {
					early = append(early, fmt.Sprintf("end of data %d with %d results recorded", tx, got))
				}
			}
			res, keep := p.send(t, ctx, srv)
			if res != tt.wantResult || keep != tt.wantKeep {
				t.Errorf("sendPipelined = %v, keep %v; want %v, keep %v", res, keep, tt.wantResult, tt.wantKeep)
			}
			acks := p.acks(t)
			if got := statuses(acks); got != tt.wantAcks {
				t.Errorf("acks %s, want %s", got, tt.wantAcks)
			}
			for i, want := range tt.wantReply {
				if !strings.Contains(acks[i].Reply, want) {
					t.Errorf("ack %d: reply %q, want it to contain %q", i, acks[i].Reply, want)
				}
			}
			if got := commands(srv.read()); got != tt.wantWire {
				t.Errorf("server read %s, want %s", got, tt.wantWire)
			}
			for _, e := range early {
				t.Error("window broken: " + e)
			}
			// Every end of data but the last carried the next envelope in its write.
			srv.mu.Lock()
			ahead := srv.aheadAtEnd
			srv.mu.Unlock()
			for i, a := range ahead {
				last := i == len(ahead)-1
				if a == last && tt.wantResult == batchDone && tt.server.rcpt == nil && tt.server.mail == nil {
					t.Errorf("end of data %d: next command already there = %v", i, a)
				}
			}
		})
	}
}

// TestAckPipelineGoesOnAcrossBatches: acknowledgements that become due while a burst is
// sent (a backlog registered as it is answered) go out in that burst, each envelope
// behind the last end of data. Every ackBatch sends the batch is committed, before the
// next ack's mark, and the burst goes on over the same connection. The window holds
// throughout: at each end of data every earlier result is recorded.
func TestAckPipelineGoesOnAcrossBatches(t *testing.T) {
	tests := []struct {
		name   string
		n      int // due before the burst
		begin  int // the entries the burst begins with
		later  int // registered at the burst's first end of data
		server pipeScript
		// wantCommitted is, by end of data (from 0), how many results the register
		// had committed when the server read it; unlisted ones: 0.
		wantCommitted map[int]int
		wantSent      int
	}{
		{name: "registered during the burst", n: 3, begin: 3, later: 4, wantSent: 7},
		{name: "due already but not in the burst's first read", n: 12, begin: 5, wantSent: 12},
		{name: "a batch committed every ackBatch sends", n: 2*ackBatch + 10, begin: 10, wantSent: 2*ackBatch + 10,
			wantCommitted: map[int]int{ackBatch: ackBatch, ackBatch + 1: ackBatch, 2 * ackBatch: 2 * ackBatch, 2*ackBatch + 9: 2 * ackBatch}},
		// The recipient of the ack after a full batch is refused: the one after it
		// is marked in a batch of its own all the same (its end of data, the
		// server's transaction ackBatch+1, finds the first batch committed).
		{name: "a full batch, then an envelope refused", n: ackBatch + 3, begin: ackBatch + 3, wantSent: ackBatch + 2,
			server:        pipeScript{rcpt: map[int]string{ackBatch: "550 5.1.1 no such user"}},
			wantCommitted: map[int]int{ackBatch + 1: ackBatch, ackBatch + 2: ackBatch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPipeRig(t, tt.n, false)
			p.entries = p.entries[:tt.begin]
			srv := &pipeServer{pipeScript: tt.server}
			var problems []string
			var regErr error
			srv.onEnd = func(tx int) {
				if tx == 0 {
					for i := range tt.later {
						regErr = errors.Join(regErr, p.register(tt.n+i))
					}
				}
				committed, err := p.store.AcksSentSince(time.Time{})
				if err != nil {
					regErr = errors.Join(regErr, err)
				}
				if want := tt.wantCommitted[tx]; committed != want && (tx <= ackBatch || tt.wantCommitted[tx] != 0) {
					problems = append(problems, fmt.Sprintf("end of data %d with %d results committed, want %d", tx, committed, want))
				}
				if got := committed + p.batch.Results(); got < tx-len(tt.server.rcpt) {
					problems = append(problems, fmt.Sprintf("window broken: end of data %d with %d results recorded", tx, got))
				}
			}
			res, keep := p.send(t, t.Context(), srv)
			if regErr != nil {
				t.Fatal(regErr)
			}
			if res != batchDone || !keep {
				t.Errorf("sendPipelined = %v, keep %v; want done, keep", res, keep)
			}
			got := commands(srv.read())
			if n := strings.Count(got, "<data>"); n != tt.wantSent {
				t.Errorf("server read %d messages, want %d", n, tt.wantSent)
			}
			if want := strings.TrimSpace(strings.Repeat("M R D <data> ", tt.wantSent)); tt.server.rcpt == nil && got != want {
				t.Errorf("server read %d commands, want each envelope right behind the end of data before: %.80s…", len(strings.Fields(got)), got)
			}
			for _, pr := range problems {
				t.Error(pr)
			}
			if sent, err := p.store.AcksSentSince(time.Time{}); err != nil || sent != tt.wantSent {
				t.Errorf("register has %d acks sent (%v), want %d", sent, err, tt.wantSent)
			}
			if left, err := p.store.DueAcks(p.r.mb.cfg.Name, time.Now(), 0); err != nil || len(left) != 0 {
				t.Errorf("due after the burst: %d (%v), want none", len(left), err)
			}
		})
	}
}

// TestAckPipelineStopsWhenABatchCannotBeCommitted: when the batch that ackBatch sends
// filled cannot be committed, nothing more is sent: the next ack's envelope was
// accepted, but its data never goes out, and the connection, where the server waits for
// that data, is not used again. The batch is kept to be committed before anything more is
// sent; the acks after it stay due, never marked in flight, untried.
func TestAckPipelineStopsWhenABatchCannotBeCommitted(t *testing.T) {
	tests := []struct {
		name string
		// atLastEnd breaks the commit; it runs when the server reads the batch's
		// last end of data.
		atLastEnd func(p *pipeRig) error
		// afterBurst lets the rig read the register again.
		afterBurst func(t *testing.T, p *pipeRig)
		// keepsResults: the commit failed before applying the batch, which keeps its
		// records (else it applied them and failed after).
		keepsResults bool
	}{
		{
			// The batch's journal becomes a directory that is not empty: the commit
			// applies the records, but cannot remove the journal, and fails.
			name: "its journal cannot be removed",
			atLastEnd: func(p *pipeRig) error {
				names, err := filepath.Glob(filepath.Join(p.dataDir, "ackjournal", "*.jsonl"))
				if err == nil && len(names) != 1 {
					err = fmt.Errorf("journals %v, want one", names)
				}
				if err == nil {
					err = os.Remove(names[0])
				}
				if err == nil {
					err = os.MkdirAll(filepath.Join(names[0], "blocked"), 0o700)
				}
				p.beforeCommit = func() {
					if err == nil {
						os.RemoveAll(names[0])
					}
				}
				return err
			},
			afterBurst: func(*testing.T, *pipeRig) {},
		},
		{
			// The register is closed: the commit cannot write it. The next start
			// applies the batch's journal.
			name:      "the register cannot be written",
			atLastEnd: func(p *pipeRig) error { p.skipCommit = true; return p.store.Close() },
			afterBurst: func(t *testing.T, p *pipeRig) {
				reopened, err := ticket.Open(p.dataDir, ticket.Options{NoSync: true})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { reopened.Close() })
				p.store = reopened
			},
			keepsResults: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPipeRig(t, ackBatch+5, false)
			srv := &pipeServer{}
			var setupErr error
			srv.onEnd = func(tx int) {
				if tx == ackBatch-1 {
					setupErr = tt.atLastEnd(p)
				}
			}
			res, keep := p.send(t, t.Context(), srv)
			if setupErr != nil {
				t.Fatal(setupErr)
			}
			if res != batchStopped || keep {
				t.Errorf("sendPipelined = %v, keep %v; want stopped, not kept", res, keep)
			}
			if got := strings.Count(commands(srv.read()), "<data>"); got != ackBatch {
				t.Errorf("server read %d messages, want %d: nothing after the batch that could not be committed", got, ackBatch)
			}
			if p.r.uncommitted != p.batch {
				t.Errorf("uncommitted %p, want the batch %p: it is committed before anything more is sent", p.r.uncommitted, p.batch)
			}
			wantResults := 0
			if tt.keepsResults {
				wantResults = ackBatch
			}
			if got := p.batch.Results(); got != wantResults {
				t.Errorf("the batch holds %d results, want %d", got, wantResults)
			}
			tt.afterBurst(t, p)
			acks := p.acks(t)
			if got := statuses(acks[:ackBatch]); got != strings.TrimSpace(strings.Repeat(string(ticket.AckSent)+" ", ackBatch)) {
				t.Errorf("the batch's acks: %s", got)
			}
			for i, a := range acks[ackBatch:] {
				if a.Status != ticket.AckPending || !a.InFlight.IsZero() || a.MaybeSent || a.Attempts != 0 {
					t.Errorf("ack %d after the batch: %s, in flight %v, maybe sent %v, attempts %d; want pending, never marked, untried",
						ackBatch+i, a.Status, a.InFlight, a.MaybeSent, a.Attempts)
				}
			}
		})
	}
}

// outboxFailingTopUp is the register whose reads for a burst's top-up fail.
type outboxFailingTopUp struct{ *ticket.Store }

func (outboxFailingTopUp) DueAcksExcept(string, time.Time, int, func(uint64) bool) ([]ticket.OutboxEntry, error) {
	return nil, errors.New("read outbox: disk gone")
}

// TestAckPipelineTopUpFailureStopsTheBurst: when the outbox cannot be read for more, the
// burst ends as stopped once the acks under way are recorded; the connection stays good,
// and the acks not taken stay due, untouched.
func TestAckPipelineTopUpFailureStopsTheBurst(t *testing.T) {
	p := newPipeRig(t, 5, false)
	p.entries = p.entries[:3]
	p.r.outbox = outboxFailingTopUp{p.store}
	srv := &pipeServer{}
	res, keep := p.send(t, t.Context(), srv)
	if res != batchStopped || !keep {
		t.Errorf("sendPipelined = %v, keep %v; want stopped, kept", res, keep)
	}
	if got := strings.Count(commands(srv.read()), "<data>"); got != 3 {
		t.Errorf("server read %d messages, want 3", got)
	}
	left, err := p.store.DueAcks(p.r.mb.cfg.Name, time.Now(), 0)
	if err != nil || len(left) != 2 {
		t.Fatalf("due after the burst: %d (%v), want 2", len(left), err)
	}
	for _, e := range left {
		if a := e.Message.Ack; a.Attempts != 0 || !a.InFlight.IsZero() {
			t.Errorf("ack to %s: attempts %d, in flight %v; want untouched", a.Recipient, a.Attempts, a.InFlight)
		}
	}
}
