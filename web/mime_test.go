package web

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/intake-office/intake/intake/mailparse"
)

func TestSanitizeHTML(t *testing.T) {
	p := mailPolicy()
	tests := []struct {
		name, in, want string
	}{
		{"plain", `<p>Hallo <b>Welt</b></p>`, `<p>Hallo <b>Welt</b></p>`},
		{"script", `<p>a</p><script>alert(1)</script>`, `<p>a</p>`},
		{"event handler", `<p onclick="x()">a</p>`, `<p>a</p>`},
		{"javascript link", `<a href="javascript:alert(1)">a</a>`, `a`},
		{"http link", `<a href="https://example.org/x">a</a>`, `<a href="https://example.org/x" rel="nofollow noreferrer noopener" target="_blank">a</a>`},
		{"relative link", `<a href="/logout">a</a>`, `a`},
		{"remote image", `<img src="https://tracker.example/p.gif" alt="x">`, `<img src="" alt="x"/>`},
		{"style attribute", `<div style="background:url(https://x.example/)">a</div>`, `<div>a</div>`},
		{"style element", `<style>@import url(https://x.example/a.css);</style>b`, `b`},
		{"unclosed table", `<table><tr><td>x`, `<table><tbody><tr><td>x</td></tr></tbody></table>`},
		{"unclosed link", `<a href="https://evil.example/">click`, `<a href="https://evil.example/" rel="nofollow noreferrer noopener" target="_blank">click</a>`},
		{"stray close", `</div></main><p>x`, `<p>x</p>`},
		{"ids dropped", `<p id="main">x</p><a name="top">y</a>`, `<p>x</p>y`},
		{"svg", `<svg onload="x()"><script>x()</script></svg>t`, `t`},
		{"form", `<form action="https://evil.example/"><input name="a"><button>Go</button></form>`, `Go`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitizeHTML(p, tt.in); got != tt.want {
				t.Errorf("sanitizeHTML(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadParts(t *testing.T) {
	raw := strings.ReplaceAll(`From: a@example.org
Content-Type: multipart/mixed; boundary="x"

--x
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<p>Gr=FC=DFe</p>
--x
Content-Type: application/pdf
Content-Disposition: attachment; filename="=?utf-8?q?Bescheid_f=C3=BCr_M=C3=BCller.pdf?="
Content-Transfer-Encoding: base64

SGFsbG8=
--x
Content-Type: text/plain; name="notiz.txt"

inline with a name
--x--
`, "\n", "\r\n")
	mp, err := readParts(strings.NewReader(raw), true)
	if err != nil {
		t.Fatal(err)
	}
	if !mp.HasHTML || mp.HTML != "<p>Grüße</p>" {
		t.Errorf("HTML %q", mp.HTML)
	}
	want := []attachment{{0, "Bescheid für Müller.pdf", "application/pdf", 5}, {1, "notiz.txt", "text/plain", 18}}
	if len(mp.Attachments) != len(want) {
		t.Fatalf("attachments %+v", mp.Attachments)
	}
	for i := range want {
		if mp.Attachments[i] != want[i] {
			t.Errorf("attachment %d = %+v, want %+v", i, mp.Attachments[i], want[i])
		}
	}
	// The numbers are those of the register's list (one MIME walker).
	pm, err := mailparse.Parse(strings.NewReader(raw), mailparse.Limits{})
	if err != nil || len(pm.Attachments) != len(mp.Attachments) {
		t.Fatalf("mailparse lists %q (%v), the case view %+v", pm.Attachments, err, mp.Attachments)
	}
	for i, a := range mp.Attachments {
		if a.N != i || a.Name != pm.Attachments[i] {
			t.Errorf("attachment %+v, mailparse's %d is %q", a, i, pm.Attachments[i])
		}
	}
	found, err := openAttachment(strings.NewReader(raw), 0, func(l mailparse.Leaf, body io.Reader) error {
		b, _ := io.ReadAll(body)
		if string(b) != "Hallo" {
			t.Errorf("attachment body %q", b)
		}
		return nil
	})
	if !found || err != nil {
		t.Errorf("openAttachment = %v, %v", found, err)
	}
	if found, _ := openAttachment(strings.NewReader(raw), 2, func(mailparse.Leaf, io.Reader) error { return nil }); found {
		t.Error("attachment 2 found")
	}
	// Deep nesting is bounded: parts below mailparse.DefaultMaxDepth are not walked.
	for _, tt := range []struct{ depth, want int }{{10, 1}, {mailparse.DefaultMaxDepth, 1}, {mailparse.DefaultMaxDepth + 1, 0}, {500, 0}} {
		mp, err := readParts(strings.NewReader(nested(tt.depth)), false)
		if err != nil || len(mp.Attachments) != tt.want {
			t.Errorf("nesting %d: %d attachments, %v; want %d", tt.depth, len(mp.Attachments), err, tt.want)
		}
	}
}

// nested returns a mail with an attachment inside depth nested multiparts.
func nested(depth int) string {
	var b, tail strings.Builder
	b.WriteString("From: a@example.org\r\n")
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
		fmt.Fprintf(&tail, "\r\n--b%d--\r\n", depth-1-i)
	}
	b.WriteString("Content-Type: text/plain; name=tief.txt\r\n\r\nx")
	b.WriteString(tail.String())
	return b.String()
}
