package mailparse

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

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

// countingReader counts the bytes and the Read calls it passes through.
type countingReader struct {
	r            io.Reader
	bytes, calls int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bytes += int64(n)
	c.calls++
	return n, err
}

// work is what one Parse cost: the bytes it read from its input, and the
// allocations it made (count and bytes).
type work struct {
	read, allocs, allocBytes int64
}

// Every Parse must stay within a budget linear in its input: at most
// allocPerByte bytes allocated per byte read, plus allocBase. The worst case
// measured is about 30 (a 1 MB header of 8-byte fields, each kept as a
// field with its own strings, under -race); a parser that copies a growing
// buffer per line or keeps every part it skips breaks the budget by orders
// of magnitude. The budget bounds the work, not the time: a wall-clock
// bound fails on a loaded machine under -race. Times are for benchmarks.
const (
	allocPerByte = 64
	allocBase    = 8 << 20
)

// measure runs Parse(r, lim) once and reports the work done. The
// allocation figures come from runtime.MemStats around the call; no test in
// this package runs in parallel, so they are Parse's own.
func measure(r io.Reader, lim Limits) (*Message, work, error) {
	cr := &countingReader{r: r}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := Parse(cr, lim)
	runtime.ReadMemStats(&after)
	return m, work{read: cr.bytes, allocs: int64(after.Mallocs - before.Mallocs), allocBytes: int64(after.TotalAlloc - before.TotalAlloc)}, err
}

// overBudget describes how w exceeds the linear allocation budget; "" if it
// does not.
func (w work) overBudget() string {
	if limit := allocPerByte*w.read + allocBase; w.allocBytes > limit {
		return fmt.Sprintf("%d bytes allocated for %d bytes read, budget %d", w.allocBytes, w.read, limit)
	}
	return ""
}

// parseWithin parses r and fails the test if Parse returns an error or
// allocates beyond the linear budget.
func parseWithin(t *testing.T, r io.Reader, lim Limits) (*Message, work) {
	t.Helper()
	m, w, err := measure(r, lim)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	t.Logf("read %d bytes; %d allocations, %d bytes allocated", w.read, w.allocs, w.allocBytes)
	if over := w.overBudget(); over != "" {
		t.Errorf("Parse: %s", over)
	}
	return m, w
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
