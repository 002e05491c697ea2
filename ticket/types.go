package ticket

import (
	"errors"
	"time"
)

// Sentinel errors; test with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrLocked       = errors.New("register is locked by another process")
	ErrCheckDigit   = errors.New("wrong check digit")
	ErrBadReference = errors.New("not a valid reference")
	// ErrTooLarge: StoreRaw met more than max bytes.
	ErrTooLarge = errors.New("message too large")
	// ErrNotPending: RecordAck for a message whose ack is not (or no longer) pending.
	ErrNotPending = errors.New("ack not pending")
	// ErrBadTransition: SetStatus with a status change the workflow does not allow, or
	// MarkBounced of an ack that was never due.
	ErrBadTransition = errors.New("status change not allowed")
)

// CaseStatus is the processing state of a case.
type CaseStatus string

// Kind tells what sort of mail opened a case.
type Kind string

// AckStatus is the state of the acknowledgement of one message.
type AckStatus string

const (
	StatusNew        CaseStatus = "new"
	StatusInProgress CaseStatus = "in_progress"
	StatusClosed     CaseStatus = "closed"
)

const (
	KindCitizen   Kind = "citizen"
	KindAutomated Kind = "automated"
	KindMalformed Kind = "malformed"
)

const (
	AckPending    AckStatus = "pending"
	AckSent       AckStatus = "sent"
	AckSuppressed AckStatus = "suppressed"
	AckFailed     AckStatus = "failed"
	AckBounced    AckStatus = "bounced"
)

// Suppression reasons Register itself stores.
const (
	// ReasonNoRecipient: the caller gave neither an ack recipient nor a reason.
	ReasonNoRecipient = "NO_RECIPIENT"
	// ReasonRate: Incoming.Rate allowed no further ack to this recipient (PerSenderLimit).
	ReasonRate = "RATE"
	// ReasonRateCase: a follow-up of a case that had an ack within FollowUpWindow.
	ReasonRateCase = "RATE_CASE"
	// ReasonFollowUp: a follow-up of an existing case while RateRule.FollowUpAck is false.
	ReasonFollowUp = "FOLLOW_UP"
	// ReasonRateDomain: RateRule.PerDomainLimit acks to unverified senders of the domain.
	ReasonRateDomain = "RATE_DOMAIN"
	// ReasonRateUnverified: the hourly budget of acks to unverified senders is used up
	// (RateRule.UnverifiedHourlyCap).
	ReasonRateUnverified = "RATE_UNVERIFIED"
)

// maxLinks bounds Case.Links so that a case record stays small; a case mentioned by more
// cases keeps its first maxLinks links (each new case still links back to it).
const maxLinks = 20

// Case is one entry of the register. The JSON field names are a public contract
// (DESIGN.md § Contracts).
type Case struct {
	Reference Reference  `json:"reference"`
	Mailbox   string     `json:"mailbox"`
	Status    CaseStatus `json:"status"`
	Kind      Kind       `json:"kind"`
	Created   time.Time  `json:"created"` // Received of the first message
	Updated   time.Time  `json:"updated"` // latest Received of its messages
	Sender    string     `json:"sender"`  // lower-cased address of the first message's From
	Subject   string     `json:"subject"` // first message's subject
	// StatusAt is when SetStatus last changed Status (zero while the case is new).
	StatusAt time.Time `json:"status_at,omitzero"`
	// Links are the linked cases, both directions: a case opened with Incoming.LinkTo
	// names the case it mentions, and that case names it back (at most maxLinks).
	Links []Reference `json:"links,omitempty"`
	// Purged is when Purge deleted the case's mails and personal data (zero while they
	// are kept); the case stays as a minimal register entry.
	Purged   time.Time `json:"purged,omitzero"`
	Messages []Message `json:"messages"`
}

