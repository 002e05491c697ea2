package intake

import (
	"errors"
	"strconv"
	"strings"

	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/intake/policy"
	"github.com/intake-office/intake/ticket"
)

// threading is where a mail belongs besides its own new case.
type threading struct {
	followUpOf *ticket.Reference // attach to this case
	linkTo     *ticket.Reference // open a new case linked to this one
	bounce     *bounce           // the mail is a bounce of one of our acknowledgements
}

// bounce names the acknowledgement a delivery failure report refers to.
type bounce struct {
	seq            uint64
	status, detail string
	interim        *ticket.Reference // set: a bounce of this case's interim notice (seq unused)
}

// ackSeq reads the message Seq out of one of our acknowledgement
// Message-IDs, "<reference>.<seq>.ack@<ack domain>".
func ackSeq(id string) (uint64, bool) {
	local, _, ok := strings.Cut(id, "@")
	if !ok {
		return 0, false
	}
	local, ok = strings.CutSuffix(local, ".ack")
	if !ok {
		return 0, false
	}
	i := strings.LastIndexByte(local, '.')
	if i < 0 {
		return 0, false
	}
	seq, err := strconv.ParseUint(local[i+1:], 10, 64)
	return seq, err == nil && seq > 0
}

// thread finds the case a mail continues (autoreply-rules.md; issue 3):
//
//   - a bounce of one of our acknowledgements (its returned headers name our
//     Message-ID) is attached to that case, and the acknowledgement is
//     marked bounced;
//   - a person's reply whose In-Reply-To/References names our
//     acknowledgement or any message of a case is attached to that case;
//   - a valid reference in the subject attaches the mail when its sender
//     already wrote on that case; from anyone else it opens a new case
//     linked to the one it mentions (a stranger cannot post into someone
//     else's case).
//
// Other automated mail is not threaded: it stays apart from citizens' cases.
func (w *watcher) thread(p *mailparse.Message, dec policy.Decision) (threading, error) {
	var t threading
	store := w.d.store
	if id, ok := policy.OurAck(p, w.mb.policy.OwnDomains); ok && dec.Automated {
		if t, ok, err := w.interimBounce(p, id); ok || err != nil {
			return t, err
		}
		seq, ok := ackSeq(id)
		if !ok {
			return t, nil
		}
		msg, ref, err := store.MessageBySeq(seq)
		if errors.Is(err, ticket.ErrNotFound) {
			return t, nil
		}
		if err != nil {
			return t, err
		}
		if !strings.EqualFold(msg.Ack.MessageID, id) {
			return t, nil
		}
		// Only a report of a failed delivery marks the acknowledgement
		// bounced; a vacation reply to it or a delay warning does not.
		status, detail := policy.BounceStatus(p)
		if status == "" {
			return t, nil
		}
		// Our Message-IDs can be guessed: a DSN must name the address the
		// acknowledgement went to (RFC 3464 §2.3.2 Final-Recipient).
		if p.DSN != nil && !dsnNames(p.DSN, msg.Ack.Recipient) {
			return t, nil
		}
		t.followUpOf = &ref
		t.bounce = &bounce{seq: seq, status: status, detail: detail}
		return t, nil
	}
	if dec.Automated {
		return t, nil
	}
	for _, id := range policy.ThreadIDs(p) {
		ref, err := store.CaseOfMessage(w.mb.cfg.Name, id)
		if errors.Is(err, ticket.ErrNotFound) {
			continue
		}
		if err != nil {
			return t, err
		}
		if c, err := store.Lookup(*ref); err != nil || !c.Purged.IsZero() {
			continue
		}
		t.followUpOf = ref
		return t, nil
	}
	sender := ""
	if len(p.From) > 0 {
		sender = strings.ToLower(p.From[0].Addr)
	}
	for _, ref := range ticket.FindReferences(p.Subject, w.d.prefixes) {
		c, err := store.Lookup(ref)
		if errors.Is(err, ticket.ErrNotFound) {
			continue
		} else if err != nil {
			return t, err
		}
		if !c.Purged.IsZero() {
			continue // deleted under the retention rules: a new case, not a follow-up
		}
		wrote, err := store.CaseHasSender(ref, sender)
		if err != nil {
			return t, err
		}
		if wrote && sender != "" {
			t.followUpOf = &ref
			return t, nil
		}
		if t.linkTo == nil {
			t.linkTo = &ref
		}
	}
	return t, nil
}

// dsnNames reports whether a failed recipient of the DSN is addr.
func dsnNames(d *mailparse.DSN, addr string) bool {
	for _, r := range d.Recipients {
		fr := r.FinalRecipient
		if i := strings.IndexByte(fr, ';'); i >= 0 {
			fr = fr[i+1:] // "rfc822; user@example.org"
		}
		fr = strings.Trim(strings.TrimSpace(fr), "<>")
		if strings.EqualFold(fr, addr) {
			return true
		}
	}
	return false
}
