package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/ticket"
)

// The arrival→ack latency is measured in two phases after the drain (issue 12):
//
//   - idle: each mail is APPENDed 50–150 ms after the daemon logged the previous mail's
//     acknowledgement, so it reaches a daemon with nothing to do and Dovecot's push
//     carries it alone. This is the target's "idle latency".
//   - trickle: mails APPENDed every 100–190 ms, faster than Dovecot's 0.5 s notify delay,
//     so a push carries two to five of them and their acks leave one after another
//     (issue 9's one-ack window): the latency of a busy hour, not of an idle daemon.

// idlePause is the pause before the i-th idle mail, after the previous mail's ack:
// 50–150 ms, spread so that the APPEND falls anywhere in the daemon's IDLE.
func idlePause(i int) time.Duration {
	return time.Duration(50+i*37%101) * time.Millisecond
}

// tricklePause is the pause before the i-th trickle mail: 100–190 ms.
func tricklePause(i int) time.Duration {
	return time.Duration(100+i%7*15) * time.Millisecond
}

// appendMails APPENDs count mails numbered from first, each after before(i) returns,
// and returns when each APPEND completed, by Message-ID.
func appendMails(c *imapclient.Client, first, count int, kind string, before func(i int) error) (map[string]time.Time, error) {
	arrived := map[string]time.Time{}
	for i := range count {
		if err := before(i); err != nil {
			return nil, fmt.Errorf("%s mail %d: %w", kind, i, err)
		}
		if err := mailrig.AppendSelected(c, mailrig.LoadMail(first+i, kind)); err != nil {
			return nil, err
		}
		arrived[fmt.Sprintf("bench-%d@example.test", first+i)] = time.Now()
	}
	return arrived, nil
}

// appendIdle APPENDs count mails numbered from first, each idlePause after the daemon
// has logged the acknowledgement of the one before (acked of them in all before the
// first).
func appendIdle(c *imapclient.Client, acks *logCounter, first, count, acked int, deadline time.Time) (map[string]time.Time, error) {
	return appendMails(c, first, count, "idle", func(i int) error {
		if err := acks.waitFor(acked+i, deadline); err != nil {
			return err
		}
		time.Sleep(idlePause(i))
		return nil
	})
}

// appendTrickle APPENDs count mails numbered from first, one every tricklePause.
func appendTrickle(c *imapclient.Client, first, count int) (map[string]time.Time, error) {
	return appendMails(c, first, count, "trickle", func(i int) error {
		time.Sleep(tricklePause(i))
		return nil
	})
}

// sentAt returns, by Message-ID, when the ack of each mail in arrived was accepted, for
// those among cases whose ack is recorded as sent.
func sentAt(cases []ticket.Case, arrived map[string]time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, cs := range cases {
		for _, m := range cs.Messages {
			if _, ok := arrived[m.MessageID]; ok && !m.Ack.SentAt.IsZero() {
				out[m.MessageID] = m.Ack.SentAt
			}
		}
	}
	return out
}

// sentOf counts the mails in arrived whose ack is recorded as sent.
func sentOf(cases []ticket.Case, arrived map[string]time.Time) int {
	return len(sentAt(cases, arrived))
}

// latencySplit is the arrival→ack latency of one phase, each sorted: total runs from
// the APPEND to the ack accepted by Postfix (SentAt); notify from the APPEND to the
// first push after it (Dovecot's delay); own from that push to the ack (intake's share).
type latencySplit struct {
	total, notify, own []time.Duration
}

// splitLatency finds the samples of the mails in arrived among cases, with pushes the
// times of the daemon's "imap push" lines, ascending.
func splitLatency(cases []ticket.Case, arrived map[string]time.Time, pushes []time.Time) (latencySplit, error) {
	var s latencySplit
	for id, sent := range sentAt(cases, arrived) {
		t0 := arrived[id]
		s.total = append(s.total, sent.Sub(t0))
		// The first push after the APPEND (log times are to the millisecond).
		k, _ := slices.BinarySearchFunc(pushes, t0.Truncate(time.Millisecond), func(a, b time.Time) int { return a.Compare(b) })
		if k < len(pushes) && !pushes[k].After(sent) {
			s.notify = append(s.notify, pushes[k].Sub(t0))
			s.own = append(s.own, sent.Sub(pushes[k]))
		}
	}
	if len(s.total) != len(arrived) {
		return s, fmt.Errorf("found %d of %d latency samples", len(s.total), len(arrived))
	}
	if len(s.own) == 0 {
		// A mail that arrives while the watcher is busy is found by its next
		// search, without a push; all of them cannot be.
		return s, errors.New("no push of a latency mail in the daemon's log")
	}
	slices.Sort(s.total)
	slices.Sort(s.notify)
	slices.Sort(s.own)
	return s, nil
}

// report writes the three lines of s; label names the phase, how says how its mails
// were sent.
func (s latencySplit) report(b *strings.Builder, label, how string) {
	fmt.Fprintf(b, "arrival→ack, %s: p50 %v, p99 %v, max %v (%d mails %s, ack accepted by Postfix)\n", label,
		pct(s.total, 50).Round(time.Millisecond), pct(s.total, 99).Round(time.Millisecond), s.total[len(s.total)-1].Round(time.Millisecond), len(s.total), how)
	fmt.Fprintf(b, "  of which Dovecot's push: p50 %v, p99 %v, max %v (APPEND → the watcher's IDLE ends)\n",
		pct(s.notify, 50).Round(time.Millisecond), pct(s.notify, 99).Round(time.Millisecond), s.notify[len(s.notify)-1].Round(time.Millisecond))
	fmt.Fprintf(b, "  intake's own share: p50 %v, p99 %v, max %v (the watcher's IDLE ends → ack accepted; %d of the mails, the others were found without a push)\n",
		pct(s.own, 50).Round(100*time.Microsecond), pct(s.own, 99).Round(100*time.Microsecond), s.own[len(s.own)-1].Round(100*time.Microsecond), len(s.own))
}

// logCounter counts the complete lines of a growing log file that contain marker. It
// reads the file, not the daemon's API: asking the daemon would take its CPU in the
// moment that is measured.
type logCounter struct {
	r       io.Reader
	marker  []byte
	buf     []byte // for Read
	partial []byte // the last line, not yet complete
	n       int
}

func newLogCounter(path, marker string) (*logCounter, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return &logCounter{r: f, marker: []byte(marker)}, func() { f.Close() }, nil
}

// update reads what was appended since the last call and returns the count.
func (lc *logCounter) update() (int, error) {
	if lc.buf == nil {
		lc.buf = make([]byte, 64<<10)
	}
	for {
		k, err := lc.r.Read(lc.buf)
		lc.partial = append(lc.partial, lc.buf[:k]...)
		for {
			i := bytes.IndexByte(lc.partial, '\n')
			if i < 0 {
				break
			}
			if bytes.Contains(lc.partial[:i], lc.marker) {
				lc.n++
			}
			lc.partial = lc.partial[i+1:]
		}
		if err == io.EOF || k == 0 {
			return lc.n, nil
		}
		if err != nil {
			return lc.n, err
		}
	}
}

// waitFor returns once the count has reached n, polling every 2 ms.
func (lc *logCounter) waitFor(n int, deadline time.Time) error {
	for {
		got, err := lc.update()
		if err != nil {
			return fmt.Errorf("read the daemon's log: %w", err)
		}
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d lines %q in the daemon's log", got, n, lc.marker)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
