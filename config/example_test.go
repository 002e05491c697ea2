package config

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestExample(t *testing.T) {
	t.Setenv("INTAKE_STK_IMAP_PASSWORD", "imap-secret")
	t.Setenv("INTAKE_STK_SMTP_PASSWORD", "smtp-secret")
	c, err := Parse(Example, "example.toml")
	if err != nil {
		t.Fatalf("example does not validate:\n%v", err)
	}
	m := c.Mailboxes[0]
	if m.Prefix != "STK" || m.Address != "poststelle@stk.example.de" || !strings.Contains(c.Office.Name, "Staatskanzlei") {
		t.Errorf("example is not the Staatskanzlei: %+v", c)
	}
	if pw, err := m.SMTP.Resolve(); err != nil || pw != "smtp-secret" {
		t.Errorf("SMTP password = %q, %v", pw, err)
	}

	t.Run("fails without its environment", func(t *testing.T) {
		os.Unsetenv("INTAKE_STK_IMAP_PASSWORD") // t.Setenv above restores it
		if _, err := Parse(Example, "example.toml"); err == nil || !strings.Contains(err.Error(), "INTAKE_STK_IMAP_PASSWORD is not set") {
			t.Errorf("err = %v", err)
		}
	})
}

// schemaKeys lists every key path of the schema ("mailbox.imap.port").
func schemaKeys(prefix string, n *schemaNode) []string {
	var keys []string
	for name, f := range n.fields {
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		if f.kind == kindTable || f.kind == kindTables {
			keys = append(keys, schemaKeys(p, f)...)
			continue
		}
		keys = append(keys, p)
	}
	sort.Strings(keys)
	return keys
}

// exampleKeys lists the full key path of every key the example shows, set
// or commented out ("# key ="), under the table header above it ("[a.b]",
// "[[a]]", also commented out: "# [a.b.c]").
func exampleKeys(text string) map[string]bool {
	keys := map[string]bool{}
	table := ""
	for _, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		if strings.HasPrefix(l, "[") {
			if name := strings.Trim(l, "[]"); !strings.ContainsAny(name, " =\"") {
				table = name
			}
			continue
		}
		k, _, ok := strings.Cut(l, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \"") {
			continue
		}
		if table != "" {
			k = table + "." + k
		}
		keys[k] = true
	}
	return keys
}

// TestExampleDocumentsEveryKey: each key appears in the example under its
// own table, set or commented out ("# key =").
func TestExampleDocumentsEveryKey(t *testing.T) {
	shown := exampleKeys(string(Example))
	for _, key := range schemaKeys("", schemaOf(reflect.TypeFor[Config]())) {
		if !shown[key] {
			t.Errorf("example.toml does not show %s", key)
		}
	}
}

// TestReferenceDocumentsEveryKey: docs/configuration.md has a row for each
// key.
func TestReferenceDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range schemaKeys("", schemaOf(reflect.TypeFor[Config]())) {
		if !strings.Contains(string(b), "| `"+key+"` |") {
			t.Errorf("docs/configuration.md has no row | `%s` |", key)
		}
	}
}
