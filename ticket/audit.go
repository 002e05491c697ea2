package ticket

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The audit log records who saw or changed what, and when: every view of a case, every
// download, every change, every login. It is append-only: the package has no function
// that changes or deletes an entry. Two buckets, created by the first write:
//
//	audit      at(8) seq(8) -> entry (JSON); at is the entry's time, seq the bucket's
//	           NextSequence, so keys sort by time and stay unique within one instant
//	auditcase  case key at(8) seq(8) -> ""  (the entries of one case, for AuditFilter.Case)
//
// A third, auditjournal, names the audit journals already committed (auditjournal.go).
//
// Entries are ordered by the time they carry: a clock set back files later entries
// earlier, but Seq still tells the order in which they were written.

// Audit actions.
const (
	AuditLogin              = "login"
	AuditLoginFailed        = "login_failed"
	AuditLogout             = "logout"
	AuditSearch             = "search"
	AuditView               = "view"
	AuditDownloadRaw        = "download_raw"
	AuditDownloadAttachment = "download_attachment"
	AuditStatus             = "status"
	AuditNote               = "note"
	AuditAssign             = "assign"
	AuditUserAdd            = "user_add"
	AuditUserPassword       = "user_password"
	AuditUserGrant          = "user_grant"
	AuditUserDisable        = "user_disable"
	AuditUserEnable         = "user_enable"
	AuditTokenCreate        = "token_create"
	AuditTokenRevoke        = "token_revoke"
	AuditBackup             = "backup"       // a backup of the whole register was taken
	AuditAuditExport        = "audit_export" // the audit log itself was exported
	AuditRestore            = "restore"      // the register was restored from a backup (its first entry after)
)

// AuditActions returns every audit action this package and its callers write, in the
// order an admin's filter lists them: the audit page and its texts follow this one list
// (AuditExport, AuditPurge and the interim actions are defined beside their functions).
func AuditActions() []string {
	return []string{
		AuditLogin, AuditLoginFailed, AuditLogout,
		AuditSearch, AuditView, AuditDownloadRaw, AuditDownloadAttachment,
		AuditStatus, AuditNote, AuditAssign, AuditInterimSuppress, AuditInterimSendNow,
		AuditUserAdd, AuditUserPassword, AuditUserGrant, AuditUserDisable, AuditUserEnable,
		AuditTokenCreate, AuditTokenRevoke,
		AuditExport, AuditPurge, AuditBackup, AuditRestore, AuditAuditExport,
	}
}

