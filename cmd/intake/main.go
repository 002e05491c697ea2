package main

import (
	"fmt"
	"io"
	"os"
)

// Exit statuses (DESIGN.md § Contracts).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `intake — Eingangsbestätigungen und Vorgangsregister für das Behördenpostfach
intake — acknowledgements and case register for an office mailbox

Usage:
  intake serve  -config FILE                 run the daemon
  intake demo   [-data DIR]                  run everything with an embedded mail server
  intake case show REF [-json] -config FILE  show one case
  intake case list [-json] [filters] -config FILE
  intake config check [-offline] [FILE | -config FILE]
  intake config example                      print a commented example configuration
  intake explain [-json] [-config FILE] FILE.eml...  why a mail gets an acknowledgement or not
  intake ack resume -config FILE             lift the hourly cap before the hour has passed
  intake user add NAME -role clerk|admin [-mailboxes a,b] -config FILE   (also passwd, disable, enable, grant, list)
  intake token create NAME [-scope read|read-write] [-expires 30d] -config FILE   an API token for /api/ (also list, revoke)
  intake reload -config FILE                 the running daemon reads its configuration again (as on SIGHUP)
  intake purge [-dry-run] -config FILE       delete the personal data of closed cases past their retention
  intake case export REF -o FILE -config FILE
  intake case interim REF -send-now|-suppress -config FILE   send the interim notice now, or none
  intake audit export [-since DATE] [-until DATE] -config FILE
  intake reindex -config FILE                rebuild the full-text index from the register
  intake backup FILE -config FILE            consistent backup (register + raw mails), also while the daemon runs;
                                             age encrypted when [backup] age_recipients are set
  intake backup keygen -o FILE [-pq]         an age key pair for encrypted backups (secret key to FILE)
  intake restore [-identity KEYFILE] FILE DIR  restore a backup into a new or empty DIR (then set data_dir to DIR)
  intake version

-config defaults to $INTAKE_CONFIG, else /etc/intake/intake.toml.
intake help CMD (or intake CMD -h) prints the help of one command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	if words, ok := helpRequested(args); ok && args[0] != "help" {
		if _, capturing := stderr.(*helpCapture); !capturing {
			return cmdHelp(words, stdout, stderr) // help.go
		}
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(args[1:], stdout, stderr)
	case "case":
		return cmdCase(args[1:], stdout, stderr)
	case "config":
		return cmdConfig(args[1:], stdout, stderr)
	case "explain":
		return cmdExplain(args[1:], stdout, stderr)
	case "ack":
		return cmdAck(args[1:], stdout, stderr)
	case "user":
		return cmdUser(args[1:], os.Stdin, stdout, stderr)
	case "token":
		return cmdToken(args[1:], os.Stdin, stdout, stderr)
	case "reload":
		return cmdReload(args[1:], stdout, stderr)
	case "purge":
		return cmdPurge(args[1:], stdout, stderr)
	case "audit":
		return cmdAudit(args[1:], stdout, stderr)
	case "reindex":
		return cmdReindex(args[1:], stdout, stderr)
	case "backup":
		return cmdBackup(args[1:], stdout, stderr)
	case "restore":
		return cmdRestore(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "intake", version())
		return exitOK
	case "help", "-h", "-help", "--help":
		return cmdHelp(args[1:], stdout, stderr) // help.go
	default:
		fmt.Fprintf(stderr, "intake: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}
