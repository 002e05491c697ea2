// Package memmail is a small in-memory mail system on loopback: go-imap's
// imapmemserver for IMAP and a go-smtp server that delivers into it, adding
// Return-Path like a final-delivery agent does (RFC 5321 §4.4). The demo
// runs on it, and the fast pipeline tests use it beside the real Dovecot and
// Postfix of package mailrig.
package memmail
