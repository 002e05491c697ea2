// Command intake is the office mailbox daemon and its command-line tools.
// main.go only dispatches; each subcommand lives in its own file.
package main
