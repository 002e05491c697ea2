package intake

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/textproto"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/intake-office/intake/ticket"
)

// preparedAck is an acknowledgement that passed the checks before sending (clerks
// first, the hourly cap, the unverified share) and is built: its envelope may go out.
type preparedAck struct {
	e    ticket.OutboxEntry
	sent *ticket.SentText
	// data is the message as the transaction's data, dot-stuffed and ended (frameData).
	data *bytes.Buffer
}

// ackPipeline sends a burst of acknowledgements over one connection to a server that
// offers PIPELINING (RFC 2920). The next acknowledgement's MAIL, RCPT and DATA go out in
// the same write as this one's data and end of data (RFC 2920 §3.1 lets the message
// content start a group), so the server reads both at once and answers them together:
// one write and one wait per acknowledgement, where one command at a time takes four
// round trips. The window (responder.window) still lets only one acknowledgement be
// between its end of data and the record of the reply (invariant 3): the next end of
// data goes out only after that record, which goes to the journal in one write with the
// next acknowledgement's in-flight mark (AckBatch.RecordAndMarkSending). A pipelined
// envelope without its data sends nothing (RFC 5321 §4.1.1.4: the server can accept a
// message only at the end of data).
//
// A burst goes on while acknowledgements become due (topUp), up to burstMax. Every
// ackBatch sends its batch is committed between one acknowledgement's record and the
// next one's mark, while the next envelope is already answered.
type ackPipeline struct {
	r       *responder
	stop    context.Context
	batch   *ticket.AckBatch
	sc      *gosmtp.Client
	env     envelopeWriter
	entries []ticket.OutboxEntry
	next    int // the first entry not yet prepared
	// taken holds the Seq of every entry, so that topUp does not take one twice: an ack
	// stays pending in the register until its batch is committed.
	taken map[uint64]bool
	// marked counts the acknowledgements marked in flight in batch since its last
	// commit; at ackBatch the batch is committed before the next mark (run).
	marked int

	// spare holds the data buffers of acknowledgements written out, for the next
	// ones (at most three are under way); frame writes into one.
	spare []*bytes.Buffer
	frame *bufio.Writer

	answered bool // the server answered something in this burst: it is reachable
}

// sendPipelined sends entries over sc, a connection whose server offers PIPELINING. keep
// reports whether the connection can be used again.
func (r *responder) sendPipelined(stop context.Context, batch *ticket.AckBatch, sc *gosmtp.Client, entries []ticket.OutboxEntry) (res batchResult, keep bool) {
	p := &ackPipeline{r: r, stop: stop, batch: batch, sc: sc, env: newEnvelopeWriter(sc, EnvelopeFrom(r.mb.cfg)), entries: entries,
		taken: make(map[uint64]bool, len(entries))}
	for _, e := range entries {
		p.taken[e.Message.Seq] = true
	}
	p.frame = bufio.NewWriter(nil)
	return p.run()
}

