package mailparse

import (
	"io"
	"strings"
	"testing"
)

// TestWalkMatchesAttachments: Walk numbers the leaves as Message.Attachments lists them,
// hands out bodies without the line break before the boundary, and stops when asked.
func TestWalkMatchesAttachments(t *testing.T) {
	raw := strings.ReplaceAll(`From: a@example.org
Content-Type: multipart/mixed; boundary="x"

--x
Content-Type: text/plain

Hallo
--x
Content-Type: application/pdf
Content-Disposition: attachment; filename="..\..\Windows\system32\evil	name.exe"
Content-Transfer-Encoding: base64

SGFsbG8=
--x
Content-Type: application/octet-stream; name="."

not listed: the name sanitises to nothing
--x
Content-Type: multipart/alternative; boundary=y

--y
Content-Type: text/html

<p>x</p>
--y
Content-Type: image/png; name="bild.png"

PNG
--x--
`, "\n", "\r\n")
	type seen struct {
		typ, name, body string
		n               int
	}
	var got []seen
	m, err := Walk(strings.NewReader(raw), Limits{}, func(l Leaf, body io.Reader) bool {
		b, _ := io.ReadAll(body)
		got = append(got, seen{l.Type, l.Filename, string(b), l.Attachment})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []seen{
		{"text/plain", "", "Hallo", -1},
		{"application/pdf", "evilname.exe", "SGFsbG8=", 0},
		{"application/octet-stream", "", "not listed: the name sanitises to nothing", -1},
		{"text/html", "", "<p>x</p>", -1},
		{"image/png", "bild.png", "PNG", 1},
	}
	if len(got) != len(want) {
		t.Fatalf("visited %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("leaf %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if strings.Join(m.Attachments, "|") != "evilname.exe|bild.png" || m.Text != "Hallo" {
		t.Errorf("Message: attachments %q, text %q", m.Attachments, m.Text)
	}
	p, err := Parse(strings.NewReader(raw), Limits{})
	if err != nil || strings.Join(p.Attachments, "|") != strings.Join(m.Attachments, "|") {
		t.Errorf("Parse lists %q (%v), Walk %q", p.Attachments, err, m.Attachments)
	}

	visits := 0
	if _, err := Walk(strings.NewReader(raw), Limits{}, func(l Leaf, body io.Reader) bool {
		visits++
		return l.Attachment != 0 // stop at the first attachment, its body unread
	}); err != nil || visits != 2 {
		t.Errorf("Walk stopped after %d visits (%v), want 2", visits, err)
	}
}
