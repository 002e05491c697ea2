// Command intake-bench runs the benchmarks of BENCHMARKS.md.
//
//	go run ./cmd/intake-bench drain -n 10000     # as root, on Debian
//	go run ./cmd/intake-bench ratio -n 1000 -repeat 3
//	go run ./cmd/intake-bench register           # -n 1000000 -lookups 10000
//	go run ./cmd/intake-bench searchdrain -cases 1000000 -n 2000 -dir /tmp/sd1m
//
// drain starts real Dovecot and Postfix on loopback (internal/mailrig), fills
// a mailbox with a backlog, runs "intake serve" as its own process and
// measures the drain, the arrival→ack latency of mails that reach the idle
// daemon one at a time and of mails that come as a trickle (latency.go), and
// the daemon's peak RSS. ratio measures, on one rig, Postfix's accept rate,
// Dovecot's fetch rate and intake's drain, and reports intake's rates as
// ratios to those limits, with intake's CPU (and its kernel part) and how busy
// the machine's CPU was in each phase (machinecpu.go); with -discard Postfix
// drops the acks, as issue 12 measured, instead of delivering them into
// Dovecot over LMTP. register measures the
// open and lookup times of a register with a million cases. searchdrain
// measures full-text searches and lookups through the JSON API of "intake
// serve" while it drains a backlog, on a register and index of -cases cases.
//
// It is a development tool and not part of the shipped binary: the mail rig
// it needs imports package testing and creates system users.
package main
