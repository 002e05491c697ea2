package mailparse

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// timeBound is the wall-clock budget of every resource test, -race included.
const timeBound = 2 * time.Second

// flatMultipart builds a multipart/mixed mail with n small parts.
func flatMultipart(n int) string {
	var sb strings.Builder
	sb.WriteString("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := range n {
		fmt.Fprintf(&sb, "--b\r\nContent-Type: application/octet-stream; name=\"f%d.bin\"\r\n\r\nx\r\n", i)
	}
	sb.WriteString("--b--\r\n")
	return sb.String()
}

// nestedMultipart builds depth multiparts nested in each other, with a text part innermost.
func nestedMultipart(depth int) string {
	var sb strings.Builder
	sb.WriteString("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&sb, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&sb, "--b%d\r\nContent-Type: text/plain\r\n\r\ninnermost\r\n", depth-1)
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&sb, "--b%d--\r\n", i)
	}
	return sb.String()
}

// parseWithin parses raw and fails the test if that takes longer than timeBound, if it
// panics, or if it returns an error. A hang is reported instead of blocking the test binary.
func parseWithin(t *testing.T, r io.Reader, lim Limits) (*Message, time.Duration) {
	t.Helper()
	type result struct {
		m   *Message
		err error
		p   any
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		var res result
		defer func() { res.p = recover(); done <- res }()
		res.m, res.err = Parse(r, lim)
	}()
	select {
	case res := <-done:
		took := time.Since(start)
		if res.p != nil {
			t.Fatalf("Parse panicked: %v", res.p)
		}
		if res.err != nil {
			t.Fatalf("Parse: %v", res.err)
		}
		if took > timeBound {
			t.Errorf("Parse took %v, bound %v", took, timeBound)
		}
		t.Logf("parsed in %v", took)
		return res.m, took
	case <-time.After(5 * timeBound):
		t.Fatalf("Parse did not return within %v", 5*timeBound)
	}
	return nil, 0
}

