package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/intake/policy"
	"github.com/intake-office/intake/ticket"
)

func cmdCase(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: intake case show REF | intake case list [filters] | intake case export REF -o FILE | intake case interim REF (-suppress | -send-now)")
		return exitUsage
	}
	switch args[0] {
	case "show":
		return cmdCaseShow(args[1:], stdout, stderr)
	case "list":
		return cmdCaseList(args[1:], stdout, stderr)
	case "export":
		return cmdCaseExport(args[1:], stdout, stderr)
	case "interim":
		return cmdCaseInterim(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "intake case: unknown subcommand %q\n", args[0])
		return exitUsage
	}
}

// openCases asks the running daemon when there is one, and otherwise opens
// the register itself. Either way every read is audited: the daemon names
// the user the kernel reports for its socket, the register opened directly
// names this process's own uid (never an environment variable).
func openCases(cfg *config.Config) (intake.Cases, func(), error) {
	c, store, err := daemonOrRegister(cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	if c != nil {
		return c, func() {}, nil
	}
	cases := intake.AuditedCases{Store: store, Actor: func() ticket.Actor { return intake.ProcessActor(time.Now()) }}
	return cases, func() { store.Close() }, nil
}

func cmdCaseShow(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("case show", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: intake case show REF [-json] -config FILE")
		return exitUsage
	}
	ref, err := ticket.ParseReference(pos[0])
	if errors.Is(err, ticket.ErrCheckDigit) {
		cfg, ok := loadConfig(*cfgPath, stderr, true)
		if !ok {
			return exitFailure
		}
		return didYouMean(cfg, pos[0], stderr)
	}
	if err != nil {
		return badReference(stderr, pos[0], err)
	}
	cfg, ok := loadConfig(*cfgPath, stderr, true)
	if !ok {
		return exitFailure
	}
	cases, done, err := openCases(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	defer done()
	c, err := cases.Lookup(ref)
	if errors.Is(err, ticket.ErrNotFound) {
		fmt.Fprintf(stderr, "intake: case %s not found\n", ref)
		return exitFailure
	}
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	sent, err := sentOf(cases, ref)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if *asJSON {
		return printJSON(stdout, ticket.NewCaseView(c, sent))
	}
	printCase(stdout, c, cfg.Location)
	printSent(stdout, c, sent, cfg.Location)
	if lc, ok := cases.(*intake.LocalClient); ok {
		if st, err := lc.CapState(); err == nil && st.Tripped {
			fmt.Fprintf(stdout, "\nAchtung: Stundenlimit erreicht, Bestätigungen werden seit %s zurückgehalten (intake ack resume).\n"+
				"Warning: hourly cap reached, acknowledgements held since %s (intake ack resume).\n",
				st.TrippedAt.In(cfg.Location).Format("02.01.2006 15:04"), st.TrippedAt.In(cfg.Location).Format("2006-01-02 15:04"))
		}
	}
	return exitOK
}

func cmdCaseList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("case list", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	asJSON := fs.Bool("json", false, "print JSON")
	var f ticket.Filter
	fs.StringVar(&f.Mailbox, "mailbox", "", "only this mailbox")
	fs.StringVar(&f.Sender, "sender", "", "only this sender address")
	status := fs.String("status", "", "only this status (new, in_progress, closed)")
	kind := fs.String("kind", "", "only this kind (citizen, automated, malformed)")
	since := fs.String("since", "", "received on or after (YYYY-MM-DD or RFC 3339)")
	until := fs.String("until", "", "received before (YYYY-MM-DD or RFC 3339)")
	fs.IntVar(&f.Limit, "limit", 0, "at most this many cases (newest first)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 0 {
		fmt.Fprintln(stderr, "usage: intake case list [-json] [filters] -config FILE")
		return exitUsage
	}
	if !checkEnum(stderr, "status", *status, caseStatuses(), true) || !checkEnum(stderr, "kind", *kind, caseKinds(), true) {
		return exitUsage
	}
	cfg, ok := loadConfig(*cfgPath, stderr, true)
	if !ok {
		return exitFailure
	}
	f.Sender = strings.ToLower(f.Sender)
	f.Status, f.Kind = ticket.CaseStatus(*status), ticket.Kind(*kind)
	for _, d := range []struct {
		flag string
		dst  *time.Time
	}{{*since, &f.Since}, {*until, &f.Until}} {
		if d.flag == "" {
			continue
		}
		if *d.dst, err = parseDate(d.flag, cfg.Location); err != nil {
			fmt.Fprintln(stderr, "intake:", err)
			return exitUsage
		}
	}
	cases, done, err := openCases(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	defer done()
	list, err := cases.List(f)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if *asJSON {
		return printJSONList(stdout, list)
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, "REFERENCE\tRECEIVED\tMAILBOX\tKIND\tSTATUS\tACK\tSENDER\tSUBJECT")
	for _, c := range list {
		ack := ""
		if n := len(c.Messages); n > 0 {
			ack = ackText(c.Messages[n-1].Ack)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Reference, c.Created.In(cfg.Location).Format("2006-01-02 15:04"),
			c.Mailbox, c.Kind, c.Status, ack, c.Sender, clip(c.Subject, 50))
	}
	tw.Flush()
	return exitOK
}

// badReference says that s is not a case reference (err tells why).
func badReference(stderr io.Writer, s string, err error) int {
	fmt.Fprintf(stderr, "intake: %q is not a valid reference: %v\n", s, err)
	return exitFailure
}

func parseDate(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("%q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t, nil
}

// newTable starts the plain-text table of a list command (columns two spaces apart).
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// printJSONList is printJSON for a list; a nil list prints as [], not null.
func printJSONList[T any](w io.Writer, list []T) int {
	if list == nil {
		list = []T{}
	}
	return printJSON(w, list)
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exitFailure
	}
	return exitOK
}

func ackText(a ticket.Ack) string {
	if a.Reason != "" {
		return string(a.Status) + " (" + a.Reason + ")"
	}
	return string(a.Status)
}

// echoText names the kind of acknowledgement (issue 8) in German and English.
func echoText(kind string) string {
	switch kind {
	case ticket.EchoFull:
		return "vollständig / full"
	case ticket.EchoMinimal:
		return "kurz, ohne Text des Absenders / minimal, no text of the sender"
	}
	return kind
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func printCase(w io.Writer, c *ticket.Case, loc *time.Location) {
	fmt.Fprintf(w, "Vorgang / case  %s\n", c.Reference)
	fmt.Fprintf(w, "Postfach        %s\nArt / kind      %s\nStatus          %s\nEingang         %s\n",
		c.Mailbox, c.Kind, c.Status, c.Created.In(loc).Format("02.01.2006 15:04:05 MST"))
	for _, l := range c.Links {
		fmt.Fprintf(w, "Verknüpft mit   %s\n", l)
	}
	for i, m := range c.Messages {
		fmt.Fprintf(w, "\nNachricht %d (seq %d, uid %d/%d)\n", i+1, m.Seq, m.UIDValidity, m.UID)
		fmt.Fprintf(w, "  Von:        %s\n", strings.TrimSpace(m.FromName+" <"+m.From+">"))
		fmt.Fprintf(w, "  Betreff:    %s\n", m.Subject)
		fmt.Fprintf(w, "  Eingang:    %s\n", m.Received.In(loc).Format("02.01.2006 15:04:05 MST"))
		fmt.Fprintf(w, "  Message-ID: %s\n", m.MessageID)
		if len(m.Attachments) > 0 {
			fmt.Fprintf(w, "  Anhänge:    %s\n", strings.Join(m.Attachments, ", "))
		}
		if m.Malformed != "" {
			fmt.Fprintf(w, "  Defekt:     %s\n", m.Malformed)
		}
		if m.Oversize {
			fmt.Fprintf(w, "  Übergroß:   nur Kopfzeilen registriert, Mail bleibt auf dem Server\n")
		}
		if m.MessageIDReused {
			fmt.Fprintf(w, "  Hinweis:    Message-ID von einer anderen Nachricht wiederverwendet (Message-ID reused by a different mail)\n")
		}
		fmt.Fprintf(w, "  Bestätigung: %s", ackText(m.Ack))
		if !m.Ack.SentAt.IsZero() {
			fmt.Fprintf(w, " am %s", m.Ack.SentAt.In(loc).Format("02.01.2006 15:04:05"))
		}
		if m.Ack.Recipient != "" {
			fmt.Fprintf(w, " an %s", m.Ack.Recipient)
		}
		fmt.Fprintln(w)
		if m.Ack.Status == ticket.AckSuppressed && m.Ack.Reason != "" {
			de, en := policy.Explain(policy.Reason(m.Ack.Reason))
			fmt.Fprintf(w, "  Grund:      %s\n  Reason:     %s\n", de, en)
		}
		if m.Ack.Echo != "" {
			fmt.Fprintf(w, "  Art / kind: %s (%s)\n", echoText(m.Ack.Echo), m.Ack.EchoReason)
		}
		if m.Ack.Bounce != "" {
			fmt.Fprintf(w, "  Unzustellbar / bounced: %s\n", m.Ack.Bounce)
		}
		if m.Ack.Reply != "" {
			fmt.Fprintf(w, "  SMTP:       %s\n", m.Ack.Reply)
		}
	}
}

// didYouMean answers a reference with a wrong check digit as the web does: with the
// existing references one typing error away (ticket.Store.DidYouMean), asked of the
// running daemon or of the register itself. It returns exitFailure (not found).
func didYouMean(cfg *config.Config, input string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "intake: %q: Prüfziffer falsch / wrong check digit\n", input)
	c, store, err := daemonOrRegister(cfg.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	var refs []string
	if c != nil {
		refs, err = c.DidYouMean(input)
	} else {
		var prefixes []string
		for _, m := range cfg.Mailboxes {
			prefixes = append(prefixes, m.Prefix)
		}
		refs, err = intake.DidYouMean(store, input, prefixes)
		store.Close()
	}
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if len(refs) == 0 {
		fmt.Fprintln(stderr, "Kein Vorgang mit ähnlicher Vorgangsnummer. / No case with a similar reference.")
		return exitFailure
	}
	fmt.Fprintln(stderr, "Meinten Sie / did you mean:")
	for _, r := range refs {
		fmt.Fprintln(stderr, "  "+r)
	}
	return exitFailure
}
