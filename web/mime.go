package web

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"net/url"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/textproto"
	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/intake-office/intake/intake/mailparse"
)

// The case view needs more of a mail than the register keeps: the attachments
// themselves and the HTML body. It walks the raw mail's MIME structure (RFC 2045, RFC
// 2046 §5.1) with go-message's textproto reader, bounded in depth and parts. Bodies are
// decoded from their transfer encoding (RFC 2045 §6) only, so an attachment downloads
// with its original bytes.

const (
	maxMIMEDepth = 20
	maxMIMEParts = 1000
	maxHTMLBytes = 1 << 20
)

// leaf is one non-multipart part of a mail.
type leaf struct {
	header      textproto.Header
	mediaType   string // lower case, "text/plain" when absent or unparsable
	params      map[string]string
	disposition string // "attachment", "inline", ""
	filename    string // sanitised (mailparse.SanitizeFilename), "" when none
}

// isAttachment reports whether l is listed as an attachment: it has a file name (as
// mailparse lists Message.Attachments).
func (l *leaf) isAttachment() bool { return l.filename != "" }

// body returns the part's content decoded from its Content-Transfer-Encoding.
func (l *leaf) body(r io.Reader) io.Reader {
	var h message.Header
	h.SetContentType("application/octet-stream", nil) // no charset conversion
	if cte := l.header.Get("Content-Transfer-Encoding"); cte != "" {
		h.Set("Content-Transfer-Encoding", strings.TrimSpace(cte))
	}
	e, err := message.New(h, r)
	if err != nil || e == nil {
		return r // unknown transfer encoding: the bytes as they are
	}
	return e.Body
}

// walkMail calls visit for each leaf of the raw mail r, in order, until visit returns
// false. A structure error ends the walk with an error; the leaves visited stay valid.
func walkMail(r io.Reader, visit func(l *leaf, body io.Reader) bool) error {
	br := bufio.NewReader(r)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return fmt.Errorf("read mail header: %w", err)
	}
	parts := 0
	_, err = walkEntity(h, br, 0, &parts, visit)
	return err
}

func walkEntity(h textproto.Header, body io.Reader, depth int, parts *int, visit func(*leaf, io.Reader) bool) (bool, error) {
	*parts++
	if *parts > maxMIMEParts {
		return false, nil
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt == "" {
		mt, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
		if depth >= maxMIMEDepth {
			return true, nil
		}
		mr := textproto.NewMultipartReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return true, nil
			}
			if err != nil {
				return false, fmt.Errorf("read multipart: %w", err)
			}
			cont, err := walkEntity(p.Header, p, depth+1, parts, visit)
			if err != nil || !cont {
				return cont, err
			}
		}
	}
	l := &leaf{header: h, mediaType: mt, params: params}
	if d, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil {
		l.disposition = d
		l.filename = dp["filename"]
	}
	if l.filename == "" {
		l.filename = params["name"] // RFC 2046 §4.5.1 (deprecated, still common)
	}
	if l.filename != "" {
		// RFC 2047 words in a quoted file name (not allowed by RFC 2047 §5, sent anyway).
		dec := mime.WordDecoder{CharsetReader: charset.Reader}
		if s, err := dec.DecodeHeader(l.filename); err == nil {
			l.filename = s
		}
		l.filename = mailparse.SanitizeFilename(l.filename)
	}
	return visit(l, body), nil
}

// attachment describes one attachment of a message for the case view.
type attachment struct {
	N    int // index among the message's attachments, for the download URL
	Name string
	Type string
	Size int64 // decoded bytes
}

// mailParts is what the case view shows of a raw mail beyond mailparse's text.
type mailParts struct {
	Attachments []attachment
	HTML        string // the first text/html body that is not an attachment, UTF-8 (bounded)
	HasHTML     bool
}

// readParts walks a raw mail and collects its attachments (with their decoded sizes)
// and, when wantHTML, its HTML body.
func readParts(r io.Reader, wantHTML bool) (mailParts, error) {
	var mp mailParts
	err := walkMail(r, func(l *leaf, body io.Reader) bool {
		switch {
		case l.isAttachment():
			n, _ := io.Copy(io.Discard, l.body(body))
			mp.Attachments = append(mp.Attachments, attachment{N: len(mp.Attachments), Name: l.filename, Type: l.mediaType, Size: n})
		case l.mediaType == "text/html" && l.disposition != "attachment" && !mp.HasHTML:
			mp.HasHTML = true
			if wantHTML {
				dec := l.body(body)
				if cs := l.params["charset"]; cs != "" {
					if cr, err := charset.Reader(cs, dec); err == nil {
						dec = cr
					}
				}
				b, _ := io.ReadAll(io.LimitReader(dec, maxHTMLBytes))
				mp.HTML = strings.ToValidUTF8(string(b), "\uFFFD")
			}
		}
		return true
	})
	return mp, err
}

// openAttachment walks a raw mail to attachment n and calls fn with it.
func openAttachment(r io.Reader, n int, fn func(l *leaf, body io.Reader) error) (bool, error) {
	i, found := 0, false
	var fnErr error
	err := walkMail(r, func(l *leaf, body io.Reader) bool {
		if !l.isAttachment() {
			return true
		}
		if i == n {
			found = true
			fnErr = fn(l, l.body(body))
			return false
		}
		i++
		return true
	})
	if fnErr != nil {
		return true, fnErr
	}
	if found {
		return true, nil
	}
	return false, err
}

// sanitizeHTML returns the mail's HTML body cleaned by policy p and balanced: bluemonday
// removes what is dangerous but passes on unclosed elements, and an open <table> or <a>
// of a mail must not swallow the rest of the page. The fragment is parsed as the content
// of a <div> (HTML Living Standard, fragment parsing algorithm) and serialised again, which
// closes every element it opened; id and name attributes are dropped on the way.
func sanitizeHTML(p *bluemonday.Policy, s string) string {
	clean := p.Sanitize(s)
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(clean), ctx)
	if err != nil {
		return html.EscapeString(clean)
	}
	var b strings.Builder
	for _, n := range nodes {
		dropIDs(n)
		if err := html.Render(&b, n); err != nil {
			return html.EscapeString(clean)
		}
	}
	return b.String()
}

// dropIDs removes id and name attributes from n and its descendants: a mail's id="main"
// must not capture the page's skip link or anchors (DOM clobbering).
func dropIDs(n *html.Node) {
	attrs := n.Attr[:0]
	for _, a := range n.Attr {
		if a.Key != "id" && a.Key != "name" {
			attrs = append(attrs, a)
		}
	}
	n.Attr = attrs
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		dropIDs(c)
	}
}

// mailPolicy is bluemonday's UGCPolicy without anything that loads a resource: images
// lose their src (an <img> without src loads nothing; the alt text stays), relative URLs
// are refused (a link in a mail must not point into this application), and links get
// rel="nofollow noreferrer" and open in a new tab. UGCPolicy itself drops script, style,
// forms, frames, objects, style attributes and event handlers, and allows only http,
// https and mailto URLs. The Content-Security-Policy (img-src 'self') is the second line.
func mailPolicy() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowRelativeURLs(false)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.RewriteSrc(func(u *url.URL) { *u = url.URL{} })
	return p
}
