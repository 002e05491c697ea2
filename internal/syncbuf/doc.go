// Package syncbuf is a bytes.Buffer that goroutines may write while a test reads it:
// logs of a daemon, a sweep or a server captured for a test's assertions. Tests only;
// the shipped binary does not import it.
package syncbuf