// Bounds of an audit entry's free-text fields (see records.go on record sizes).
const (
	maxAuditDetail = 512
	maxAuditRemote = 64
	maxAuditAction = 32

	// DefaultAuditLimit and MaxAuditLimit bound AuditFilter.Limit.
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// Actor is who does something, from where and when; the web layer passes it to the
// functions that write an audit entry together with their change.
type Actor struct {
	Name   string    // user name, or e.g. "cli:root" for the command line
	Remote string    // client address, "" when local
	At     time.Time // when
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	Seq     uint64    `json:"seq"` // set by the store, increasing
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Remote  string    `json:"remote,omitempty"`
	Action  string    `json:"action"` // one of the Audit* constants
	Case    Reference `json:"case,omitzero"`
	Message uint64    `json:"message,omitempty"` // Seq of the message concerned
	Detail  string    `json:"detail,omitempty"`  // e.g. "new -> in_progress"; never mail content
}

// NewAuditEntry returns an entry of action by a.
func (a Actor) NewAuditEntry(action string, ref Reference, detail string) AuditEntry {
	return AuditEntry{At: a.At, Actor: a.Name, Remote: a.Remote, Action: action, Case: ref, Detail: detail}
}

func auditKey(at time.Time, seq uint64) []byte {
	return append(timeKey(clampTime(at)), seqKey(seq)...)
}

// appendAudit writes e (its Seq set here) in the caller's transaction.
func appendAudit(tx *bolt.Tx, e *AuditEntry) error {
	if err := checkAuditEntry(e); err != nil {
		return err
	}
	e.Actor = truncate(e.Actor, maxName)
	e.Remote = truncate(e.Remote, maxAuditRemote)
	e.Detail = truncate(strings.ToValidUTF8(e.Detail, "\uFFFD"), maxAuditDetail)
	b, err := writeBucket(tx, bucketAudit)
	if err != nil {
		return err
	}
	b.FillPercent = appendFill // keyed by time: appended at the end
	if e.Seq, err = b.NextSequence(); err != nil {
		return fmt.Errorf("audit sequence: %w", err)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	k := auditKey(e.At, e.Seq)
	if err := b.Put(k, v); err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	if e.Case.IsZero() {
		return nil
	}
	idx, err := writeBucket(tx, bucketAuditCase)
	if err != nil {
		return err
	}
	if err := idx.Put(append(refKey(e.Case), k...), nil); err != nil {
		return fmt.Errorf("write audit case index: %w", err)
	}
	return nil
}

// AppendAudit appends e to the audit log and returns it with its Seq. At, Actor and
// Action are required.
func (s *Store) AppendAudit(e AuditEntry) (AuditEntry, error) {
	err := s.db.Update(func(tx *bolt.Tx) error { return appendAudit(tx, &e) })
	if err != nil {
		return AuditEntry{}, fmt.Errorf("append audit entry %s by %q: %w", e.Action, e.Actor, err)
	}
	return e, nil
}

// AuditFilter selects audit entries. Zero fields do not filter.
type AuditFilter struct {
	Case   Reference // walks the case index
	Actor  string    // exact
	Action string    // exact
	Since  time.Time // At >= Since
	Until  time.Time // At < Until
	Offset int       // matching entries to skip (paging)
	Limit  int       // 0 = DefaultAuditLimit, at most MaxAuditLimit
}

// AuditLog returns the entries matching f, newest first, and whether more follow after
// this page.
func (s *Store) AuditLog(f AuditFilter) ([]AuditEntry, bool, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultAuditLimit
	}
	f.Limit = min(f.Limit, MaxAuditLimit)
	f.Offset = max(f.Offset, 0)
	var (
		out  []AuditEntry
		more bool
	)
	// The deferred entries first: a reader sees every entry appended before it asked.
	if err := s.FlushAudit(); err != nil {
		return nil, false, fmt.Errorf("read audit log: %w", err)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		main := bucket(tx, bucketAudit)
		if main == nil {
			return nil
		}
		var (
			b      = main
			prefix []byte
		)
		if !f.Case.IsZero() {
			if b = bucket(tx, bucketAuditCase); b == nil {
				return nil
			}
			prefix = refKey(f.Case)
		}
		lo := append(bytes.Clone(prefix), timeKey(clampTime(f.Since))...)
		var hi []byte
		if !f.Until.IsZero() {
			hi = append(bytes.Clone(prefix), timeKey(clampTime(f.Until))...)
		} else if prefix != nil {
			hi = append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 17)...)
		}
		skipped := 0
		bc := newBackCursor(b, lo, hi, len(prefix))
		for ; bc.key != nil; bc.prev() {
			k := bc.key[len(prefix):]
			if len(k) != 16 {
				continue // another reference's key that shares the prefix bytes
			}
			v := main.Get(k)
			if v == nil {
				return fmt.Errorf("audit entry %x missing", k)
			}
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode audit entry %x: %w", k, err)
			}
			if (f.Actor != "" && e.Actor != f.Actor) || (f.Action != "" && e.Action != f.Action) ||
				(!f.Case.IsZero() && e.Case != f.Case) {
				continue
			}
			if skipped < f.Offset {
				skipped++
				continue
			}
			if len(out) == f.Limit {
				more = true
				return nil
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read audit log: %w", err)
	}
	return out, more, nil
}
