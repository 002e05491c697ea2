// Package demo runs intake on a fresh machine with no configuration: an
// in-memory IMAP and SMTP server (package memmail) stand in for the office's
// mail system, a few sample letters are delivered, and the daemon registers
// and acknowledges them.
package demo