func TestBoundedResources(t *testing.T) {
	const mib = 1 << 20
	bigEncodedSubject := "Subject: " + strings.Repeat("=?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n ", mib/32) + "\r\n\r\nx"
	manyAddresses := "To: " + strings.Repeat("Bürger <b@example.org>,\r\n ", mib/30) + "c@example.org\r\n\r\nx"
	manyRefs := "References: " + strings.Repeat("<0123456789abcdef@example.org>\r\n ", mib/35) + "<x@y>\r\n\r\nx"
	manyFields := strings.Repeat("X-F: v\r\n", mib/9) + "\r\nx"
	for _, tc := range []struct {
		name  string
		raw   func() io.Reader
		lim   Limits
		check func(t *testing.T, m *Message)
	}{
		{"10000 parts, default limit", func() io.Reader { return strings.NewReader(flatMultipart(10000)) }, Limits{},
			func(t *testing.T, m *Message) {
				if len(m.PartTypes) != DefaultMaxParts || len(m.Attachments) != DefaultMaxParts-1 {
					t.Errorf("%d parts, %d attachments", len(m.PartTypes), len(m.Attachments))
				}
			}},
		{"10000 parts, all walked", func() io.Reader { return strings.NewReader(flatMultipart(10000)) }, Limits{MaxParts: 20000},
			func(t *testing.T, m *Message) {
				if len(m.PartTypes) != 10001 {
					t.Errorf("%d parts", len(m.PartTypes))
				}
			}},
		{"1000 nested multiparts, default depth", func() io.Reader { return strings.NewReader(nestedMultipart(1000)) }, Limits{},
			func(t *testing.T, m *Message) {
				if len(m.PartTypes) != DefaultMaxDepth+1 || m.Text != "" {
					t.Errorf("%d parts, text %q", len(m.PartTypes), m.Text)
				}
			}},
		{"1000 nested multiparts, all walked", func() io.Reader { return strings.NewReader(nestedMultipart(1000)) }, Limits{MaxDepth: 2000, MaxParts: 2000},
			func(t *testing.T, m *Message) {
				if len(m.PartTypes) != 1001 || m.Text != "innermost" {
					t.Errorf("%d parts, text %q, problems %q", len(m.PartTypes), m.Text, m.Problems)
				}
			}},
		{"1 MB folded encoded subject", func() io.Reader { return strings.NewReader(bigEncodedSubject) }, Limits{},
			func(t *testing.T, m *Message) {
				if !strings.HasPrefix(m.Subject, "GrüßeGrüße") || m.Text != "x" {
					t.Errorf("subject %.20q text %q problems %q", m.Subject, m.Text, m.Problems)
				}
			}},
		{"1 MB address list", func() io.Reader { return strings.NewReader(manyAddresses) }, Limits{},
			func(t *testing.T, m *Message) {
				if len(m.To) < 30000 {
					t.Errorf("%d addresses", len(m.To))
				}
			}},
		{"1 MB References", func() io.Reader { return strings.NewReader(manyRefs) }, Limits{},
			func(t *testing.T, m *Message) {
				if len(m.References) != maxIDs {
					t.Errorf("%d references", len(m.References))
				}
			}},
		{"1 MB of small fields", func() io.Reader { return strings.NewReader(manyFields) }, Limits{},
			func(t *testing.T, m *Message) {
				if len(m.Fields) != mib/9 || m.Text != "x" {
					t.Errorf("%d fields, text %q", len(m.Fields), m.Text)
				}
			}},
		{"header over the limit", func() io.Reader {
			return strings.NewReader("Subject: s\r\n" + strings.Repeat("X-F: v\r\n", 3*mib/8) + "\r\nx")
		}, Limits{},
			func(t *testing.T, m *Message) {
				if !hasProblem(m, "header section larger") || m.Text != "" {
					t.Errorf("problems %q", m.Problems)
				}
			}},
		{"one 32 MB line", func() io.Reader {
			return io.MultiReader(strings.NewReader("Subject: s\r\n\r\n"), io.LimitReader(repeatReader('a'), 32*mib))
		}, Limits{},
			func(t *testing.T, m *Message) {
				if len(m.Text) != DefaultMaxTextBytes {
					t.Errorf("text of %d bytes", len(m.Text))
				}
			}},
		{"32 MB line inside a multipart", func() io.Reader {
			return io.MultiReader(
				strings.NewReader("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"),
				io.LimitReader(repeatReader('a'), 32*mib),
				strings.NewReader("\r\n--b\r\nContent-Type: image/gif; name=x.gif\r\n\r\nGIF\r\n--b--\r\n"))
		}, Limits{},
			func(t *testing.T, m *Message) {
				if len(m.Text) != DefaultMaxTextBytes || len(m.Attachments) != 1 {
					t.Errorf("text of %d bytes, attachments %q", len(m.Text), m.Attachments)
				}
			}},
		{"8 MB of near-boundary lines under 20 open multiparts", func() io.Reader {
			open := nestedMultipart(20)
			open = open[:strings.Index(open, "Content-Type: text/plain")]
			return io.MultiReader(strings.NewReader(open), strings.NewReader(strings.Repeat("--b1x\r\n--b19 x\r\n", 8*mib/16)))
		}, Limits{},
			func(t *testing.T, m *Message) {
				if len(m.PartTypes) != 21 {
					t.Errorf("%d parts", len(m.PartTypes))
				}
			}},
		{"boundary of 100000 characters", func() io.Reader {
			b := strings.Repeat("b", 100000)
			return strings.NewReader("Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n--" + b + "\r\n\r\ntext\r\n--" + b + "--\r\n")
		}, Limits{},
			func(t *testing.T, m *Message) {
				if !hasProblem(m, "boundary longer") {
					t.Errorf("problems %q", m.Problems)
				}
			}},
		{"32 MB of CR only", func() io.Reader {
			return io.MultiReader(strings.NewReader("Subject: s\r\r"), io.LimitReader(repeatReader('\r'), 32*mib))
		}, Limits{}, func(t *testing.T, m *Message) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := parseWithin(t, tc.raw(), tc.lim)
			tc.check(t, m)
		})
	}
}

// repeatReader yields the byte c for ever.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}
