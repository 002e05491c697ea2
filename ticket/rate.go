package ticket

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// defaultRateWindow is PerSenderWindow and FollowUpWindow when they are 0.
const defaultRateWindow = 24 * time.Hour

// unverifiedWindow is the window of RateRule.UnverifiedHourlyCap.
const unverifiedWindow = time.Hour

func window(d time.Duration) time.Duration {
	if d <= 0 {
		return defaultRateWindow
	}
	return d
}

// rateLimit applies r to the ack for m (to recipient) in case c and returns the suppression
// reason, or "" when the ack may go out. m.Seq is assigned, m is not yet written; followUp
// tells that c existed before m. The most specific limit decides: per case, per address,
// per domain, then the budget of all unverified senders.
func rateLimit(tx *bolt.Tx, r RateRule, c *caseRecord, followUp bool, m *Message, recipient string) (string, error) {
	if followUp {
		if !r.FollowUpAck {
			return ReasonFollowUp, nil
		}
		acked, err := caseAckedSince(tx, c, m, window(r.FollowUpWindow))
		if err != nil || acked {
			return ReasonRateCase, err
		}
	}
	addr := rateAddr(recipient)
	if r.PerSenderLimit > 0 {
		if countKeys(tx, ratePrefix(addr), m.Received, window(r.PerSenderWindow), r.PerSenderLimit) >= r.PerSenderLimit {
			return ReasonRate, nil
		}
	}
	if ackVerified(m.VerifiedSender, recipient) {
		return "", nil
	}
	if r.PerDomainLimit > 0 {
		if countKeys(tx, domainRatePrefix(rateDomain(addr)), m.Received, window(r.PerSenderWindow), r.PerDomainLimit) >= r.PerDomainLimit {
			return ReasonRateDomain, nil
		}
	}
	if r.LimitUnverified {
		if r.UnverifiedHourlyCap <= 0 ||
			countKeys(tx, []byte{tagUnverifiedRate}, m.Received, unverifiedWindow, r.UnverifiedHourlyCap) >= r.UnverifiedHourlyCap {
			return ReasonRateUnverified, nil
		}
	}
	return "", nil
}

// isRateReason reports whether reason is one of the rate limits of RateRule.
func isRateReason(reason string) bool {
	return reason == ReasonRate || reason == ReasonRateCase || reason == ReasonRateDomain || reason == ReasonRateUnverified
}

// rateAddr is the address the rate limits count: lower case as senderOf gives it, and a
// "+detail" removed from the local part (RFC 5233 subaddressing), so that victim+1@ and
// victim+2@, which reach the same mailbox, share one quota. Other provider rules (dots in
// Gmail local parts, "-" as the delimiter) are not applied: they would merge distinct people.
func rateAddr(addr string) string {
	a := senderOf(addr)
	at := strings.LastIndexByte(a, '@')
	if at <= 0 {
		return a
	}
	local, domain := a[:at], a[at:]
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	return local + domain
}

// rateDomain is the domain part of a rateAddr ("" when there is none).
func rateDomain(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return addr[at+1:]
}

// ackVerified reports whether the ack recipient is the sender that a trusted
// authentication result verified (Message.VerifiedSender).
func ackVerified(verifiedSender, recipient string) bool {
	return verifiedSender != "" && recipient != "" && rateAddr(verifiedSender) == rateAddr(recipient)
}

// AckVerified reports whether m's ack goes to the sender that a trusted authentication
// result verified (Message.VerifiedSender), the one whose acks count against the verified
// budget rather than the unverified one.
func (m *Message) AckVerified() bool { return ackVerified(m.VerifiedSender, m.Ack.Recipient) }

// domainRatePrefix: 'd' domain 0.
func domainRatePrefix(domain string) []byte {
	return tagged(tagDomainRate, []byte(domain), nil)
}