func (p *ackPipeline) run() (batchResult, bool) {
	r, t := p.r, p.sc.Text
	cur, why := p.prepare()
	if cur == nil {
		return why, true
	}
	_ = p.sc.UpdateDeadline(r.tune.SMTPTimeout)
	p.env.write(t.W, cur.e.Message.Ack.Recipient)
	if err := t.W.Flush(); err != nil {
		return p.lost(err, cur)
	}
	// Three acknowledgements are under way at most:
	//   - fly: its end of data is out, the reply not yet read or its result not yet
	//     recorded; its window ends with that record (unlock), or passes on to cur
	//     when the record goes out with cur's mark;
	//   - cur: its envelope is out, the replies not yet read;
	//   - queued: checked and built, nothing of it out yet.
	var fly, queued *preparedAck
	// flyRes is fly's result once its reply is read, recorded with cur's mark in one
	// journal write when cur's envelope was accepted, else alone (recordFly).
	var flyRes ticket.AckResult
	unlock := func() {}
	recordFly := func() bool {
		ok := p.record(fly, flyRes)
		unlock()
		fly, unlock = nil, func() {}
		return ok
	}
	for cur != nil || fly != nil {
		if cur != nil {
			// While the server works: the next acknowledgement, checked with fly and cur
			// counted as sent, and built.
			queued, why = p.prepare(fly, cur)
		}
		if fly != nil {
			// The end of data's reply comes before the replies to the envelope behind it.
			var connErr error
			flyRes, connErr = p.endReply(fly)
			if connErr != nil || cur == nil {
				if !recordFly() {
					return batchStopped, false
				}
				if connErr != nil {
					return p.lost(connErr, cur, queued)
				}
			}
		}
		if cur == nil {
			break
		}
		_ = p.sc.UpdateDeadline(r.tune.SMTPTimeout)
		if err := readEnvelopeReplies(t); err != nil {
			if fly != nil && !recordFly() {
				return batchStopped, false
			}
			if !isReply(err) {
				return p.lost(err, cur, queued)
			}
			// Refused before its data: nothing was sent. The server is out of the
			// transaction; RSET clears what MAIL may have opened (RFC 5321 §4.1.1.5).
			p.answered = true
			if !p.record(cur, p.refused(cur, err)) {
				return batchStopped, false
			}
			if rerr := p.sc.Reset(); rerr != nil {
				return p.lost(rerr, queued)
			}
			if cur, queued = queued, nil; cur == nil {
				return why, true
			}
			_ = p.sc.UpdateDeadline(r.tune.SMTPTimeout)
			p.env.write(t.W, cur.e.Message.Ack.Recipient)
			if err := t.W.Flush(); err != nil {
				return p.lost(err, cur)
			}
			continue
		}
		p.answered = true
		if queued != nil && p.stop.Err() != nil {
			// Stopping: cur's data goes out (its envelope is accepted), nothing new
			// starts. queued stays due, untouched.
			queued, why = nil, batchStopped
		}
		// The server waits for cur's data (354) and can accept it from its end of data
		// on (RFC 5321 §4.1.1.4): mark it in flight first, in the batch's journal, which
		// a kill -9 does not lose. Only with fly recorded does the window let it: fly's
		// result and cur's mark go in one write, and the window passes from fly to cur.
		if p.marked >= ackBatch {
			// The batch is full: fly's result, if one is under way, is its last record,
			// and it is committed before cur's mark starts the next one, so that each
			// batch is durable before the next begins. cur's envelope is accepted
			// already: unlike a new burst, the next batch does not wait for the outbox to
			// be read and an envelope answered.
			if fly != nil && !recordFly() {
				return batchStopped, false
			}
			if !r.commit(p.batch) {
				// Nothing more is sent until the register can be written. The server waits
				// for cur's data, where QUIT would be a line of it: the connection is
				// closed. cur and queued were not marked; they stay due.
				return batchStopped, false
			}
			p.marked = 0
		}
		var again bool
		var err error
		if fly != nil {
			again, err = p.recordAndMark(fly, flyRes, cur)
			fly = nil
		} else {
			r.window.Lock()
			unlock = r.window.Unlock
			again, err = p.batch.MarkSending(&cur.e.Message, r.now())
		}
		if err != nil {
			err = fmt.Errorf("%w: %w", errRegister, err)
			p.record(cur, r.retryLater(cur.e, err.Error()))
			unlock()
			return p.lost(err, queued)
		}
		p.marked++
		if again {
			r.log.Warn("acknowledgement was in flight at a crash: sending it once more with the same Message-ID",
				"case", cur.e.Reference.String(), "seq", cur.e.Message.Seq)
		}
		_ = p.sc.UpdateDeadline(r.tune.SMTPTimeout)
		_, _ = t.W.Write(cur.data.Bytes())
		p.spare = append(p.spare, cur.data)
		if queued != nil {
			p.env.write(t.W, queued.e.Message.Ack.Recipient)
		}
		if err := t.W.Flush(); err != nil {
			// The server may even have accepted cur (go-libs.md pitfall 13); a repeat
			// carries the same Message-ID.
			p.record(cur, r.retryLater(cur.e, err.Error()))
			unlock()
			return p.lost(err, queued)
		}
		fly, cur, queued = cur, queued, nil
	}
	return why, true
}

