// Package intake is the daemon: one watcher per configured mailbox that follows
// the office folder over IMAP, registers every mail in the register (package
// ticket) and marks it on the server afterwards, and one responder per mailbox
// that sends the due acknowledgements over SMTP.
//
// The way of one mail (see DESIGN.md § One mail's way):
//
//  1. watch: SELECT the folder, read UIDVALIDITY and the stored watermark, then
//     wait with IDLE (RFC 2177), re-issued well before the 29 minutes the RFC
//     allows, or poll where the server has no IDLE;
//  2. fetch every UID above the watermark with BODY.PEEK[] (RFC 3501 §6.4.5:
//     PEEK does not set \Seen), streamed into a content-addressed file;
//  3. parse tolerantly (package mailparse), decide (package policy);
//  4. register in one transaction (ticket.Store.Register);
//  5. mark on the server (keyword and/or MOVE, RFC 6851) only after the commit;
//  6. respond: the responder renders the acknowledgement and sends it.
//
// go-imap v2 has no context and no reply deadline, so every command here runs
// under a guard that closes the connection when it takes too long; the
// watcher then reconnects with backoff and jitter.
package intake
