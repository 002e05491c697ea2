package intake

import (
	"errors"
	"strings"

	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/intake/policy"
	"github.com/intake-office/intake/ticket"
)

// threading is where a mail belongs besides its own new case.
type threading struct {
	followUpOf *ticket.Reference  // attach to this case
	linkTo     *ticket.Reference  // open a new case linked to this one
	bounce     *ticket.BounceMark // the mail is a bounce of one of our acknowledgements
}

// thread finds the case a mail continues (autoreply-rules.md; issues 3 and 8):
//
//   - a bounce of one of our acknowledgements - its returned headers name our
//     Message-ID with a tag that verifies (ticket.Store.AckByID), and a DSN
//     names the acknowledgement's recipient - is attached to that case, and
//     the acknowledgement is marked bounced in the same transaction;
//   - a person's mail that names a case - In-Reply-To/References naming our
//     acknowledgement or any message of the case, or a valid reference in the
//     subject - joins that case only when its envelope sender (dec.Recipient,
//     never From:) is verified and already wrote on the case as a verified
//     sender; from anyone else it opens a new case linked to the one it names,
//     so a stranger cannot write into someone else's case.
//
// Other automated mail is not threaded: it stays apart from citizens' cases.
func (w *watcher) thread(p *mailparse.Message, dec policy.Decision) (threading, error) {
	if dec.Automated {
		return w.threadBounce(p)
	}
	var t threading
	store := w.reg
	// The cases the mail names, in order: by Message-ID, then by the subject.
	var named []ticket.Reference
	for _, id := range policy.ThreadIDs(p) {
		if len(named) >= maxNamedCases {
			break
		}
		ref, err := store.CaseOfMessage(w.mb.cfg.Name, id)
		if errors.Is(err, ticket.ErrNotFound) {
			continue
		}
		if err != nil {
			return t, err
		}
		named = append(named, *ref)
	}
	named = append(named, w.snap.refs.Find(p.Subject)...)
	for i, ref := range named {
		if i >= maxNamedCases {
			break
		}
		c, err := store.Lookup(ref)
		if errors.Is(err, ticket.ErrNotFound) {
			continue
		} else if err != nil {
			return t, err
		}
		if !c.Purged.IsZero() {
			continue // deleted under the retention rules: a new case, not a follow-up
		}
		ok, err := w.mayJoin(ref, dec)
		if err != nil {
			return t, err
		}
		if ok {
			t.followUpOf, t.linkTo = &ref, nil
			return t, nil
		}
		if t.linkTo == nil {
			t.linkTo = &ref
		}
	}
	return t, nil
}

// maxNamedCases bounds the register lookups for the cases one mail names.
const maxNamedCases = 16

// mayJoin reports whether a mail decided as dec may be added to case ref: its envelope
// sender is verified and is a verified sender of the case.
func (w *watcher) mayJoin(ref ticket.Reference, dec policy.Decision) (bool, error) {
	if !dec.Verified || dec.Recipient == "" {
		return false, nil
	}
	return w.reg.CaseHasVerifiedSender(ref, dec.Recipient)
}

// threadBounce attaches a bounce of one of our acknowledgements to its case.
func (w *watcher) threadBounce(p *mailparse.Message) (threading, error) {
	var t threading
	for _, id := range policy.OurAckIDs(p, w.mb.policy.OwnDomains) {
		// An interim notice's Message-ID carries a random part; its bounce goes to the
		// notice's case (issue 11).
		if t, ok, err := w.interimBounce(p, id); ok || err != nil {
			return t, err
		}
		ack, err := w.reg.AckByID(id)
		if errors.Is(err, ticket.ErrNotFound) {
			continue
		}
		if err != nil {
			return t, err
		}
		// A bounce comes with the null sender and proves nothing but the tag: an
		// untagged ID of an ack from before the tags could be guessed.
		if ack.Legacy {
			continue
		}
		// Only a report of a failed delivery marks the acknowledgement
		// bounced; a vacation reply to it or a delay warning does not.
		status, detail := policy.BounceStatus(p)
		if status == "" {
			return t, nil
		}
		// A DSN must also name the address the acknowledgement went to
		// (RFC 3464 §2.3.2 Final-Recipient).
		if p.DSN != nil && !dsnNames(p.DSN, ack.Ack.Recipient) {
			return t, nil
		}
		ref := ack.Reference
		t.followUpOf = &ref
		t.bounce = &ticket.BounceMark{Seq: ack.Seq, Status: status, Detail: detail}
		return t, nil
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
