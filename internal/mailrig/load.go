package mailrig

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// LoadOffice is the office address of a load rig (LoadUsers): the drain
// benchmark (cmd/intake-bench) and the end-to-end tests of cmd/intake.
const LoadOffice = "office@example.test"

// LoadUsers are the users of a load rig: the office and ten citizens
// c00…c09@example.test who write its letters.
func LoadUsers() map[string]string {
	u := map[string]string{LoadOffice: "office-pass"}
	for i := range 10 {
		u[fmt.Sprintf("c%02d@example.test", i)] = "citizen-pass"
	}
	return u
}

// LoadMail is the i-th citizen letter to LoadOffice (Message-ID
// <bench-i@example.test>, header X-Bench: kind), about 2 kB.
func LoadMail(i int, kind string) []byte {
	from := fmt.Sprintf("c%02d@example.test", i%10)
	return []byte(fmt.Sprintf("Return-Path: <%s>\r\nFrom: Bürger %d <%s>\r\nTo: %s\r\nSubject: =?utf-8?q?Antrag_%d_=E2=80=93_Gr=C3=BCnfl=C3=A4che?=\r\n"+
		"Message-ID: <bench-%d@example.test>\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Content-Transfer-Encoding: 8bit\r\nX-Bench: %s\r\n\r\nSehr geehrte Damen und Herren,\r\n\r\n%s\r\nMit freundlichen Grüßen\r\n",
		from, i, from, LoadOffice, i, i, time.Now().Format(time.RFC1123Z), kind, strings.Repeat("ich schreibe Ihnen wegen meines Antrags. ", 40)))
}

// BigLoadMail is LoadMail(i, "big") as a multipart of about size bytes: a
// short text and a base64 attachment of random bytes.
func BigLoadMail(i int, size int64) []byte {
	head := LoadMail(i, "big")
	cut := strings.Index(string(head), "MIME-Version:")
	var b strings.Builder
	b.Write(head[:cut])
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BIG\r\n\r\n--BIG\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei die Unterlagen.\r\n")
	b.WriteString("--BIG\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	chunk := make([]byte, 57)
	for int64(b.Len()) < size-100 {
		rand.Read(chunk)
		b.WriteString(base64.StdEncoding.EncodeToString(chunk))
		b.WriteString("\r\n")
	}
	b.WriteString("--BIG--\r\n")
	return []byte(b.String())
}

// AppendSelected appends raw to INBOX over c, which has INBOX selected:
// the fast path for a large backlog (real-servers.md).
func AppendSelected(c *imapclient.Client, raw []byte) error {
	ac := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Time: time.Now()})
	if _, err := ac.Write(raw); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	if err := ac.Close(); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	if _, err := ac.Wait(); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	return nil
}
