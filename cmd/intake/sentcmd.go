package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/ticket"
)

// What was sent and the interim notice on "intake case show" (issue 11 items 4, 6), and
// "intake case interim".

// sentSource is what can say what was sent for a case: the register or the daemon.
type sentSource interface {
	SentOf(ref ticket.Reference) (*ticket.CaseSent, error)
}

// sentOf asks cases (the register or the running daemon) what was sent for ref.
func sentOf(cases intake.Cases, ref ticket.Reference) (*ticket.CaseSent, error) {
	if s, ok := cases.(sentSource); ok {
		return s.SentOf(ref)
	}
	return nil, nil
}

// printSentText prints a sent mail indented, as it was sent.
func printSentText(w io.Writer, indent string, st ticket.SentText) {
	fmt.Fprintf(w, "%sBetreff / subject: %s\n", indent, st.Subject)
	for _, l := range strings.Split(strings.TrimRight(st.Text, "\n"), "\n") {
		fmt.Fprintf(w, "%s| %s\n", indent, l)
	}
	if st.Truncated {
		fmt.Fprintf(w, "%s(gekürzt / truncated)\n", indent)
	}
}

// printSent prints the acknowledgements' texts and the interim notice after printCase.
func printSent(w io.Writer, c *ticket.Case, cs *ticket.CaseSent, loc *time.Location) {
	if cs == nil {
		return
	}
	for i, m := range c.Messages {
		if st, ok := cs.Acks[m.Seq]; ok {
			fmt.Fprintf(w, "\nGesendete Bestätigung zu Nachricht %d / acknowledgement sent:\n", i+1)
			printSentText(w, "  ", st)
		}
	}
	in := cs.Interim
	if in == nil {
		return
	}
	fmt.Fprintf(w, "\nZwischennachricht / interim notice: %s", ackText(in.Ack))
	if !in.SentAt.IsZero() {
		fmt.Fprintf(w, " am %s", in.SentAt.In(loc).Format("02.01.2006 15:04:05"))
	}
	if in.Recipient != "" {
		fmt.Fprintf(w, " an %s", in.Recipient)
	}
	if in.By != "" {
		fmt.Fprintf(w, " (%s)", in.By)
	}
	fmt.Fprintln(w)
	if in.Bounce != "" {
		fmt.Fprintf(w, "  Unzustellbar / bounced: %s\n", in.Bounce)
	}
	if in.Reply != "" {
		fmt.Fprintf(w, "  SMTP:       %s\n", in.Reply)
	}
	if st := cs.InterimText; st != nil {
		printSentText(w, "  ", *st)
	}
}

// cmdCaseInterim is "intake case interim REF -suppress | -send-now": a clerk's decision on
// a case's interim notice, through the running daemon or on the register, audited.
func cmdCaseInterim(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("case interim", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	suppress := fs.Bool("suppress", false, "send this case no interim notice")
	now := fs.Bool("send-now", false, "send the interim notice now")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 || *suppress == *now {
		fmt.Fprintln(stderr, "usage: intake case interim REF (-suppress | -send-now) -config FILE")
		return exitUsage
	}
	ref, err := ticket.ParseReference(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "intake: %q is not a valid reference: %v\n", pos[0], err)
		return exitFailure
	}
	action := intake.InterimSuppress
	if *now {
		action = intake.InterimSendNow
	}
	cfg, ok := loadConfig(*cfgPath, stderr, true)
	if !ok {
		return exitFailure
	}
	client, store, err := daemonOrRegister(cfg.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if client != nil {
		err = client.Interim(ref, action)
	} else {
		defer store.Close()
		err = intake.InterimAction(store, ref, action, intake.ProcessActor(time.Now()))
	}
	switch {
	case errors.Is(err, ticket.ErrNotFound):
		fmt.Fprintf(stderr, "intake: case %s not found\n", ref)
		return exitFailure
	case err != nil:
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if *now {
		fmt.Fprintf(stdout, "Zwischennachricht zu %s wird gesendet. / Interim notice of %s queued.\n", ref, ref)
	} else {
		fmt.Fprintf(stdout, "Keine Zwischennachricht zu %s. / No interim notice for %s.\n", ref, ref)
	}
	return exitOK
}