// Message is one registered mail. Register caps long fields before storing them (see
// doc.go), so a stored Message may hold less than was passed in.
type Message struct {
	Seq         uint64    `json:"seq"` // store-wide id, assigned by Register
	Mailbox     string    `json:"mailbox"`
	UIDValidity uint32    `json:"uid_validity"`
	UID         uint32    `json:"uid"`
	MessageID   string    `json:"message_id"` // without <>, "" when the mail had none
	From        string    `json:"from"`       // address
	FromName    string    `json:"from_name,omitempty"`
	To          []string  `json:"to,omitempty"`
	Subject     string    `json:"subject"`
	Date        time.Time `json:"date,omitzero"` // Date header
	Received    time.Time `json:"received"`      // IMAP INTERNALDATE
	Size        int64     `json:"size"`
	RawSHA256   string    `json:"raw_sha256,omitempty"`
	Attachments []string  `json:"attachments,omitempty"`
	InReplyTo   []string  `json:"in_reply_to,omitempty"`
	References  []string  `json:"references,omitempty"`
	Malformed   string    `json:"malformed,omitempty"` // why the parser failed
	Oversize    bool      `json:"oversize,omitempty"`
	// VerifiedSender is the envelope sender (Return-Path) that a trusted SPF, DKIM or DMARC
	// result proved, lower case; "" when the sender was not verified. Only a verified sender
	// who wrote on a case may add to it, and only acks to unverified senders count against
	// RateRule.PerDomainLimit and UnverifiedHourlyCap.
	VerifiedSender string `json:"verified_sender,omitempty"`
	VerifiedBy     string `json:"verified_by,omitempty"` // "spf", "dkim", "dmarc", ...
	// MessageIDReused: another, different mail (other content) of the mailbox was
	// registered earlier with this Message-ID; this one was registered on its own.
	MessageIDReused bool `json:"message_id_reused,omitempty"`
	Ack             Ack  `json:"ack"`
}