// prepare returns the next entry that passes the checks before sending, built, or nil
// and why the burst ends there. Entries held back (the unverified share) or that cannot
// be built are recorded on the way. pending are the acknowledgements let through and not
// yet recorded (nil ones skipped), which the hourly cap counts as sent.
func (p *ackPipeline) prepare(pending ...*preparedAck) (*preparedAck, batchResult) {
	r := p.r
	inFlight, unverifiedInFlight := 0, 0
	for _, a := range pending {
		if a == nil {
			continue
		}
		inFlight++
		if !a.e.Message.AckVerified() {
			unverifiedInFlight++
		}
	}
	for {
		if p.next == len(p.entries) {
			more, err := p.topUp()
			if err != nil {
				r.log.Error("read outbox", "err", err)
				return nil, batchStopped // the rest stays due
			}
			if !more {
				return nil, batchDone
			}
		}
		if p.stop.Err() != nil {
			return nil, batchStopped // the rest stays due and goes out after the restart
		}
		// Clerks first: while a clerk's request is answered, the next ack waits
		// (clerkgate). The wait may fall while an end of data's reply is awaited: it
		// delays only that reply's record, not the server.
		r.metrics.stepAside(r.mb.cfg.Name, r.clerks.Wait(p.stop))
		// R3: the daemon-wide hourly cap, checked before every message.
		ok, err := r.cap.allow(inFlight)
		if err != nil {
			r.log.Error("check hourly cap", "err", err)
			return nil, batchStopped
		}
		if !ok && inFlight > 0 {
			// The acks under way may reach the cap: the next round decides, with their
			// results recorded.
			return nil, batchDone
		}
		r.capped.Store(!ok)
		if !ok {
			return nil, batchStopped // held in the outbox until the cap lifts
		}
		e := p.entries[p.next]
		p.next++
		if !e.Message.AckVerified() {
			held, err := r.holdUnverified(p.batch, e, unverifiedInFlight)
			if err != nil {
				r.log.Error("check the unverified share of the hourly cap", "err", err)
				return nil, batchStopped
			}
			if held {
				continue
			}
		}
		a := &preparedAck{e: e}
		msg, sent, err := r.build(e)
		a.sent = sent
		if err == nil {
			err = checkEnvelope(EnvelopeFrom(r.mb.cfg), e.Message.Ack.Recipient)
		}
		if err == nil {
			a.data, err = p.frameData(msg)
		}
		if err != nil {
			// A template or address problem does not go away by retrying.
			res := ticket.AckResult{Status: ticket.AckFailed, Reply: "build: " + err.Error(), At: r.now()}
			if !p.record(a, res) {
				return nil, batchStopped
			}
			continue
		}
		return a, batchDone
	}
}

// topUp adds the acknowledgements that became due since the burst began (a backlog is
// registered while it is answered), up to burstMax in the burst, and reports whether it
// found any; an error reading the outbox ends the burst. When it finds none, prepare
// returns nil and the burst ends with the acks under way: it is not asked again. The
// burst goes on over the same connection, each new envelope behind the last end of
// data, and commits its batch every ackBatch sends (run). Without it, a burst ended with
// the entries it began with, and each end cost a time with nothing in flight: the
// batch's commit, the next read of the outbox, and the next envelope's replies
// (BENCHMARKS.md, issue 12).
func (p *ackPipeline) topUp() (bool, error) {
	room := burstMax - len(p.entries)
	if room <= 0 {
		return false, nil
	}
	more, err := p.r.outbox.DueAcksExcept(p.r.mb.cfg.Name, p.r.now(), min(room, ackBatch), func(seq uint64) bool { return p.taken[seq] })
	if err != nil {
		return false, err
	}
	for _, e := range more {
		p.taken[e.Message.Seq] = true
	}
	p.entries = append(p.entries, more...)
	return len(more) > 0, nil
}

// frameData returns msg as a transaction's data: dot-stuffed, with bare line feeds made
// CRLF, and ended by a line with a single dot (RFC 5321 §4.5.2, §4.1.1.4). It is framed
// before the envelope goes out, so that a message that cannot be written fails alone.
func (p *ackPipeline) frameData(msg *gomail.Msg) (*bytes.Buffer, error) {
	var buf *bytes.Buffer
	if n := len(p.spare); n > 0 {
		buf, p.spare = p.spare[n-1], p.spare[:n-1]
		buf.Reset()
	} else {
		buf = new(bytes.Buffer)
	}
	// A fresh dot writer each time: after a failed write, nothing of it is left in
	// the next message (Reset drops what the buffer held).
	p.frame.Reset(buf)
	w := textproto.NewWriter(p.frame).DotWriter()
	if _, err := msg.WriteTo(w); err != nil {
		p.spare = append(p.spare, buf)
		return nil, err
	}
	if err := w.Close(); err != nil { // writes the final dot and flushes into buf
		p.spare = append(p.spare, buf)
		return nil, err
	}
	return buf, nil
}

