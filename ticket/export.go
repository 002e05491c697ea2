package ticket

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A case export is a zip archive (archive/zip) for transfer into an e-file system or an
// offer to the public archive (domain-de.md § E):
//
//	metadata.json      CaseExport: the case with its messages and acks, assignee, notes
//	                   and the audit entries of the case, oldest first
//	<n>-<seq>.eml      the raw mail of the n-th message (1-based) of the case
//
// A purged case has no raw mails left; its export holds metadata.json only.

// ExportFormat is the version of the case export layout above.
const ExportFormat = 1

// AuditExport is the audit action of a case export (written by the caller, who knows
// the actor).
const AuditExport = "export"

// CaseExport is metadata.json of a case export.
type CaseExport struct {
	Format   int          `json:"format"`
	Exported time.Time    `json:"exported"`
	Case     Case         `json:"case"`
	Casework Casework     `json:"casework"`
	Audit    []AuditEntry `json:"audit"`
	Files    []ExportFile `json:"files"`
}

// ExportFile names one raw mail of a case export.
type ExportFile struct {
	Name   string `json:"name"` // <n>-<seq>.eml
	Seq    uint64 `json:"seq"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// ExportCase writes case ref as a zip archive (see above) to w. An unknown case gives
// an error wrapping ErrNotFound, as does a raw mail the case names but the store lacks.
func (s *Store) ExportCase(ref Reference, w io.Writer) error {
	c, err := s.Lookup(ref)
	if err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	cw, err := s.CaseworkOf(ref)
	if err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	meta := CaseExport{Format: ExportFormat, Exported: time.Now().UTC(), Case: *c, Casework: *cw, Audit: []AuditEntry{}, Files: []ExportFile{}}
	for offset := 0; ; {
		page, more, err := s.AuditLog(AuditFilter{Case: ref, Offset: offset, Limit: MaxAuditLimit})
		if err != nil {
			return fmt.Errorf("export %s: %w", ref, err)
		}
		meta.Audit = append(meta.Audit, page...)
		offset += len(page)
		if !more {
			break
		}
	}
	slices.Reverse(meta.Audit) // AuditLog gives newest first
	for i, m := range c.Messages {
		if m.RawSHA256 == "" {
			continue
		}
		meta.Files = append(meta.Files, ExportFile{Name: fmt.Sprintf("%d-%d.eml", i+1, m.Seq), Seq: m.Seq, SHA256: m.RawSHA256, Size: m.Size})
	}
	zw := zip.NewWriter(w)
	mj, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return fmt.Errorf("export %s: encode metadata: %w", ref, err)
	}
	if err := addZipFile(zw, "metadata.json", meta.Exported, bytes.NewReader(append(mj, '\n'))); err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	for i, f := range meta.Files {
		raw, err := s.OpenRaw(f.SHA256)
		if err != nil {
			return fmt.Errorf("export %s: message %d: %w", ref, f.Seq, err)
		}
		err = addZipFile(zw, f.Name, c.Messages[messageIndex(c, f.Seq)].Received, raw)
		raw.Close()
		if err != nil {
			return fmt.Errorf("export %s: file %d: %w", ref, i+1, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("export %s: finish archive: %w", ref, err)
	}
	return nil
}

func messageIndex(c *Case, seq uint64) int {
	return slices.IndexFunc(c.Messages, func(m Message) bool { return m.Seq == seq })
}

func addZipFile(zw *zip.Writer, name string, mod time.Time, r io.Reader) error {
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod})
	if err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	if _, err := io.Copy(fw, r); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// auditExportPage bounds the entries ExportAudit reads in one read transaction, so that
// a slow reader of w never holds a transaction open for long.
const auditExportPage = 1000

// ExportAudit writes the audit entries with since <= At < until (zero = open) to w as
// JSON Lines, oldest first.
func (s *Store) ExportAudit(w io.Writer, since, until time.Time) error {
	var hi []byte
	if !until.IsZero() {
		hi = timeKey(clampTime(until))
	}
	from := timeKey(clampTime(since))
	enc := json.NewEncoder(w)
	for {
		var (
			page []json.RawMessage
			next []byte
		)
		err := s.db.View(func(tx *bolt.Tx) error {
			b := bucket(tx, bucketAudit)
			if b == nil {
				return nil
			}
			c := b.Cursor()
			for k, v := c.Seek(from); k != nil; k, v = c.Next() {
				if hi != nil && bytes.Compare(k, hi) >= 0 {
					return nil
				}
				if len(page) == auditExportPage {
					next = bytes.Clone(k)
					return nil
				}
				page = append(page, bytes.Clone(v))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("export audit log: %w", err)
		}
		for _, e := range page {
			if err := enc.Encode(e); err != nil {
				return fmt.Errorf("export audit log: write: %w", err)
			}
		}
		if next == nil {
			return nil
		}
		from = next
	}
}