// Ack is the state of the acknowledgement of one message.
type Ack struct {
	Status    AckStatus `json:"status"`
	Reason    string    `json:"reason,omitempty"`     // suppression reason code
	Recipient string    `json:"recipient,omitempty"`  // envelope recipient of the ack
	MessageID string    `json:"message_id,omitempty"` // our ack's Message-ID, without <>
	Attempts  int       `json:"attempts,omitempty"`
	NextTry   time.Time `json:"next_try,omitzero"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	Reply     string    `json:"reply,omitempty"` // last SMTP reply or error
	// Bounce is the status code of a bounce of the ack (RFC 3464 §2.3.4, e.g. "5.1.1"),
	// set by MarkBounced; BouncedAt is when it was recorded.
	Bounce    string    `json:"bounce,omitempty"`
	BouncedAt time.Time `json:"bounced_at,omitzero"`
	// Echo is the kind of acknowledgement planned or sent: EchoFull repeats the sender's
	// subject and attachment names, EchoMinimal carries only the reference, the time of
	// receipt and the office's own text (issue 8). It is decided at registration, so the
	// responder only renders it; "" (records from before) is rendered as EchoMinimal.
	Echo string `json:"echo,omitempty"`
	// EchoReason says why, in words for the clerk: "sender verified by dkim", "sender not
	// verified", "echo = never", "echo = always".
	EchoReason string `json:"echo_reason,omitempty"`
	// InFlight is set (AckBatch.MarkSending, kept by its journal across a kill -9) just
	// before the end of the ack's SMTP DATA and cleared by the attempt's result: an ack
	// that still has it after a crash may have been accepted by the server, and
	// MaybeSent says it was sent again (with the same Message-ID) after such a crash.
	InFlight  time.Time `json:"in_flight,omitzero"`
	MaybeSent bool      `json:"maybe_sent,omitempty"`
}

// Kinds of acknowledgement (Ack.Echo).
const (
	EchoFull    = "full"
	EchoMinimal = "minimal"
)

// Incoming is what Register needs to register one mail.
type Incoming struct {
	Prefix   string
	Location *time.Location // office time zone; the year of Message.Received in it picks the counter (nil = UTC)
	// Message is filled by the caller (Mailbox, UIDValidity, UID, MessageID, ..., RawSHA256);
	// Seq and Ack.Status/Reason/Recipient/MessageID are set by Register. A non-zero
	// Ack.NextTry delays the first send attempt; otherwise the ack is due at Received.
	Message        Message
	Kind           Kind       // "" = KindCitizen
	AckRecipient   string     // set => an outbox entry (AckPending) is written
	SuppressReason string     // set (and AckRecipient empty) => AckSuppressed with this reason
	AckDomain      string     // domain used for our ack's Message-ID; required with AckRecipient
	FollowUpOf     *Reference // attach to this existing case; an unknown case opens a new one
	// LinkTo opens a NEW case linked (both directions) to this existing one: a mail that
	// mentions a case its sender never wrote on must not be posted into that case. An
	// unknown case opens a new case without a link. FollowUpOf wins when its case exists.
	LinkTo *Reference
	// Rate limits the ack inside Register's transaction (nil = no limits); see RateRule.
	Rate *RateRule
	// AckEcho and AckEchoReason are stored as Ack.Echo and Ack.EchoReason when an ack is
	// due (AckRecipient set and not suppressed by Rate).
	AckEcho, AckEchoReason string
	// Bounce, when set, is a bounce of one of our acks that this mail reports: Register
	// marks that ack bounced (as MarkBounced) in the same transaction that registers the
	// mail, so a crash can never keep the one without the other.
	Bounce *BounceMark
}

// BounceMark names the ack a bounce reports on and what it says.
type BounceMark struct {
	// Interim, when set, names the case whose interim notice bounced (Seq is then unused).
	Interim *Reference
	Seq     uint64 // the message whose ack bounced
	Status  string // RFC 3464 §2.3.4 status, e.g. "5.1.1"
	Detail  string
	At      time.Time
}

// RateRule limits acknowledgements. Register applies it, in the same transaction that
// registers the mail, only when Incoming.AckRecipient is set:
//
//   - a follow-up (attached to an existing case) while !FollowUpAck: suppressed with
//     ReasonFollowUp;
//   - a follow-up whose case already has an ack (any status but suppressed) for a message
//     received in (Received-FollowUpWindow, Received]: ReasonRateCase;
//   - PerSenderLimit or more acks (any status but suppressed) to the same recipient (lower
//     case, "+detail" removed from the local part) for messages received in
//     (Received-PerSenderWindow, Received]: ReasonRate;
//   - for a recipient that is not Message.VerifiedSender: PerDomainLimit or more acks to
//     unverified recipients of the same domain in that window: ReasonRateDomain; and, with
//     LimitUnverified, UnverifiedHourlyCap or more acks to unverified recipients (whole
//     register) for messages received in the last hour: ReasonRateUnverified.
//
// Only acks that were due count, so a suppressed mail never extends a limit; an ack
// suppressed by the rule keeps its Recipient, so the clerk sees who got none. The counts
// are read from the database (the ackrate index, the messages of the case): they hold
// across restarts, see the earlier mails of the same RegisterBatch, and a rolled-back
// transaction leaves them unchanged.
type RateRule struct {
	PerSenderLimit  int           // acks to one recipient within PerSenderWindow; 0 = unlimited
	PerSenderWindow time.Duration // default 24h when 0
	FollowUpAck     bool          // false: a follow-up gets no ack at all (ReasonFollowUp)
	FollowUpWindow  time.Duration // at most one ack per case within this window (default 24h when 0)
	// PerDomainLimit: acks to unverified recipients of one domain within PerSenderWindow;
	// 0 = unlimited. Verified senders are limited per address only.
	PerDomainLimit int
	// LimitUnverified applies UnverifiedHourlyCap: acks to unverified recipients per hour
	// (by Received, all mailboxes of the register); 0 then means none at all.
	LimitUnverified     bool
	UnverifiedHourlyCap int
}

// Registration is the result of Register.
type Registration struct {
	Reference Reference
	Seq       uint64
	NewCase   bool
	// Duplicate: already registered by (mailbox, UIDVALIDITY, UID) or by (mailbox,
	// Message-ID | raw hash); nothing new was written except the watermark.
	Duplicate bool
	// RateLimited: an ack was asked for (AckRecipient) but Incoming.Rate suppressed it
	// with ReasonRate, ReasonRateCase, ReasonRateDomain or ReasonRateUnverified. (A ReasonFollowUp
	// suppression does not set it.)
	RateLimited bool
	// Bounced: Incoming.Bounce was marked on its ack in this transaction; BounceErr says
	// why not when the ack could not be marked (e.g. it was never due).
	Bounced   bool
	BounceErr error
	// AckReason is the suppression reason stored for the new message (the caller's
	// SuppressReason, ReasonRate, ReasonFollowUp, ReasonNoRecipient); "" when an ack is
	// pending and for a duplicate.
	AckReason string
}

// Filter selects cases for List. Zero fields do not filter.
type Filter struct {
	Mailbox string
	Sender  string     // exact, lower case
	Since   time.Time  // Created >= Since
	Until   time.Time  // Created < Until
	Status  CaseStatus // walks the status index when Sender is empty
	Kind    Kind
	Limit   int // 0 = no limit; newest first
}

// OutboxEntry is one due acknowledgement.
type OutboxEntry struct {
	Reference Reference
	Case      Case    // without Messages
	Message   Message // includes Ack
	FollowUp  bool    // the message is not the first of its case
}

// AckResult is the outcome of one send attempt, recorded by RecordAck.
type AckResult struct {
	Status  AckStatus // AckSent, AckFailed, or AckPending (retry at NextTry); AckBounced for a sent ack
	Reply   string
	At      time.Time
	NextTry time.Time
	// Sent is what the attempt sent (or tried to send): stored with the result, see
	// SentAck. nil stores nothing.
	Sent *SentText
}

// Options for Open.
type Options struct {
	Timeout time.Duration // bbolt open timeout (default 1s); a locked file gives ErrLocked
	NoSync  bool          // tests and benchmarks only: no fsync of the database or raw files
}
