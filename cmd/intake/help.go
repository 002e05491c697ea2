package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Help for one command: "intake help CMD [SUB]" and "intake CMD [SUB] -h" print the
// command's lines of the usage text and its flags with their defaults, on standard
// output, and exit 0 (a help that was asked for is no usage error).

// helpCapture is the standard error of a command run only to collect its flags' help;
// run does not treat its -h as a request for help again.
type helpCapture struct{ bytes.Buffer }

// helpRequested returns the command words of args (without the help flag) when args ask
// for help with -h, -help or --help before a "--".
func helpRequested(args []string) ([]string, bool) {
	for i, a := range args {
		if a == "--" {
			return nil, false
		}
		if a == "-h" || a == "-help" || a == "--help" {
			var words []string
			for _, w := range args[:i] {
				if strings.HasPrefix(w, "-") {
					break
				}
				words = append(words, w)
			}
			return words, true
		}
	}
	return nil, false
}

// synopsis returns the lines of the usage text for command words (cmd, or cmd sub);
// with a subcommand that has no line of its own, the lines of cmd.
func synopsis(words []string) []string {
	var cmdLines, subLines []string
	text := usage
	switch words[0] { // their own usage texts name every subcommand (usercmd.go)
	case "user":
		text = userUsage
	case "token":
		text = tokenUsage
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "intake" || f[1] != words[0] {
			continue
		}
		block := []string{l}
		// continuation lines (indented further, no "intake" of their own)
		for _, c := range lines[i+1:] {
			if strings.HasPrefix(c, "      ") && !strings.HasPrefix(strings.TrimSpace(c), "intake ") {
				block = append(block, c)
				continue
			}
			break
		}
		cmdLines = append(cmdLines, block...)
		if len(words) > 1 && len(f) > 2 && f[2] == words[1] {
			subLines = append(subLines, block...)
		}
	}
	if len(subLines) > 0 {
		return subLines
	}
	return cmdLines
}

// cmdHelp prints the help of the command words.
func cmdHelp(words []string, stdout, stderr io.Writer) int {
	if len(words) == 0 {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	lines := synopsis(words)
	if len(lines) == 0 {
		fmt.Fprintf(stderr, "intake help: unknown command %q\n\n%s", words[0], usage)
		return exitUsage
	}
	fmt.Fprintln(stdout, "Usage:")
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	// The flags come from the command's own flag set, so that they and their defaults
	// cannot drift from what the command accepts. The command stops at -h before it
	// does anything.
	if slices.Contains([]string{"version", "help"}, words[0]) || (words[0] == "config" && len(words) > 1 && words[1] == "example") {
		return exitOK
	}
	var capture helpCapture
	run(append(slices.Clone(words), "-h"), io.Discard, &capture)
	if _, flags, ok := strings.Cut(capture.String(), ":\n"); ok && strings.HasPrefix(capture.String(), "Usage of ") {
		fmt.Fprintf(stdout, "\nFlags:\n%s", flags)
	}
	fmt.Fprintln(stdout, "\n-config defaults to $INTAKE_CONFIG, else /etc/intake/intake.toml.")
	return exitOK
}
