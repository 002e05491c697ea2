package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// remoteServer stands for any host on the internet: every request it gets is a request the
// browser must not have made.
type remoteServer struct {
	*httptest.Server
	n    atomic.Int64
	mu   sync.Mutex
	urls []string
}

func newRemoteServer(t testing.TB) *remoteServer {
	rs := &remoteServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.n.Add(1)
		rs.mu.Lock()
		rs.urls = append(rs.urls, r.URL.String())
		rs.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<script>window.__pwned='remote'</script>"))
	}))
	t.Cleanup(rs.Close)
	return rs
}

func (rs *remoteServer) requests() (int64, []string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.n.Load(), append([]string{}, rs.urls...)
}

// hostileMails are mails whose every trick, if it worked, sets window.__pwned or makes a
// request to remote.
func hostileMails(remote string) []testMail {
	r := func(s string) string { return strings.ReplaceAll(s, "REMOTE", remote) }
	return []testMail{
		{name: "hostile", mailbox: "poststelle", received: t0.Add(5 * time.Hour), raw: r(`From: "<script>window.__pwned='from'</script>" <evil@example.org>
To: poststelle@stk.example.de
Subject: <img src=x onerror="window.__pwned='subject'"><script>window.__pwned='subject2'</script> =?utf-8?q?Hallo=0D=0AX-Evil:_1?=
Message-ID: <hostile-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Plain text with <script>window.__pwned='text'</script> and <img src=x onerror="window.__pwned='text2'">
and a link javascript:window.__pwned='textlink' and REMOTE/text-url.png
--alt
Content-Type: text/html; charset=utf-8

<html><head>
<base href="REMOTE/base/">
<link rel="stylesheet" href="REMOTE/link.css">
<style>@import url(REMOTE/import.css); body { background: url(REMOTE/bg.png) }</style>
<meta http-equiv="refresh" content="0;url=REMOTE/refresh">
<script>window.__pwned = 'script';</script>
<script src="REMOTE/script.js"></script>
</head><body onload="window.__pwned='bodyonload'">
<p id="hostile-p">Hostile HTML text</p>
<img src="REMOTE/img.png" onerror="window.__pwned='onerror'" alt="remote image">
<img src="x" onerror="window.__pwned='onerror2'">
<img srcset="REMOTE/srcset.png 2x">
<a href="javascript:window.__pwned='jslink'" id="jslink">Klick mich</a>
<a href="  JaVaScRiPt:window.__pwned='jslink2'">Klick mich auch</a>
<a href="data:text/html,<script>window.__pwned='data'</script>">data link</a>
<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned='svgonload'"><script>window.__pwned='svgscript'</script><image href="REMOTE/svgimage.png"/></svg>
<div style="background-image:url(REMOTE/style-attr.png)">styled div</div>
<iframe src="REMOTE/iframe.html"></iframe>
<iframe srcdoc="<script>parent.__pwned='srcdoc'</script>"></iframe>
<object data="REMOTE/object.swf"></object>
<embed src="REMOTE/embed.swf">
<video src="REMOTE/video.mp4" autoplay poster="REMOTE/poster.png"></video>
<audio src="REMOTE/audio.mp3" autoplay></audio>
<form action="REMOTE/form"><input name="x" autofocus onfocus="window.__pwned='onfocus'"><button>Go</button></form>
<details open ontoggle="window.__pwned='ontoggle'"><summary>Details</summary>inside</details>
<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned='mxss'">
<noscript><p title="</noscript><img src=x onerror=window.__pwned='noscript'>"></noscript>
<table background="REMOTE/table-bg.png"><tr><td>table cell</td></tr></table>
<a href="REMOTE/link-click">harmless link</a>
</body></html>
--alt--
--outer
Content-Type: image/svg+xml; name="bild.svg"
Content-Disposition: attachment; filename="bild.svg"

<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned='svgattach'"><script>window.__pwned='svgattach2'</script><image href="REMOTE/svg-attachment.png"/></svg>
--outer
Content-Type: text/html; charset=utf-8
Content-Disposition: attachment; filename*=utf-8''..%2F..%2Fetc%2F%01%1B%5B31m%3Cimg%20src%3Dx%20onerror%3Dwindow.__pwned%3D%27fname%27%3E.html

<script>window.__pwned='htmlattach'</script><img src="REMOTE/html-attachment.png">
--outer
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="..\..\Windows\system32\evil	name.exe"
Content-Transfer-Encoding: base64

TVqQAAMAAAAEAAAA//8AAA==
--outer--
`)},
		{name: "htmlonly", mailbox: "poststelle", received: t0.Add(6 * time.Hour), raw: r(`From: Spam <spam@example.org>
To: poststelle@stk.example.de
Subject: HTML only
Message-ID: <hostile-2@example.org>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<body onload="window.__pwned='htmlonly'"><h1>Gewinn!</h1><img src="REMOTE/htmlonly.png"><a href="javascript:window.__pwned='htmlonly2'">hier</a><style>*{background:url(REMOTE/htmlonly-bg.png)}</style></body>
`)},
	}
}