// writeRateIndexes writes the rate index entries of a message whose ack was due: ackrate
// (per normalised address), and for an unverified recipient the per-domain entry, the
// entry of the hourly unverified budget and, once sent, the unverified sent entry.
func writeRateIndexes(tx *bolt.Tx, m *Message) error {
	if !ackCounts(m.Ack) {
		return nil
	}
	b := bucket(tx, bucketIndex)
	addr := rateAddr(m.Ack.Recipient)
	keys := [][]byte{rateKey(addr, m.Received, m.Seq)}
	if !ackVerified(m.VerifiedSender, m.Ack.Recipient) {
		keys = append(keys,
			tagged(tagDomainRate, []byte(rateDomain(addr)), timeKey(m.Received), seqKey(m.Seq)),
			tagged(tagUnverifiedRate, timeKey(m.Received), seqKey(m.Seq)))
		if !m.Ack.SentAt.IsZero() {
			keys = append(keys, unverifiedSentKey(m.Ack.SentAt, m.Seq))
		}
	}
	for _, k := range keys {
		if err := b.Put(k, nil); err != nil {
			return fmt.Errorf("rate index: %w", err)
		}
	}
	return nil
}

// deleteRateIndexes removes the ackrate, domain and unverified-budget entries of m (the
// sent entries stay: they count what went out).
func deleteRateIndexes(tx *bolt.Tx, m *Message) error {
	if !ackCounts(m.Ack) {
		return nil
	}
	b := bucket(tx, bucketIndex)
	addr := rateAddr(m.Ack.Recipient)
	for _, k := range [][]byte{
		rateKey(addr, m.Received, m.Seq),
		tagged(tagDomainRate, []byte(rateDomain(addr)), timeKey(m.Received), seqKey(m.Seq)),
		tagged(tagUnverifiedRate, timeKey(m.Received), seqKey(m.Seq)),
	} {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("rate index: %w", err)
		}
	}
	return nil
}

// unverifiedSentKey: 'v' sentat(8) 0 seq(8).
func unverifiedSentKey(sentAt time.Time, seq uint64) []byte {
	return tagged(tagUnverifiedSent, timeKey(clampTime(sentAt)), seqKey(seq))
}

// keyRateIndex marks in the meta bucket which layout the rate indexes have: "2" is the
// normalised address and the unverified indexes of this file.
const (
	keyRateIndex     = "rate_index"
	rateIndexVersion = "2"
)

// rebuildRateIndexes rebuilds the rate indexes from the messages once, when the register
// was written by a version that keyed the ackrate index by the exact address and had no
// domain or unverified entries (messages of that time count as unverified). It runs in
// Open's transaction, like a schema migration.
func rebuildRateIndexes(tx *bolt.Tx) error {
	meta := bucket(tx, bucketMeta)
	if string(meta.Get([]byte(keyRateIndex))) == rateIndexVersion {
		return nil
	}
	idx := bucket(tx, bucketIndex)
	var stale [][]byte
	c := idx.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		switch k[0] {
		case tagAckRate, tagDomainRate, tagUnverifiedRate, tagUnverifiedSent:
			stale = append(stale, bytes.Clone(k))
		}
	}
	for _, k := range stale {
		if err := idx.Delete(k); err != nil {
			return fmt.Errorf("rebuild rate index: %w", err)
		}
	}
	err := bucket(tx, bucketMessages).ForEach(func(k, v []byte) error {
		var m messageRecord
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decode message %x: %w", k, err)
		}
		return writeRateIndexes(tx, &m.Message)
	})
	if err != nil {
		return fmt.Errorf("rebuild rate index: %w", err)
	}
	return meta.Put([]byte(keyRateIndex), []byte(rateIndexVersion))
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

// countKeys counts the index entries prefix+received(8)+... received in (end-w, end],
// stopping at max. The index is sorted by time, so this reads at most max+1 keys.
func countKeys(tx *bolt.Tx, prefix []byte, end time.Time, w time.Duration, max int) int {
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

// UnverifiedAcksSentSince counts the acks to unverified senders (of all mailboxes) sent at
// or after t: the share of the hourly cap that unverified mail has used.
func (s *Store) UnverifiedAcksSentSince(t time.Time) (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		c := bucket(tx, bucketIndex).Cursor()
		for k, _ := c.Seek(unverifiedSentKey(t, 0)); len(k) > 0 && k[0] == tagUnverifiedSent; k, _ = c.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("unverified acks sent since %v: %w", t, err)
	}
	return n, nil
}
