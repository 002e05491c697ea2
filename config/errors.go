package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a configuration file.
//
// Its text is "FILE:LINE: KEY: MSG", e.g.
// "intake.toml:12: mailbox[0].imap.port: must be between 1 and 65535".
// File, Line and Key are left out when unknown (Line 0 means the key and its
// table are absent from the file, or the config was not read from a file).
type Error struct {
	File string // path of the config file as given to Load/Parse
	Line int    // 1-based; 0 = unknown
	Key  string // key path, e.g. "mailbox[1].imap.port"; "" for syntax errors
	Msg  string // what is wrong, one line, never a secret value
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a configuration file. Its Error text has
// one line per problem, ordered by line in the file. errors.As finds the
// individual *Error values through Unwrap.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual errors (errors.Is / errors.As).
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// collector gathers errors with positions taken from the key index of the
// document.
type collector struct {
	file string
	idx  *keyIndex // nil when the config was not read from a document
	errs Errors
}

// add records a problem with key path key; the line is the line of that
// key, or of the nearest enclosing table present in the file.
func (c *collector) add(key, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Line: c.idx.line(key), Key: key, Msg: oneLine(fmt.Sprintf(format, args...))})
}

// addAt records a problem at a known line.
func (c *collector) addAt(line int, key, msg string) {
	c.errs = append(c.errs, &Error{File: c.file, Line: line, Key: key, Msg: oneLine(msg)})
}

// result returns the errors sorted by line (stable, so problems on one line
// keep the order in which they were found), or nil.
func (c *collector) result() error {
	if len(c.errs) == 0 {
		return nil
	}
	sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Line < c.errs[j].Line })
	return c.errs
}

// oneLine keeps an error text on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
