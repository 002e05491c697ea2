package ticket

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// Keys are built so that bbolt's byte order is the order we scan in: integers are big
// endian, times are sortable nanoseconds, string parts end in a 0 byte.

const sep = 0

// refKey is the sortable key of a reference: prefix 0 year(2) number(8).
func refKey(r Reference) []byte {
	k := make([]byte, 0, len(r.Prefix)+11)
	k = append(k, r.Prefix...)
	k = append(k, sep)
	k = binary.BigEndian.AppendUint16(k, uint16(r.Year))
	return binary.BigEndian.AppendUint64(k, r.Number)
}

func parseRefKey(k []byte) (Reference, error) {
	i := bytes.IndexByte(k, sep)
	if i < 0 || len(k) != i+11 {
		return Reference{}, fmt.Errorf("reference key %x: %w", k, ErrBadReference)
	}
	return Reference{
		Prefix: string(k[:i]),
		Year:   int(binary.BigEndian.Uint16(k[i+1:])),
		Number: binary.BigEndian.Uint64(k[i+3:]),
	}, nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// timeKey is 8 bytes that sort like the times (1678-2262, the range of UnixNano).
func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())^(1<<63))
}

func parseTimeKey(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^(1<<63))).UTC()
}

// validKeyTime reports whether t can be stored in a timeKey.
func validKeyTime(t time.Time) bool {
	return t.Year() >= 1678 && t.Year() <= 2261
}

