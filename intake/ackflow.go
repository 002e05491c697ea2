package intake

import (
	"context"
	"sync"
	"time"
)

// Registration paced by the acknowledgements (issue 12). On two cores a backlog's
// registration (fetch, parse, fsync) took the CPU from the responder and from the SMTP
// server behind it: acks ran at a fifth of the registration rate until the backlog was
// registered, and citizens waited for the whole backlog. Like Postfix's in_flow_delay
// ("pause before accepting a new message when the arrival rate exceeds the delivery
// rate"), the watcher now waits after a registration batch while more than
// flowBacklog acknowledgements of its mailbox wait to be sent — but only while the
// responder is sending (not while the SMTP server is down, the hourly cap holds the
// acks or the register cannot record them), for at most flowMaxWait per batch, and
// each recorded round of acks wakes it. A mail is still registered well within the
// time it takes to acknowledge the mails before it; the IMAP server keeps it meanwhile.

const (
	// flowBacklog is how many due acknowledgements may wait before registration
	// waits for them: two batches of sends (ackBatch). A batch's results count as
	// recorded when it is committed, and a pipelined burst goes on as long as acks are
	// due (ackPipeline.topUp): with one batch, registration waited until the commit and
	// the burst ran dry while it fetched and registered the next mails. Toward a server
	// without PIPELINING, whose rounds do not go on, it only lets registration run
	// further ahead.
	flowBacklog = 2 * ackBatch
	// flowMaxWait bounds one wait, so that a slow SMTP server slows registration
	// to at least one batch (batchMails) per flowMaxWait, never more.
	flowMaxWait = time.Second
)

// ackFlow is what the watcher and the responder of one mailbox know of each other.
// The zero value is ready: no backlog, responder not sending.
type ackFlow struct {
	mu      sync.Mutex
	backlog int  // acks registered as due and not yet recorded (an estimate, ≥ 0)
	sending bool // the responder works through the outbox
	// progress is closed (and dropped) when the responder records a round or
	// stops sending: a waiting watcher looks again.
	progress chan struct{}
}

// registered counts n newly registered mails whose acknowledgement is due.
func (f *ackFlow) registered(n int) {
	f.mu.Lock()
	f.backlog += n
	f.mu.Unlock()
}

// recorded counts n acknowledgement results the responder recorded; drained says the
// outbox had nothing due any more, which makes the estimate exact again.
func (f *ackFlow) recorded(n int, drained bool) {
	f.mu.Lock()
	f.backlog = max(f.backlog-n, 0)
	if drained {
		f.backlog = 0
	}
	f.wakeLocked()
	f.mu.Unlock()
}

// setSending says whether the responder is sending; while it is not, registration
// does not wait.
func (f *ackFlow) setSending(on bool) {
	f.mu.Lock()
	if f.sending != on {
		f.sending = on
		f.wakeLocked()
	}
	f.mu.Unlock()
}

// waiting reports whether the responder is sending acks that are due.
func (f *ackFlow) waiting() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sending && f.backlog > 0
}

func (f *ackFlow) wakeLocked() {
	if f.progress != nil {
		close(f.progress)
		f.progress = nil
	}
}

// pace waits while more than limit acks wait and the responder is sending, at most
// maxWait in all, and returns how long it waited.
func (f *ackFlow) pace(ctx context.Context, limit int, maxWait time.Duration) time.Duration {
	f.mu.Lock()
	if f.backlog <= limit || !f.sending {
		f.mu.Unlock()
		return 0 // the common case: no timer
	}
	f.mu.Unlock()
	start := time.Now()
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	for {
		f.mu.Lock()
		if f.backlog <= limit || !f.sending {
			f.mu.Unlock()
			return time.Since(start)
		}
		if f.progress == nil {
			f.progress = make(chan struct{})
		}
		progress := f.progress
		f.mu.Unlock()
		select {
		case <-progress:
			continue
		case <-ctx.Done():
		case <-timer.C:
		}
		return time.Since(start)
	}
}