// endReply reads the reply to fly's end of data. connErr is set when the connection can
// no longer be used.
func (p *ackPipeline) endReply(fly *preparedAck) (res ticket.AckResult, connErr error) {
	r := p.r
	_ = p.sc.UpdateDeadline(r.tune.SMTPTimeout)
	_, reply, err := p.sc.Text.ReadResponse(250)
	if err == nil {
		p.answered = true
		// RFC 5321 §3.3: the next MAIL may follow a completed transaction without RSET.
		return ticket.AckResult{Status: ticket.AckSent, Reply: "250 " + reply, At: r.now()}, nil
	}
	if isReply(err) {
		// Any reply to the end of data ends the transaction (RFC 5321 §4.1.1.4): the
		// envelope behind it starts a new one.
		p.answered = true
		return p.refused(fly, err), nil
	}
	// A network error or timeout: the server may even have accepted the message
	// (go-libs.md pitfall 13); a repeat carries the same Message-ID.
	return r.retryLater(fly.e, err.Error()), err
}

// refused is the result of a refusal by the server: permanent for 5yz (RFC 5321 §4.2.1),
// tried again later for 4yz.
func (p *ackPipeline) refused(a *preparedAck, err error) ticket.AckResult {
	reply := err.Error()
	var te *textproto.Error
	if errors.As(err, &te) {
		reply = fmt.Sprintf("%d %s", te.Code, te.Msg)
		if te.Code >= 500 {
			return ticket.AckResult{Status: ticket.AckFailed, Reply: reply, At: p.r.now()}
		}
	}
	return p.r.retryLater(a.e, reply)
}

// record puts a's result into the batch and counts and logs it; false when the batch
// cannot take it (the burst must end).
func (p *ackPipeline) record(a *preparedAck, res ticket.AckResult) bool {
	res = a.withSent(res)
	if err := p.batch.Record(&a.e.Message, res); err != nil {
		p.r.log.Error("record acknowledgement", "case", a.e.Reference.String(), "err", err)
		return false
	}
	p.recorded(a, res)
	return true
}

// withSent returns res with what was sent (or tried), stored with the result (issue 11).
func (a *preparedAck) withSent(res ticket.AckResult) ticket.AckResult {
	if res.Sent == nil {
		res.Sent = a.sent
	}
	return res
}

// recorded counts and logs a's result once the batch has it.
func (p *ackPipeline) recorded(a *preparedAck, res ticket.AckResult) {
	if res.Status == ticket.AckSent {
		// The batch has it, and its Commit the register's sent index: the cap's
		// running count too.
		p.r.cap.sent(res.At, !a.e.Message.AckVerified())
	}
	p.r.logResult(a.e, res)
}

// recordAndMark records fly's result res and marks cur in flight with one journal write,
// then counts and logs fly's result as record does. On an error neither is recorded: fly
// stays marked in flight, the one ack a crash or the next round may repeat.
func (p *ackPipeline) recordAndMark(fly *preparedAck, res ticket.AckResult, cur *preparedAck) (again bool, err error) {
	res = fly.withSent(res)
	if again, err = p.batch.RecordAndMarkSending(&fly.e.Message, res, &cur.e.Message, p.r.now()); err != nil {
		p.r.log.Error("record acknowledgement", "case", fly.e.Reference.String(), "err", err)
		return false, err
	}
	p.recorded(fly, res)
	return again, nil
}

// lost ends the burst on a connection that can no longer be used: the acknowledgements
// prepared but not in flight (pending; nil ones skipped) and the entries not yet prepared
// are rescheduled. Before any answer of the server this is an outage.
func (p *ackPipeline) lost(err error, pending ...*preparedAck) (batchResult, bool) {
	var rest []ticket.OutboxEntry
	for _, a := range pending {
		if a != nil {
			rest = append(rest, a.e)
		}
	}
	rest = append(rest, p.entries[p.next:]...)
	p.next = len(p.entries)
	p.r.deferAll(p.batch, rest, err)
	if !p.answered {
		return batchUnreachable, false
	}
	return batchStopped, false // it worked for a while: not an outage
}
