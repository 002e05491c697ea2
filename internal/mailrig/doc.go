// Package mailrig starts real mail servers on loopback for tests: Dovecot
// (IMAP, IMAPS, LMTP) and Postfix (an MX-style SMTP port that delivers into
// Dovecot over LMTP, and a submission port with STARTTLS and AUTH).
//
// Every rig lives in its own short directory (/tmp/mr-NNNN, mode 0755, so the
// unprivileged Dovecot and Postfix processes can traverse it and unix socket
// paths stay far below 108 bytes) and listens on five ports picked at run time
// on 127.0.0.1 only. Several rigs, in one test process or in many, run side by
// side. Nothing is read from or written to /etc/dovecot or /etc/postfix, and
// no system-wide service is touched.
//
// Mail for the rig's domains (example.test by default) is accepted for the
// configured users only (550 for unknown ones). Everything else is rejected at
// RCPT (Postfix "error:" transports), or accepted and dropped when
// Options.DiscardUnknown is set: nothing ever leaves the machine.
//
// The TLS certificate is a self-signed ECDSA P-256 certificate for localhost
// and 127.0.0.1, generated in Go; clients trust it through Rig.CAFile or
// Rig.TLSConfig.
//
// Requirements: root (Postfix refuses to run otherwise) and the Debian
// packages dovecot-imapd, dovecot-lmtpd and postfix; scripts/test.sh installs
// them. Dovecot's mail processes run as the system user "vmail", which Start
// creates with useradd when it is missing. Available reports what is missing;
// StartT skips the test then, or fails it when the environment variable CI or
// INTAKE_REQUIRE_REAL_SERVERS is set.
//
// Typical use:
//
//	rig := mailrig.StartT(t, mailrig.Options{})
//	err := rig.Send(ctx, "citizen@example.test", []string{"office@example.test"}, raw)
//	err = rig.WaitCount(ctx, "office@example.test", "INBOX", 1)
//	msgs, err := rig.Fetch(ctx, "office@example.test", "INBOX")
//
// Timing, measured on the 2-core Debian 12 VM (go test -v ./internal/mailrig/,
// alone and with three test processes at once): Start 0.1-0.6 s, Close
// 30-65 ms, StopDovecot 10-300 ms, StartDovecot 40-110 ms, StopPostfix
// 25 ms, StartPostfix 55-160 ms; Send to visible in IMAP 50-100 ms; mail
// queued while Dovecot was down arrives 1-2 s after StartDovecot. Dovecot
// tells IDLE clients about new mail about 0.5 s late. AddUser takes up to
// 1 s (Dovecot re-reads its passwd-file at most once a second).
//
// Authentication failures: a wrong password is answered within 0.5 s
// (Options.AuthFailureDelay), but Dovecot 2.3 then delays the next
// authentication from the same IP by 4 s (8 s, then 15 s after further
// failures) until one succeeds, for IMAP and for Postfix's SMTP AUTH alike.
// The rig's helpers (Dial, Append, Fetch, WaitCount, Send, Submit,
// DialSMTP) connect from 127.0.0.2 so that failures of the code under test,
// which connects from 127.0.0.1, do not slow them, and vice versa.
//
// A test binary that dies without running its cleanups (for example on a
// -timeout panic) leaves its servers behind; the next Start in any process
// stops and removes such orphaned rigs, after checking that their owning
// process is gone.
package mailrig
