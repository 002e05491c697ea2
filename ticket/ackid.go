package ticket

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Our acknowledgements' Message-IDs are "<reference>.<seq>.<tag>.ack@<ack domain>", e.g.
// "STK-2026-000042-6.17.k3m9q2x8c4v7b1nd.ack@intake.stk.example.de". The reference and seq
// let a reply or a bounce find its case; the tag proves that we made the ID: it is a
// truncated HMAC-SHA256 (RFC 2104) of (reference, seq) under a secret that Open creates once
// and keeps in the meta bucket, so it is in every backup and survives a restore. Without
// the tag the IDs could be guessed from a reference, and anyone could pose as a reply to,
// or a bounce of, a citizen's acknowledgement.
//
// Registers written before the tag existed hold acks with "<reference>.<seq>.ack@<domain>"
// IDs. Such a legacy ID is recognised only when it is exactly the ID stored for that ack
// (AckID.Legacy): the watcher lets it thread a reply (which still has to come from the
// case's verified sender) but never attaches a bounce by it, because a bounce, sent with the
// null sender, has nothing but the tag to prove itself.

const (
	keyAckSecret = "ack_secret"
	ackSecretLen = 32
	// ackTagBytes of the HMAC are kept: 80 bits, 16 base32 characters.
	ackTagBytes = 10
)

var ackTagEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ensureAckSecret creates the secret of the ack tags when the register has none (a new
// register, or one written before the tags existed). It runs in Open's transaction.
func ensureAckSecret(tx *bolt.Tx) error {
	meta := bucket(tx, bucketMeta)
	if len(meta.Get([]byte(keyAckSecret))) == ackSecretLen {
		return nil
	}
	secret := make([]byte, ackSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("create ack secret: %w", err)
	}
	if err := meta.Put([]byte(keyAckSecret), secret); err != nil {
		return fmt.Errorf("store ack secret: %w", err)
	}
	return nil
}

func ackSecret(tx *bolt.Tx) ([]byte, error) {
	k := bucket(tx, bucketMeta).Get([]byte(keyAckSecret))
	if len(k) != ackSecretLen {
		return nil, fmt.Errorf("ack secret missing from the register")
	}
	return k, nil
}

// ackTag is the tag of the ack of message seq in case ref.
func ackTag(secret []byte, ref Reference, seq uint64) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("intake ack\x00" + ref.String() + "\x00" + strconv.FormatUint(seq, 10)))
	return ackTagEncoding.EncodeToString(mac.Sum(nil)[:ackTagBytes])
}

// ackMessageID is the Message-ID (without <>) of the ack of message seq in case ref.
func ackMessageID(secret []byte, ref Reference, seq uint64, domain string) string {
	return fmt.Sprintf("%s.%d.%s.ack@%s", ref, seq, ackTag(secret, ref, seq), domain)
}

// parseAckID splits "<ref>.<seq>[.<tag>].ack@<domain>"; tag is "" for the legacy form.
func parseAckID(id string) (ref Reference, seq uint64, tag string, ok bool) {
	local, _, found := strings.Cut(strings.Trim(strings.TrimSpace(id), "<>"), "@")
	if !found {
		return Reference{}, 0, "", false
	}
	local, found = strings.CutSuffix(local, ".ack")
	if !found {
		return Reference{}, 0, "", false
	}
	parts := strings.Split(local, ".")
	switch len(parts) {
	case 2:
	case 3:
		tag = strings.ToLower(parts[2])
	default:
		return Reference{}, 0, "", false
	}
	ref, err := ParseReference(parts[0])
	if err != nil {
		return Reference{}, 0, "", false
	}
	seq, err = strconv.ParseUint(parts[1], 10, 64)
	if err != nil || seq == 0 {
		return Reference{}, 0, "", false
	}
	return ref, seq, tag, true
}

// AckID is one of our acknowledgements, found by its Message-ID.
type AckID struct {
	Reference Reference
	Seq       uint64  // the message the ack answered
	Ack       Ack     // its state
	Legacy    bool    // an untagged ID of an ack made before the tags existed
	Message   Message // the message the ack answered
}

// AckByID returns our acknowledgement whose Message-ID (with or without <>) is id: the tag
// must verify under the register's secret and id must be the ID stored for that ack, or
// - Legacy - id is an untagged ID stored for an ack made before the tags existed. Anything
// else, a guessed or altered ID among them, gives an error wrapping ErrNotFound.
func (s *Store) AckByID(id string) (*AckID, error) {
	ref, seq, tag, ok := parseAckID(id)
	if !ok {
		return nil, fmt.Errorf("ack id: not ours: %w", ErrNotFound)
	}
	var out *AckID
	err := s.db.View(func(tx *bolt.Tx) error {
		if tag != "" {
			secret, err := ackSecret(tx)
			if err != nil {
				return err
			}
			if !hmac.Equal([]byte(tag), []byte(ackTag(secret, ref, seq))) {
				return fmt.Errorf("tag does not verify: %w", ErrNotFound)
			}
		}
		m, err := getMessage(tx, seq)
		if err != nil {
			return err
		}
		if m.Case != ref || m.Ack.MessageID == "" || !strings.EqualFold(m.Ack.MessageID, strings.Trim(strings.TrimSpace(id), "<>")) {
			return fmt.Errorf("no ack with this id: %w", ErrNotFound)
		}
		out = &AckID{Reference: ref, Seq: seq, Ack: m.Ack, Legacy: tag == "", Message: m.Message}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ack %q: %w", id, err)
	}
	return out, nil
}

// CaseHasVerifiedSender reports whether a message of case ref was sent by addr as a
// verified sender (Message.VerifiedSender; compared as the rate limits compare addresses:
// lower case, without a "+detail"): whether a mail from addr, itself verified, may join the
// case. An empty addr is never one. An unknown case gives an error wrapping ErrNotFound.
func (s *Store) CaseHasVerifiedSender(ref Reference, addr string) (bool, error) {
	want := rateAddr(addr)
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		c, err := getCase(tx, ref)
		if err != nil || want == "" {
			return err
		}
		for _, seq := range c.Seqs {
			m, err := getMessage(tx, seq)
			if err != nil {
				return err
			}
			if m.VerifiedSender != "" && rateAddr(m.VerifiedSender) == want {
				found = true
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("case %s has verified sender: %w", ref, err)
	}
	return found, nil
}