// join concatenates key parts with a 0 byte between them.
func join(parts ...[]byte) []byte {
	var k []byte
	for i, p := range parts {
		if i > 0 {
			k = append(k, sep)
		}
		k = append(k, p...)
	}
	return k
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// uidKey: mailbox 0 uidvalidity(4) 0 uid(4).
func uidKey(mailbox string, uidValidity, uid uint32) []byte {
	return join([]byte(mailbox), u32(uidValidity), u32(uid))
}

// watermarkKey: mailbox 0 uidvalidity(4).
func watermarkKey(mailbox string, uidValidity uint32) []byte {
	return join([]byte(mailbox), u32(uidValidity))
}

// idPart shortens very long Message-IDs for use in keys (bbolt keys are at most 32 KiB,
// and long keys waste pages).
func idPart(id string) []byte {
	if len(id) <= 200 {
		return []byte(id)
	}
	sum := sha256.Sum256([]byte(id))
	return []byte("sha256:" + hex.EncodeToString(sum[:]))
}

// dedupeKey: mailbox 0 "mid:"+Message-ID 0 evidence, or mailbox 0 "sha256:"+evidence when
// the message has no Message-ID; nil when it has neither. A Message-ID identifies a mail only
// together with evidence that it is the same mail (contentEvidence): forms and scripts reuse
// Message-IDs. Without evidence (no raw hash) the key is the legacy one, by Message-ID alone.
func dedupeKey(m *Message) []byte {
	ev := contentEvidence(m)
	switch {
	case m.MessageID != "" && ev != "":
		return join([]byte(m.Mailbox), append([]byte("mid:"), idPart(m.MessageID)...), []byte(ev))
	case m.MessageID == "" && ev != "":
		return join([]byte(m.Mailbox), []byte("sha256:"+ev))
	}
	return legacyDedupeKey(m)
}

// legacyDedupeKey is the dedupe key registers written before content evidence hold: mailbox 0
// ("mid:"+Message-ID | "sha256:"+raw hash); nil when the message has neither.
func legacyDedupeKey(m *Message) []byte {
	switch {
	case m.MessageID != "":
		return join([]byte(m.Mailbox), append([]byte("mid:"), idPart(m.MessageID)...))
	case m.RawSHA256 != "":
		return join([]byte(m.Mailbox), []byte("sha256:"+m.RawSHA256))
	}
	return nil
}

// dedupeIDPrefix is the start of every evidence-bearing dedupe key of (mailbox, Message-ID).
func dedupeIDPrefix(mailbox, messageID string) []byte {
	return append(join([]byte(mailbox), append([]byte("mid:"), idPart(messageID)...)), sep)
}

// contentEvidence is the hex SHA-256 that says "the same mail": the hash of the raw mail, and
// for an over-size mail, which is fetched and stored as its header only, the hash of that
// header's hash and the whole mail's size (RFC 3501 §2.3.4 RFC822.SIZE), so that two
// over-size mails with equal headers and different bodies are told apart. "" when the
// message has no raw hash.
func contentEvidence(m *Message) string {
	if m.RawSHA256 == "" {
		return ""
	}
	if !m.Oversize {
		return m.RawSHA256
	}
	sum := sha256.Sum256([]byte("oversize\x00" + m.RawSHA256 + "\x00" + strconv.FormatInt(m.Size, 10)))
	return hex.EncodeToString(sum[:])
}

// msgIDKey: mailbox 0 message-id.
func msgIDKey(mailbox, messageID string) []byte {
	return join([]byte(mailbox), idPart(messageID))
}

// senderKey: sender 0 created(8) 0 refkey.
func senderKey(sender string, created time.Time, ref Reference) []byte {
	return join([]byte(sender), timeKey(created), refKey(ref))
}

// outboxKey: mailbox 0 nexttry(8) 0 seq(8).
func outboxKey(mailbox string, nextTry time.Time, seq uint64) []byte {
	return join([]byte(mailbox), timeKey(nextTry), seqKey(seq))
}

// The index bucket (schema version 2) holds three key spaces, told apart by their first
// byte. One bucket rather than three keeps the per-commit page writes down: the status and
// ackrate entries Register writes share the bucket's branch pages, and a young database has
// fewer small inline buckets in the root (which would split the root leaf for good).
const (
	tagStatus  = 's' // 's' status 0 created(8) 0 refkey
	tagAckRate = 'r' // 'r' recipient 0 received(8) 0 seq(8)
	tagSent    = 't' // 't' sentat(8) 0 seq(8)
	// Rate indexes of acks to senders that were not verified (see rate.go).
	tagDomainRate     = 'd' // 'd' domain 0 received(8) 0 seq(8)
	tagUnverifiedRate = 'u' // 'u' received(8) 0 seq(8)
	tagUnverifiedSent = 'v' // 'v' sentat(8) 0 seq(8)
)

// tagged returns tag followed by the parts joined with 0 bytes.
func tagged(tag byte, parts ...[]byte) []byte {
	return append([]byte{tag}, join(parts...)...)
}

// statusPrefix: 's' status 0, the part of the status index of one status.
func statusPrefix(status CaseStatus) []byte {
	return tagged(tagStatus, []byte(status), nil)
}

// statusKey: 's' status 0 created(8) 0 refkey.
func statusKey(status CaseStatus, created time.Time, ref Reference) []byte {
	return tagged(tagStatus, []byte(status), timeKey(created), refKey(ref))
}

// ratePrefix: 'r' recipient 0, recipient as senderOf gives it.
func ratePrefix(recipient string) []byte {
	return tagged(tagAckRate, []byte(recipient), nil)
}

// rateKey: 'r' recipient 0 received(8) 0 seq(8), recipient as senderOf gives it.
func rateKey(recipient string, received time.Time, seq uint64) []byte {
	return tagged(tagAckRate, []byte(recipient), timeKey(received), seqKey(seq))
}

// sentKey: 't' sentat(8) 0 seq(8).
func sentKey(sentAt time.Time, seq uint64) []byte {
	return tagged(tagSent, timeKey(clampTime(sentAt)), seqKey(seq))
}

// prefixEnd returns the smallest key greater than every key starting with prefix
// (prefix ends in the 0 separator, so incrementing its last byte suffices).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	end[len(end)-1]++
	return end
}
