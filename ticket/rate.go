package ticket

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// defaultRateWindow is PerSenderWindow and FollowUpWindow when they are 0.
const defaultRateWindow = 24 * time.Hour

func window(d time.Duration) time.Duration {
	if d <= 0 {
		return defaultRateWindow
	}
	return d
}

// rateLimit applies r to the ack for m (to recipient) in case c and returns the suppression
// reason, or "" when the ack may go out. m.Seq is assigned, m is not yet written; followUp
// tells that c existed before m.
func rateLimit(tx *bolt.Tx, r RateRule, c *caseRecord, followUp bool, m *Message, recipient string) (string, error) {
	if followUp {
		if !r.FollowUpAck {
			return ReasonFollowUp, nil
		}
		acked, err := caseAckedSince(tx, c, m, window(r.FollowUpWindow))
		if err != nil || acked {
			return ReasonRate, err
		}
	}
	if r.PerSenderLimit > 0 {
		n := countAcks(tx, senderOf(truncate(recipient, maxAddress)), m.Received, window(r.PerSenderWindow), r.PerSenderLimit)
		if n >= r.PerSenderLimit {
			return ReasonRate, nil
		}
	}
	return "", nil
}

// caseAckedSince reports whether another message of c has an ack that was due and was
// received in (m.Received-w, m.Received]. It reads the messages of the case, newest first.
func caseAckedSince(tx *bolt.Tx, c *caseRecord, m *Message, w time.Duration) (bool, error) {
	for i := len(c.Seqs) - 1; i >= 0; i-- {
		if c.Seqs[i] == m.Seq {
			continue
		}
		other, err := getMessage(tx, c.Seqs[i])
		if err != nil {
			return false, fmt.Errorf("rate of case %s: %w", c.Reference, err)
		}
		if ackCounts(other.Ack) && inWindow(other.Received, m.Received, w) {
			return true, nil
		}
	}
	return false, nil
}

// inWindow reports whether t lies in (end-w, end].
func inWindow(t, end time.Time, w time.Duration) bool {
	return t.After(end.Add(-w)) && !t.After(end)
}

// countAcks counts the ackrate entries of recipient received in (end-w, end], stopping at
// max. The index is sorted by time, so this reads at most max+1 keys.
func countAcks(tx *bolt.Tx, recipient string, end time.Time, w time.Duration, max int) int {
	prefix := ratePrefix(recipient)
	// (end-w, end] as keys: from end-w+1ns up to, not including, end+1ns.
	lo := append(bytes.Clone(prefix), timeKey(clampTime(end.Add(-w).Add(time.Nanosecond)))...)
	hi := append(bytes.Clone(prefix), timeKey(clampTime(end.Add(time.Nanosecond)))...)
	n := 0
	c := bucket(tx, bucketIndex).Cursor()
	for k, _ := c.Seek(lo); k != nil && bytes.Compare(k, hi) < 0 && n < max; k, _ = c.Next() {
		n++
	}
	return n
}
