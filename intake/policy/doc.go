// Package policy decides whether a registered mail gets an automatic acknowledgement.
//
// Decide is pure: a function of the parsed mail (mailparse.Message) and the mailbox's
// Settings, with no I/O, so that the daemon, `intake explain`, the corpus tests and the fuzz
// target all run the same code. Every "no" carries a reason code (Reason) and the rule that
// produced it; the mail itself is always registered.
//
// The rules are those of reference/autoreply-rules.md, evaluated in its order, the first
// match deciding:
//
//   - S1 null or ambiguous sender (RFC 3834 §2 and §4, RFC 3464 §2, RFC 8098 §2.1)
//   - S2 Auto-Submitted other than "no" (RFC 3834 §5, RFC 5230 §4.6)
//   - S3 machine reports: multipart/report (RFC 6522), DSN (RFC 3464), MDN (RFC 8098),
//     ARF (RFC 5965), and their RFC 6533 variants (RFC 3834 §3.2.1)
//   - S4 system local-parts (RFC 5230 §4.6, RFC 3834 §2)
//   - S5 list fields (RFC 2369, RFC 2919; RFC 5230 §4.6)
//   - S6 Precedence bulk/list/junk (RFC 3834 §7 example)
//   - S7 X-Auto-Response-Suppress All/OOF/AutoReply (MS-OXCMAIL §2.1.3.2.20)
//   - S8 vendor auto-reply markers (Exchange, Zammad, RT)
//   - S9 subject heuristics, optional and only ever suppressing (RFC 3834 §3.1.5)
//   - S10 our own mail coming back (loop header, Message-ID domain, own addresses)
//   - S11 spam verdict of the receiving filter (RFC 3834 §7 example)
//   - A1 the office is not named in To/Cc/Bcc/Resent-* (RFC 3834 §2, RFC 5230 §4.5), optional
//   - B1 only trusted Authentication-Results count (RFC 8601 §2.5, §5), chosen by
//     Settings.Verification: those whose authserv-id is Settings.AuthservID (the office's own
//     MTA), the topmost field without authserv-id (Exchange Online), or the topmost field of
//     mx.google.com (Google Workspace); plus the newest ARC-Authentication-Results of a
//     Settings.TrustedARCSealers sealer (RFC 8617). Without any no B rule applies
//   - B3 a trusted spf=fail or dmarc=fail (AUTH_FAIL), whenever a verification is configured
//   - B2 with RequireAuthenticated: no trusted SPF pass for the reply address and no DKIM or
//     DMARC pass aligned with its domain (UNAUTHENTICATED; RFC 3834 §2, §6 "return addresses
//     are easily forged")
//   - B4 with RequireAuthenticated: no trusted Authentication-Results at all (UNAUTHENTICATED)
//
// The recipient (A2) is the single Return-Path address (RFC 3834 §4, RFC 5230 §4); only a
// mail without any Return-Path field falls back to its single From address. Reply-To and
// Sender are never used (RFC 3834 §4). The B rules authenticate that recipient.
//
// Decision.Verified (issue 8) says whether a trusted result proves that recipient: an SPF
// pass for it, a DKIM, DMARC or Exchange compauth pass aligned with its domain, or such a
// pass in a trusted sealer's ARC result. It is computed for every mail with a recipient,
// whatever the decision; it decides whether the acknowledgement may repeat the sender's text.
//
// The R rules (once per message, per-sender rate, follow-ups, circuit breaker) need state and
// are applied by the caller after an Ack decision, using the reason codes declared here.
//
// # The whole acknowledgement decision
//
// Decide is the first stage. The stages after it, in the order a mail meets them, are all in
// this table; Reasons lists every code and Explain explains each in German and English. The
// first stage that says no stores its code with the message (ticket Ack.Reason); later stages
// do not run. A stage without a code changes how or when the acknowledgement goes out, not
// whether.
//
//	stage                         where in the code                           code
//	----------------------------  ------------------------------------------  ---------------
//	mail unreadable (or a panic)  intake/watcher.go  (*watcher).malformed     MALFORMED
//	the rules S, A, B above       intake/policy      Decide                   S/A/B codes
//	thread / follow-up / bounce   intake/followup.go (*watcher).thread        - (sets the case)
//	ack disabled for the mailbox  intake/watcher.go  (*watcher).decide        ACK_DISABLED
//	older than [mailbox.ack]      intake/watcher.go  (*watcher).decide        TOO_OLD
//	  max_age
//	verification echo             intake/watcher.go  AckEcho                  - (full/minimal)
//	follow-up, follow_up_ack off  ticket/rate.go     rateLimit                FOLLOW_UP
//	case acked in the last 24 h   ticket/rate.go     rateLimit                RATE_CASE
//	per_sender_limit              ticket/rate.go     rateLimit                RATE
//	per_domain_limit (unverified) ticket/rate.go     rateLimit                RATE_DOMAIN
//	unverified_hourly_cap         ticket/rate.go     rateLimit                RATE_UNVERIFIED
//	  (at registration)
//	neither recipient nor code    ticket/register.go register                 NO_RECIPIENT
//	hourly_cap, daemon-wide       intake/responder.go (*responder).sendBatch  - (held in the
//	  (the smallest of the        intake/ackcap.go   (*ackCap).allow            outbox until
//	  mailboxes')                                                              the hour ends)
//	unverified_hourly_cap         intake/responder.go                         - (held, counted
//	  (at send time)                (*responder).holdUnverified                 as RATE_UNVERIFIED
//	                                                                           in intake_acks_held;
//	                                                                           failed after 72 h)
//	case purged while pending     ticket/purge.go    scrubMessage             PURGED
//	(not stored today)            -                                           OVERSIZE
//	interim notice suppressed     ticket/interim.go  SuppressInterim          CLERK
//	  by a clerk
//	interim notice: ack not sent  ticket/interim.go  EnqueueDueInterims       NO_ACK
//	  or bounced
//
// The rate stages run in the transaction that registers the mail (ticket.RateRule), and only
// for a mail that has a recipient after the stages before them. ticket keeps its own copies of
// the codes it stores (it must not import policy); TestRateReasonsAreThePolicyCodes and
// TestEveryStoredReasonIsExplained in package intake check that they are the codes listed here.
//
// For threading and bounces of our own acknowledgements the package offers pure helpers:
// ThreadIDs (the Message-IDs a mail replies to, newest first), OurAck (the first Message-ID
// of one of our acknowledgements the mail returns or refers to) and BounceStatus (the RFC 3463
// status of a delivery failure, from the DSN or the bounce text).
package policy
