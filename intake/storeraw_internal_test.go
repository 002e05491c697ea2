package intake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// openCounter is a register that counts how often a raw file is opened again.
type openCounter struct {
	register
	opens int
}

func (c *openCounter) OpenRaw(sum string) (*os.File, error) {
	c.opens++
	return c.register.OpenRaw(sum)
}

// failingAfter yields data and then fails with err, as a connection lost in a literal.
type failingAfter struct {
	data []byte
	err  error
}

func (f *failingAfter) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestStoreRawKeepsSmallMailsForTheParse(t *testing.T) {
	// A mail the watcher has just written to its raw file is parsed from memory, not
	// read back from that file; one larger than keptRawMax is read back. Either way the
	// file holds the whole mail, and the parse is that of the file.
	d := newIdleDaemon(t, "", time.Now())
	reg := &openCounter{register: d.store}
	w := &watcher{mb: d.mailboxes[0], log: slog.New(slog.DiscardHandler), snap: d.snap.Load(), reg: reg, now: time.Now}
	mail := func(subject string, bodyBytes int) []byte {
		body := strings.Repeat("Ein Antrag auf Akteneinsicht nach IFG.\r\n", bodyBytes/40+1)
		return fmt.Appendf(nil, "From: Erika <erika@example.org>\r\nTo: post@office.test\r\nSubject: %s\r\n"+
			"Message-ID: <%s@example.org>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0100\r\n\r\n%sEnde.\r\n",
			subject, strings.ReplaceAll(subject, " ", "."), body)
	}
	for _, tt := range []struct {
		name      string
		raw       []byte
		wantOpens int
	}{
		{"small", mail("klein", 20<<10), 0},
		{"exactly the bound", nil, 0}, // filled below
		{"larger than the bound", mail("gross", keptRawMax+1000), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw
			if raw == nil {
				raw = mail("grenze", keptRawMax)
				raw = append(raw[:keptRawMax-len("Ende.\r\n")], "Ende.\r\n"...)
			}
			reg.opens = 0
			sum, size, kept, err := w.storeRaw(bytes.NewReader(raw))
			if err != nil || size != int64(len(raw)) {
				t.Fatalf("storeRaw = %d bytes, %v; want %d", size, err, len(raw))
			}
			f, err := d.store.OpenRaw(sum)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := io.ReadAll(f)
			f.Close()
			if err != nil || !bytes.Equal(stored, raw) {
				t.Fatalf("the raw file differs from the mail (%d bytes stored, %v)", len(stored), err)
			}
			at := time.Now()
			pm, err := w.prepare(1, 1, at, sum, kept, size, false)
			if err != nil {
				t.Fatal(err)
			}
			if reg.opens != tt.wantOpens {
				t.Errorf("the raw file was opened %d times for the parse, want %d", reg.opens, tt.wantOpens)
			}
			// The same as the parse of the file.
			fromFile, err := w.prepare(1, 1, at, sum, nil, size, false)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pm, fromFile) || pm.in.Message.Malformed != "" || !strings.HasPrefix(pm.text, "Ein Antrag") {
				t.Errorf("parse of the kept mail: %+v, text %.40q\nparse of the file: %+v, text %.40q", pm.in.Message, pm.text, fromFile.in.Message, fromFile.text)
			}
		})
	}
	t.Run("literal cut off", func(t *testing.T) {
		// A connection lost in the middle of a mail stores nothing and is the
		// register's error, as before.
		lost := errors.New("connection reset")
		_, _, kept, err := w.storeRaw(&failingAfter{data: mail("abgebrochen", 8<<10), err: lost})
		var rwe *registerWriteError
		if !errors.Is(err, lost) || !errors.As(err, &rwe) || kept != nil {
			t.Fatalf("storeRaw = %v (kept %d bytes), want the register's error wrapping the read error", err, len(kept))
		}
		left, err := os.ReadDir(filepath.Join(d.currentConfig().DataDir, "raw", "tmp"))
		if err != nil || len(left) != 0 {
			t.Errorf("left in raw/tmp: %v, %v", left, err)
		}
	})
}
