// Package mailparse is the tolerant mail parser of intake. It reads one mail as delivered to
// the office mailbox and returns what the register and the acknowledgement policy need:
// every header field (duplicates kept), the Return-Path values, decoded addresses, subject,
// Message-ID and threading identifiers, the MIME structure (media types, report type,
// attachment names) and a bounded plain-text excerpt of the body.
//
// It follows, and is deliberately lenient about:
//   - RFC 5322 (Internet Message Format): header fields and folding (§2.2, §2.2.3), address
//     lists (§3.4, parsed with net/mail), Date (§3.3), identifiers (§3.6.4), Return-Path
//     (§3.6.7), the obsolete syntax of §4. CRLF, bare LF and bare CR line ends are accepted
//     (a lone CR is read as a line end).
//   - RFC 2045/2046 (MIME): Content-Type and parameters, Content-Transfer-Encoding,
//     multipart boundaries (RFC 2046 §5.1.1) and the defaults of RFC 2045 §5.2 and
//     RFC 2046 §5.1.5; RFC 2183 Content-Disposition.
//   - RFC 2047 encoded words in any charset known to go-message/charset (with a fallback for
//     unpadded base64), RFC 2231 parameter continuations and charsets.
//   - RFC 6522 multipart/report (ReportType) so that DSNs (RFC 3464), MDNs (RFC 8098) and
//     ARF reports (RFC 5965) can be recognised by the policy.
//   - RFC 3464 §2 delivery-status fields (DSN: Reporting-MTA, and per recipient
//     Final-Recipient, Action, Status, Diagnostic-Code), also in the RFC 6533 global form.
//   - The header sections of returned mail (ReturnedMessageIDs, ReturnedSubjects):
//     message/rfc822 (RFC 2046 §5.2.1), text/rfc822-headers (RFC 6522 §4) and their RFC 6533
//     variants, and for a bounce also header blocks pasted into its text/plain parts (qmail,
//     Exchange "Original message headers"). Only header sections are read, each up to 64 KiB.
//   - RFC 8601 Authentication-Results (AuthResults), leniently: comments, quoted strings,
//     versions, the "none" form, and Microsoft 365's fields without an authserv-id.
//     RFC 8617 ARC-Authentication-Results (ARCAuthResults) with their instance number.
//     The hand-made parser was kept over go-msgauth's authres.Parse, which rejects every
//     Microsoft 365 field (no authserv-id) and Yahoo's "from=" form found in the corpus.
//
// Raw 8-bit header bytes that are not UTF-8 are read as windows-1252 before any further
// parsing (autoreply-rules.md M2), so that an address still parses.
//
// Robustness (autoreply-rules.md M3): the MIME walk is iterative (no recursion), every open
// multipart's boundary is recognised so a missing close delimiter cannot swallow the rest of
// the mail, boundaries are limited in length, and Limits bounds header size, part count,
// nesting depth and kept text. Only the first text body is kept; other bodies are streamed
// past (a bounce's further text/plain parts are searched for returned headers, bounded).
// message/rfc822 parts are not walked into (only their header section is read, for
// ReturnedMessageIDs): a forwarded or returned mail's structure is not this mail's. Parse
// recovers from internal panics and reports them as Problems; it fails only when no header
// section can be read.
//
// Bodies are decoded with go-message (message.New applies the transfer encoding and the
// charset); github.com/emersion/go-message/charset is imported so that charsets other than
// UTF-8 are known. The line-level multipart splitter is our own because go-message's
// reader stops at the first malformed part header and does not bound part headers.
package mailparse
