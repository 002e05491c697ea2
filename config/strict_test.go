package config

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	toml "github.com/pelletier/go-toml/v2"
)

// strictDoc has two unknown keys and three values of the wrong type.
const strictDoc = `data_dir = "/x"
colour = 1

[[mailbox]]
name = 5
foo = 2

[mailbox.imap]
host = 7
port = "x"
`

// TestStrictDecoderLimits records what go-toml v2's strict decoder gives and why
// document.go still walks the document: DisallowUnknownFields reports every unknown key
// with its line (StrictMissingError), but only when every value decodes; the first value of
// the wrong type ends the decode with one DecodeError, and the unknown keys are then not
// reported at all; neither gives the lines of the keys that are fine, which Validate's
// file:line: key messages need. Should a go-toml upgrade report all of it at once, this
// test fails and the walk can shrink to the line index.
func TestStrictDecoderLimits(t *testing.T) {
	var c Config
	err := toml.NewDecoder(strings.NewReader(strictDoc)).DisallowUnknownFields().Decode(&c)
	var strict *toml.StrictMissingError
	var derr *toml.DecodeError
	if errors.As(err, &strict) || !errors.As(err, &derr) {
		t.Fatalf("go-toml now returns %T: %v; check whether document.go can leave the unknown keys and type errors to it", err, err)
	}
	if line, _ := derr.Position(); line != 5 || strings.Join(derr.Key(), ".") != "mailbox.name" {
		t.Errorf("DecodeError at line %d key %v, want the first wrong value only (line 5, mailbox.name)", line, derr.Key())
	}

	// Without type errors the strict decoder lists every unknown key with its line.
	noTypes := strings.NewReplacer(`name = 5`, `name = "p"`, `host = 7`, `host = "h"`, `port = "x"`, `port = 1`).Replace(strictDoc)
	err = toml.NewDecoder(bytes.NewReader([]byte(noTypes))).DisallowUnknownFields().Decode(&c)
	if !errors.As(err, &strict) || len(strict.Errors) != 2 {
		t.Fatalf("strict decode = %v, want the 2 unknown keys", err)
	}

	// document.go reports all five at once, each with its line and key path.
	col := &collector{file: "intake.toml"}
	scanDocument([]byte(strictDoc), schemaOf(reflect.TypeFor[Config]()), col)
	var got []string
	for _, e := range col.errs {
		got = append(got, e.Error())
	}
	for _, want := range []string{"intake.toml:2: colour", "intake.toml:5: mailbox[0].name", "intake.toml:6: mailbox[0].foo",
		"intake.toml:9: mailbox[0].imap.host", "intake.toml:10: mailbox[0].imap.port"} {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, want)
		}
		if !found {
			t.Errorf("the document scan does not report %q; it reports:\n%s", want, strings.Join(got, "\n"))
		}
	}
}
