package ticket

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func readZip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip archive: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestExportCase(t *testing.T) {
	f := newPurgeFixture(t)
	r1 := f.refs[0]
	if _, err := f.s.AppendAudit(Actor{Name: "clerk", At: t0.Add(2 * time.Hour)}.NewAuditEntry(AuditView, r1, "")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		ref       Reference
		purge     bool
		wantFiles []string
		wantNotes int
		wantErr   error
	}{
		{"open case", r1, false, []string{"1-1.eml", "2-2.eml", "metadata.json"}, 1, nil},
		{"unknown case", Reference{"STK", 2026, 99}, false, nil, 0, ErrNotFound},
		{"purged case", r1, true, []string{"metadata.json"}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.purge {
				if _, err := f.s.Purge(f.now, f.retention, false); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			err := f.s.ExportCase(tt.ref, &buf)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ExportCase = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ExportCase: %v", err)
			}
			files := readZip(t, buf.Bytes())
			var names []string
			for n := range files {
				names = append(names, n)
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.wantFiles) {
				t.Fatalf("files = %v, want %v", names, tt.wantFiles)
			}
			var meta CaseExport
			if err := json.Unmarshal(files["metadata.json"], &meta); err != nil {
				t.Fatalf("metadata.json: %v", err)
			}
			if meta.Format != ExportFormat || meta.Case.Reference != tt.ref || len(meta.Case.Messages) != 2 {
				t.Errorf("metadata case = %+v", meta.Case)
			}
			if len(meta.Casework.Notes) != tt.wantNotes {
				t.Errorf("notes = %+v, want %d", meta.Casework.Notes, tt.wantNotes)
			}
			var actions []string
			for _, e := range meta.Audit {
				actions = append(actions, e.Action)
			}
			// AddNote's entry, then the view; oldest first.
			if len(actions) < 2 || actions[0] != AuditNote || actions[1] != AuditView {
				t.Errorf("audit actions = %v", actions)
			}
			if !tt.purge {
				if meta.Case.Messages[0].Ack.Status == "" || len(meta.Files) != 2 {
					t.Errorf("metadata lacks acks or files: %+v", meta)
				}
				if !strings.Contains(string(files["1-1.eml"]), "secret body A1") || !strings.Contains(string(files["2-2.eml"]), "secret body A2") {
					t.Errorf("raw mails wrong: %q / %q", files["1-1.eml"], files["2-2.eml"])
				}
			}
		})
	}
}

func TestExportAudit(t *testing.T) {
	s := newTestStore(t)
	var all []AuditEntry
	for i := range 2500 { // more than one page of auditExportPage
		e, err := s.AppendAudit(Actor{Name: "clerk", At: t0.Add(time.Duration(i) * time.Second)}.NewAuditEntry(AuditSearch, Reference{}, ""))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	tests := []struct {
		name         string
		since, until time.Time
		want         []AuditEntry
	}{
		{"all", time.Time{}, time.Time{}, all},
		{"since", t0.Add(2000 * time.Second), time.Time{}, all[2000:]},
		{"until", time.Time{}, t0.Add(10 * time.Second), all[:10]},
		{"window", t0.Add(1000 * time.Second), t0.Add(2001 * time.Second), all[1000:2001]},
		{"empty", t0.Add(time.Hour * 24), time.Time{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := s.ExportAudit(&buf, tt.since, tt.until); err != nil {
				t.Fatal(err)
			}
			var got []AuditEntry
			sc := bufio.NewScanner(&buf)
			for sc.Scan() {
				var e AuditEntry
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("line %d: %v", len(got)+1, err)
				}
				got = append(got, e)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d entries, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i].Seq != tt.want[i].Seq || !got[i].At.Equal(tt.want[i].At) {
					t.Fatalf("entry %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
