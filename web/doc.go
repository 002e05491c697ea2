// Package web is the clerks' interface to the register: a server-rendered web UI
// (net/http, html/template; it works without JavaScript) and a JSON API under /api/.
//
// # What it offers
//
//   - Search (GET /): one box that takes a reference typed any way (ticket.ParseReference
//     is tolerant) and opens the case; a reference with a wrong check digit answers
//     "Meinten Sie …?" with the existing cases whose reference is one digit away (every
//     single-digit change and every swap of two adjacent digits, DIN/ISO 7064-style errors,
//     which the Damm check digit always detects); otherwise sender, name or full text
//     through the search index (package search), with filters for date of receipt,
//     status, mailbox and kind, paged, newest first (or by relevance). Without a search
//     index it falls back to the register's filters.
//   - Case view (GET /cases/{ref}): every message in order with from, to, date of
//     receipt, subject and text body (the text mailparse extracts; HTML mail can be shown
//     sanitised with bluemonday's UGCPolicy, images removed), attachments and the raw
//     .eml as downloads, each acknowledgement with its status, suppression reason
//     (policy.Explain) and SMTP reply, linked cases, internal notes and the assignee.
//   - Work on a case: status (new → in_progress → closed, reopen), notes, assignment.
//   - Audit log for admins (GET /admin/audit): every login, search, view, download and
//     change, with who, when, what and which case (ticket.Store.AppendAudit; views,
//     searches and downloads through ticket.Store.AppendAuditDeferred: journaled before
//     the answer, committed with the others of the next 0.1 s).
//   - JSON API with bearer tokens: GET /api/cases, GET /api/cases/{ref},
//     POST /api/cases/{ref}/status; the JSON field names are those of package ticket.
//
// # Access
//
// Nothing but the login page and the style sheet is served without a login: pages
// redirect to /login, /api/ answers 401 (RFC 6750 §3). Clerks see only the cases of the
// mailboxes granted to them (a case of another mailbox is "not found", so its existence
// does not leak), admins all. Accounts and tokens live in the register (ticket/accounts.go)
// and are checked at every request, so disabling a user ends their sessions at once.
//
// Sessions are random 256-bit IDs in a cookie marked HttpOnly, SameSite=Strict and
// Secure (config web.cookie_secure), with an idle and an absolute timeout. They are kept
// in the memory of the server: a restart logs everyone out. Failed logins are counted
// (golang.org/x/time/rate token buckets) per (account, client) and per client across
// accounts, never per account alone: after 5 (per account and client) or 20 (per client)
// failures a further attempt waits 1 s, then 2 s, 4 s, … up to 15 minutes, and a correct
// password from a client that has not failed is never refused. Each attempt is reserved
// before the password is checked. Failed API tokens count in a bucket of their own. At
// most four password checks (argon2id, 64 MiB each) run at once; user names over 64 bytes
// are refused before they are checked, logged or counted; the limiter tracks a bounded
// number of keys (limit.go).
//
// State-changing requests are protected against cross-site request forgery by
// http.CrossOriginProtection (Fetch Metadata Sec-Fetch-Site, else Origin against Host)
// and the SameSite=Strict cookie. Every response carries a strict Content-Security-Policy
// (no script at all, styles and images from this origin only, forms to this origin only,
// no framing, no <base>), X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer
// and related headers. Mail content is always escaped by html/template; the optional HTML
// view is sanitised by bluemonday and never loads remote resources. Attachments and raw
// mails are served as application/octet-stream with Content-Disposition: attachment.
//
// An optional trusted reverse-proxy header (web.trusted_proxy_header) logs in the user
// it names, for single sign-on. It and X-Forwarded-For (the client address for the
// limiter and the audit log) are honoured only when the TCP peer is in
// web.trusted_proxies, which the header requires.
//
// # Language
//
// The interface is German; ?lang=en (remembered in a cookie) switches it to English and
// ?lang=de back. The html element carries the lang attribute. The pages follow WCAG 2.1
// AA basics: labels for every field, landmarks (header, nav, main, footer), a skip link,
// visible focus, contrast of at least 4.5:1, a focus order that follows the reading
// order, and no function that needs a mouse or JavaScript.
//
// # Clerks first
//
// NewServer's Server wires a connection's goroutine to a thread of its own at the first
// request that proves a user's session or API token (raiseClerk), and raises that thread
// to web.request_nice (priority.go), so that a lookup is not queued behind the drain;
// between requests the raised thread waits for the clerk's next one in ppoll(2) on its
// connection, so that the kernel wakes it (raisedconn.go). From each answer's end to the
// connection's idle state the goroutine lets go of its thread, so that net/http's wait for
// its background read does not make the Go runtime hand it to another thread and back; a
// thread it leaves is lowered at the next wiring or after 10 ms. The daemon lowers the
// rest of its threads to work_nice before the server starts (package internal/worknice),
// so that the raise also counts against whatever shares intake's scheduling group.
// Authenticated requests also make the drain step aside while they are answered (package
// clerkgate).
//
// # Wiring
//
//	h, err := web.New(web.Options{Store: store, Search: idx, Config: cfg, Logger: log})
//	ln, err := net.Listen("tcp", cfg.Web.Listen)
//	srv := web.NewServer(cfg.Web.Listen, cfg.Web.RequestNiceness(), h, log)
//	go srv.Serve(ln)
//	... srv.Shutdown(ctx)
package web
