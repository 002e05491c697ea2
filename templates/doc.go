// Package templates renders the automatic acknowledgement of receipt
// (Eingangsbestätigung) that intake sends for every registered mail.
//
// The texts are text/template files embedded in the binary (text/*.tmpl),
// one set per language:
//
//	de.subject.tmpl        subject line (new case and follow-up)
//	de.body.tmpl           body for a new case: German, then a short English block
//	de.followup.body.tmpl  shorter body for a further message to an existing case
//	en.subject.tmpl, en.body.tmpl, en.followup.body.tmpl   the same in English
//	de.minimal.subject.tmpl, de.minimal.body.tmpl   the short acknowledgement for a
//	                       sender that was not verified ([mailbox.ack] echo): only the
//	                       reference, the time of receipt and the office's own text;
//	                       Subject and Attachments are always empty in it (Data.Minimal)
//	en.minimal.subject.tmpl, en.minimal.body.tmpl   the same in English
//	de.interim.subject.tmpl, de.interim.body.tmpl   the interim notice (Zwischennachricht)
//	                       to a case still open after the handling time (Data.Interim);
//	                       with Data.Minimal its Subject and Attachments are empty too
//	en.interim.subject.tmpl, en.interim.body.tmpl   the same in English
//
// Load(dir) uses a file of the same name in dir instead of the embedded one,
// so an office can change its wording without rebuilding. Every template is
// parsed and test-rendered when it is loaded: a broken override is reported
// at start-up with the path of the file, not when the first citizen writes.
//
// What the texts contain follows what a German authority's acknowledgement
// needs (DESIGN.md, "The acknowledgement"): they confirm receipt only (not completeness or competence); show the reference number
// prominently and ask to keep it in the subject; give the date and time of
// receipt in the office time zone, the subject received and the names of
// the attachments; say that the message is automatic; say what happens next
// (an interim reply if it takes longer than the configured handling time); give contact
// details; warn that e-mail is not confidential and does not meet a written
// form required by law (office.legal_basis, default § 3a VwVfG); and link the privacy notice (Art. 13
// GDPR). They never quote the body of the citizen's mail (RFC 3834 §3.2, §6).
//
// The output is text only: Render returns the subject and the plain-text
// body (UTF-8, "\n" line ends); the caller builds the headers
// (Auto-Submitted, In-Reply-To, …) and the MIME encoding. Data from the mail
// (subject, attachment names) is sanitised before it reaches a template: no
// line breaks, no control or bidirectional-override characters, bounded
// length; so it can neither break the subject header nor fake lines of the
// text. The subject additionally gets "Auto: " (RFC 3834 §3.1.5) and is
// rendered on one line.
//
// # Fields available in templates (type TemplateData)
//
//	.Reference     "STK-2026-000042-6"
//	.Received      time.Time in the office time zone
//	.ReceivedDE    "28.11.2026 um 14:05 Uhr"
//	.ReceivedEN    "28 November 2026 at 14:05 CET"
//	.Subject       subject received, one line, at most 200 characters; "" if none
//	.SubjectShort  the same for the subject line: at most 80 characters, without
//	               "AW:"/"Re:" prefixes and our own tag when the mail is a reply
//	               to an acknowledgement; "" if none
//	.Attachments   attachment file names ([]string), at most MaxAttachmentsListed
//	.AttachmentCount  number of attachments
//	.MoreAttachments  number of attachments not listed
//	.FollowUp      true for a further message to an existing case
//	.Office        .Name .Phone .PostalAddress .ContactURL .PrivacyURL
//	.PostalLines   .Office.PostalAddress split into lines
//	.Mailbox       name of the sending function, e.g. "Poststelle der Staatskanzlei"
//	.Address       the office address citizens write to
//	.ReceivedDateDE "28.11.2026", .ReceivedDateEN "28 November 2026"
//	.HandlingDE    handling time after which an interim notice is sent, "vier Wochen";
//	               "" when interim notices are disabled (then promise none)
//	.HandlingEN    the same in English, "four weeks"
//	.LegalBasis    provision on written form, "§ 3a VwVfG" or the state's own
//	.ContactName   .Office.Name, "" when the postal address starts with it
//	.SignatureLines lines under the closing formula, no name twice
//
// Rendered bodies are tidied: trailing blanks are removed and runs of empty
// lines are collapsed into one, so a template can leave out an empty
// contact line without leaving a gap.
package templates
