package web

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/intake-office/intake/intake/mailparse"
)

// The case view needs more of a mail than the register keeps: the attachments
// themselves and the HTML body. It walks the raw mail with mailparse.Walk, the same
// walker (and the same limits of depth and parts) that listed the mail's attachments at
// registration, so attachment n here is Message.Attachments[n]. Bodies are decoded from
// their transfer encoding (RFC 2045 §6) only, so an attachment downloads with its
// original bytes.

const maxHTMLBytes = 1 << 20

// decodeBody returns the body of l decoded from its Content-Transfer-Encoding; an
// unknown encoding gives the bytes as they are.
func decodeBody(l mailparse.Leaf, r io.Reader) io.Reader {
	var h message.Header
	h.SetContentType("application/octet-stream", nil) // no charset conversion
	if l.Encoding != "" {
		h.Set("Content-Transfer-Encoding", l.Encoding)
	}
	e, err := message.New(h, r)
	if err != nil || e == nil {
		return r
	}
	return e.Body
}

// walkMail calls visit for each leaf of the raw mail r, in order, until visit returns
// false.
func walkMail(r io.Reader, visit func(l mailparse.Leaf, body io.Reader) bool) error {
	if _, err := mailparse.Walk(r, mailparse.Limits{}, visit); err != nil {
		return fmt.Errorf("walk mail: %w", err)
	}
	return nil
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
	err := walkMail(r, func(l mailparse.Leaf, body io.Reader) bool {
		switch {
		case l.Attachment >= 0:
			n, _ := io.Copy(io.Discard, decodeBody(l, body))
			mp.Attachments = append(mp.Attachments, attachment{N: l.Attachment, Name: l.Filename, Type: l.Type, Size: n})
		case l.Type == "text/html" && l.Disposition != "attachment" && !mp.HasHTML:
			mp.HasHTML = true
			if wantHTML {
				dec := decodeBody(l, body)
				if cs := l.Params["charset"]; cs != "" {
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

// openAttachment walks a raw mail to attachment n (Message.Attachments[n]) and calls fn
// with it.
func openAttachment(r io.Reader, n int, fn func(l mailparse.Leaf, body io.Reader) error) (bool, error) {
	found := false
	var fnErr error
	err := walkMail(r, func(l mailparse.Leaf, body io.Reader) bool {
		if l.Attachment != n {
			return true
		}
		found = true
		fnErr = fn(l, decodeBody(l, body))
		return false
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
