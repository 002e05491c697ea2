package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/ticket"
)

// maxUserNameBytes is the longest valid user name (ticket.ValidUserName).
const maxUserNameBytes = 64

// accountName normalises a user name given on the command line, or explains why it is
// refused, without echoing an over-long name.
func accountName(raw string) (string, error) {
	if len(raw) > maxUserNameBytes+8 { // room for surrounding blanks
		return "", fmt.Errorf("user name of %d bytes is too long: use at most 64 of a-z 0-9 . _ @ -", len(raw))
	}
	name := ticket.NormalizeUserName(raw)
	if !ticket.ValidUserName(name) {
		return "", fmt.Errorf("user name %q: use 1-64 of a-z 0-9 . _ @ - (at most 64 bytes)", raw)
	}
	return name, nil
}

// printWebTrust says whom the web interface trusts for what: the single-sign-on
// header and X-Forwarded-For, and from which peers.
func printWebTrust(w io.Writer, cfg *config.Config) {
	wc := cfg.Web
	if wc.Listen == "" {
		return
	}
	nets, err := config.ParsePrefixes(wc.TrustedProxies)
	if err != nil { // validation has refused it already
		return
	}
	var list []string
	for _, p := range nets {
		list = append(list, p.String())
	}
	from := strings.Join(list, ", ")
	if wc.TrustedProxyHeader != "" {
		fmt.Fprintf(w, "ok    web: single sign-on header %s honoured only from %s\n", wc.TrustedProxyHeader, from)
	}
	if len(list) == 0 {
		// intake speaks plain HTTP: an https base_url means a TLS proxy in front.
		if strings.HasPrefix(wc.BaseURL, "https:") {
			fmt.Fprintf(w, "WARN  web: base_url is https, so a reverse proxy is in front, but web.trusted_proxies is empty: "+
				"every client counts as the proxy's address, and failed logins of one throttle all (set trusted_proxies)\n")
			return
		}
		fmt.Fprintf(w, "ok    web: client address = TCP peer; X-Forwarded-For is ignored (no web.trusted_proxies)\n")
		return
	}
	fmt.Fprintf(w, "ok    web: client address from X-Forwarded-For from %s, else the TCP peer\n", from)
}
