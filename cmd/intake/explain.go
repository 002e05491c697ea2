package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/intake/mailparse"
	"github.com/intake-office/intake/intake/policy"
	"github.com/intake-office/intake/ticket"
)

// explanation is what "intake explain -json" prints per file, one JSON
// object per line.
type explanation struct {
	File      string  `json:"file"`
	Ack       bool    `json:"ack"`
	Reason    string  `json:"reason"`
	FollowUp  *string `json:"follow_up"`
	Rule      string  `json:"rule,omitempty"`
	Recipient string  `json:"recipient,omitempty"`
	Detail    string  `json:"detail,omitempty"`
	Automated bool    `json:"automated"`
	// Verified and VerifiedBy: whether a trusted authentication result proves the recipient;
	// Echo and EchoReason: which acknowledgement it would get (issue 8), set with Ack.
	Verified   bool   `json:"verified"`
	VerifiedBy string `json:"verified_by,omitempty"`
	Echo       string `json:"echo,omitempty"`
	EchoReason string `json:"echo_reason,omitempty"`
	Error      string `json:"error,omitempty"`
}

// cmdExplain runs the policy on mail files without touching a register or
// a server: what an admin runs when a citizen asks why no confirmation came.
func cmdExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("explain", stderr)
	cfgPath := fs.String("config", "", "configuration file (default: $INTAKE_CONFIG, else /etc/intake/intake.toml when it exists, else none: then no mailbox address is known and rule A1 is off)")
	mailbox := fs.String("mailbox", "", "the mailbox whose settings apply (default: the first)")
	asJSON := fs.Bool("json", false, "print one JSON object per file")
	files, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "usage: intake explain [-json] [-config FILE] [-mailbox NAME] FILE.eml...")
		return exitUsage
	}
	*cfgPath = explainConfigPath(*cfgPath, stderr)
	settings := policy.Settings{LoopHeader: intake.LoopHeader, SubjectHeuristics: true}
	echo := config.EchoVerified
	var prefixes []string
	if *cfgPath != "" {
		cfg, ok := loadConfig(*cfgPath, stderr, true)
		if !ok {
			return exitFailure
		}
		mb := &cfg.Mailboxes[0]
		if *mailbox != "" {
			if mb = cfg.Mailbox(*mailbox); mb == nil {
				fmt.Fprintf(stderr, "intake explain: no mailbox %q in %s\n", *mailbox, cfg.Path)
				return exitUsage
			}
		}
		settings = intake.PolicySettings(cfg, *mb, cfg.Office.Hostname)
		echo = mb.Ack.Echo
		for _, m := range cfg.Mailboxes {
			prefixes = append(prefixes, m.Prefix)
		}
	}
	status := exitOK
	enc := json.NewEncoder(stdout)
	for _, path := range files {
		e := explainFile(path, settings, prefixes)
		if e.Ack {
			e.Echo, e.EchoReason = intake.AckEcho(echo, policy.Decision{Verified: e.Verified, VerifiedBy: e.VerifiedBy})
		}
		if e.Error != "" {
			status = exitFailure
		}
		if *asJSON {
			_ = enc.Encode(e)
			continue
		}
		printExplanation(stdout, e)
	}
	return status
}

func explainFile(path string, s policy.Settings, prefixes []string) explanation {
	e := explanation{File: path}
	f, err := os.Open(path)
	if err != nil {
		e.Error = err.Error()
		e.Reason = "UNREADABLE"
		return e
	}
	defer f.Close()
	m, err := mailparse.Parse(f, mailparse.Limits{}) // the parser buffers its reads
	if err != nil {
		e.Reason, e.Rule, e.Detail = string(policy.ReasonMalformed), "M1", err.Error()
		return e
	}
	d := policy.Decide(m, s)
	e.Ack, e.Reason, e.Rule, e.Recipient, e.Detail, e.Automated = d.Ack, string(d.Reason), d.Rule, d.Recipient, d.Detail, d.Automated
	e.Verified, e.VerifiedBy = d.Verified, d.VerifiedBy
	if ref, ok := followUpOf(m, s, prefixes); ok {
		e.FollowUp = &ref
	}
	return e
}

// followUpOf names the case a mail would be threaded into, as far as the
// mail itself tells: a reply to one of our acknowledgements, or a valid
// reference in the subject (the daemon also checks that the sender wrote
// on that case).
func followUpOf(m *mailparse.Message, s policy.Settings, prefixes []string) (string, bool) {
	if id, ok := policy.OurAck(m, s.OwnDomains); ok {
		if ref, err := ticket.ParseReference(id[:max(strings.IndexByte(id, '.'), 0)]); err == nil {
			return ref.String(), true
		}
	}
	if refs := ticket.FindReferences(m.Subject, prefixes); len(refs) > 0 {
		return refs[0].String(), true
	}
	return "", false
}

func printExplanation(w io.Writer, e explanation) {
	switch {
	case e.Error != "":
		fmt.Fprintf(w, "%s: cannot read: %s\n", e.File, e.Error)
		return
	case e.Ack:
		fmt.Fprintf(w, "%s: Bestätigung an / acknowledgement to %s\n", e.File, e.Recipient)
		fmt.Fprintf(w, "  Art / kind: %s (%s)\n", echoText(e.Echo), e.EchoReason)
	default:
		de, en := policy.Explain(policy.Reason(e.Reason))
		fmt.Fprintf(w, "%s: keine Bestätigung / no acknowledgement — %s (%s)\n  %s\n  %s\n", e.File, e.Reason, e.Rule, de, en)
		if e.Detail != "" {
			fmt.Fprintf(w, "  Signal: %s\n", e.Detail)
		}
	}
	if e.FollowUp != nil {
		fmt.Fprintf(w, "  Folgenachricht zu / follow-up of %s\n", *e.FollowUp)
	}
}

// explainConfigPath is the configuration explain uses: -config, else $INTAKE_CONFIG
// (like every other command), else the default file when it exists. Without any it says
// so on standard error — the answer may then differ from the daemon's — and returns "".
func explainConfigPath(flagPath string, stderr io.Writer) string {
	if flagPath != "" {
		return flagPath
	}
	if p := os.Getenv("INTAKE_CONFIG"); p != "" {
		return p
	}
	if p := defaultConfigPath(); fileExists(p) {
		return p
	}
	fmt.Fprintf(stderr, "intake explain: ohne Konfiguration entschieden (kein -config, $INTAKE_CONFIG leer, %s fehlt): keine Postfachadresse bekannt, Regel A1 aus.\n"+
		"intake explain: decided without a configuration (no -config, $INTAKE_CONFIG empty, no %s): no mailbox address is known, rule A1 is off.\n",
		defaultConfigPath(), defaultConfigPath())
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
