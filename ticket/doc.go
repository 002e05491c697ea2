// Package ticket is the register: case references, cases, messages and their
// acknowledgements, kept in an embedded bbolt database (dataDir/intake.db) with the raw
// mails beside it (dataDir/raw/). It knows nothing of IMAP or SMTP.
//
// # References
//
// A reference looks like STK-2026-000042-6: a prefix (1-10 of A-Z0-9), the year of receipt,
// a running number zero padded to at least 6 digits, and a check digit. The check digit is
// the Damm check digit over the digits of the year followed by the padded number; Damm's
// quasigroup catches every single-digit error and every transposition of adjacent digits,
// the check digit included. ParseReference accepts what people type ("stk 2026 42 6",
// "STK2026000042-6"); FindReferences finds references in subjects and other free text.
//
// # Register
//
// Store.Register registers one mail in a single bbolt Update transaction: dedupe, number
// (or attach a follow-up to its case), write message, case and indexes, write the ack's
// outbox entry or its suppression reason, raise the UID watermark. Either all of it is
// committed or nothing is. The raw mail is written first with StoreRaw (fsynced file and
// directory), so a committed message never names a missing file.
//
// # Buckets
//
// Integers in keys are big endian, times are 8-byte sortable Unix nanoseconds
// (1678-2262), "/" and 0 below are the 0 byte separating key parts. Values are JSON.
//
//	meta        "schema" -> "2" (written on create; a newer version is refused, an older
//	            one migrated in place by Open, in one transaction)
//	counters    one sub-bucket per "PREFIX/YEAR"; its NextSequence is the running number
//	cases       prefix 0 year(2) number(8) -> case record (no messages, but their Seqs)
//	messages    seq(8) -> message record (with the reference of its case)
//	uid         mailbox 0 uidvalidity(4) 0 uid(4) -> seq
//	dedupe      mailbox 0 ("mid:"+Message-ID | "sha256:"+raw hash) -> seq
//	msgid       mailbox 0 Message-ID -> case key; the mail's and our ack's Message-IDs
//	sender      sender 0 created 0 case key -> ""  (List walks it backwards: newest first)
//	outbox      mailbox 0 nexttry 0 seq(8) -> ""  (pending acks, earliest first)
//	watermarks  mailbox 0 uidvalidity(4) -> highest registered uid(4)
//
// Added by schema version 2 (Open builds the index bucket from the cases and messages of
// a version 1 database, and drops version 1's created index, created 0 case key, which
// the status index replaces):
//
//	index       three key spaces in one bucket, told apart by their first byte:
//	            's' status 0 created 0 case key -> ""  (List: by status, or all statuses
//	                merged by created, newest first)
//	            'r' recipient 0 received 0 seq(8) -> ""  (every ack that was due; RateRule)
//	            't' sentat 0 seq(8) -> ""  (written by RecordAck(AckSent); AcksSentSince)
//	settings    key -> value  (PutSetting, GetSetting)
//
// Message-IDs longer than 200 bytes are replaced in keys by "sha256:" and their hash.
//
// Records stay under about 1,800 bytes so that they share 4 KiB pages (a value of about
// 2 KB or more gets overflow pages of its own): subject 256 bytes, To and attachments 8
// entries, In-Reply-To and References 4 Message-IDs (the first and the last three), SMTP
// replies 256 bytes; a record still too large loses list entries first. Cut strings end in
// "…". A case keeps at most 20 links. Only a case with very many follow-ups grows past the
// limit (its list of Seqs).
//
// # Invariants
//
//   - Gapless: a number is taken from the counter of (prefix, year of receipt in the
//     office time zone) only inside the transaction that writes its case. A rolled-back
//     transaction (any error, a crash before commit) gives its number back; duplicates and
//     follow-ups take none. So the numbers of a prefix and year are 1, 2, 3, ... without
//     holes, never reused.
//   - Exactly once: a mail is found again by (mailbox, UIDVALIDITY, UID) and by its
//     Message-ID (or, without one, the SHA-256 of its raw bytes), in the same transaction
//     that would register it, and the watermark only rises. A mail fetched again after a
//     crash, a reconnect or a UIDVALIDITY change is reported as Duplicate with its
//     existing reference.
//   - Every message has an ack state: pending (and then exactly one outbox entry),
//     suppressed with a reason, sent, failed or bounced.
//   - Rate limits are counted inside the registering transaction from the ackrate index
//     and the case's messages, so they hold across restarts and within a RegisterBatch,
//     and a rolled-back registration counts for nothing.
//
// A follow-up (Incoming.FollowUpOf) of a case that does not exist opens a new case;
// Registration.NewCase says which happened. A mail that names a case its sender never
// wrote on as a verified sender (Store.CaseHasVerifiedSender) opens a new case linked to
// it (Incoming.LinkTo). The status of a case follows new -> in_progress -> closed, and
// closed -> in_progress again
// (Store.SetStatus). Stored times keep their offset but not their time.Location.
//
// All Store methods are safe for concurrent use; bbolt serialises the writers.
package ticket
