// Package clerkgate lets the mail work step aside while a clerk is being answered
// (issue 12, "clerks first").
//
// On a small machine a drain keeps every core busy: the watcher parses mail after mail,
// the responder hands acknowledgement after acknowledgement to the SMTP server, and the
// Go scheduler gives each of them a time slice of up to 10 ms before a clerk's request,
// woken by the network, gets a processor. The web server brackets every authenticated
// request with Gate.Begin and Gate.End; the watcher calls Gate.Wait before each mail and
// the responder before each acknowledgement, and while a request is in flight they wait
// for it to end. Registration and acknowledgements lose nothing: they are only later by
// the time the clerks' requests take.
//
// Two bounds keep the drain going whatever the clerks do: one wait lasts at most
// MaxWait, and all waits together at most Budget of every Window (half of each second
// by default), so that even a client that never stops asking leaves the drain at least
// half of its time. Only authenticated requests count: nobody without an account can
// slow the drain down.
package clerkgate
