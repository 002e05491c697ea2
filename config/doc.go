// Package config reads, completes and checks the intake configuration file.
//
// The file is TOML (https://toml.io/en/v1.0.0). It is decoded strictly: a key
// that intake does not know is an error, never silently ignored, because a
// mistyped key ("pasword_file") would otherwise fall back to a default
// without anybody noticing. Every problem is reported with the file name, the
// line and the key path in the form
//
//	intake.toml:12: mailbox[0].imap.port: must be between 1 and 65535
//
// and all problems of a file are reported at once (type Errors), so that an
// administrator can fix a file in one pass. Error texts never contain secret
// values.
//
// Loading happens in four steps, all done by Load and Parse:
//
//  1. the document is parsed and checked against the schema (unknown keys,
//     wrong value types, unparsable durations and sizes), building a map from
//     key paths to line numbers on the way;
//  2. it is decoded into Config with go-toml's DisallowUnknownFields;
//  3. relative paths are resolved against the directory of the file and
//     defaults are filled in (ApplyDefaults);
//  4. the result is checked as a whole (Validate), including that every
//     configured secret can be read.
//
// Secrets (IMAP and SMTP passwords) can be given inline (password), in a file
// (password_file, trailing CR/LF trimmed) or in an environment variable
// (password_env); exactly one of them per account. Secret.Resolve reads them
// when the daemon needs them.
//
// Example holds a complete, commented example file (a German state
// chancellery); docs/configuration.md is the reference of every key.
//
// The package imports nothing else of intake. It imports time/tzdata so that
// a static binary can load the office time zone on hosts without system
// time zone data.
package config
