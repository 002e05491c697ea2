package config

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// This file walks the TOML document itself (go-toml's unstable parser)
// before it is decoded. The walk does two things the decoder cannot:
//
//   - it maps every key path, written as in error messages
//     ("mailbox[1].imap.port"), to the line where it appears, so that
//     Validate can point at lines;
//   - it checks every key and value type against the schema derived from
//     Config's toml tags and reports *all* unknown keys and type errors, in
//     intake's words ("must be a string") rather than Go's
//     ("cannot decode TOML integer into struct field config.IMAP.Host").
//
// go-toml v2's strict decoder was checked for both (TestStrictDecoderLimits):
// DisallowUnknownFields lists every unknown key with its line, but only when
// every value decodes; the first value of the wrong type ends the decode with
// a single DecodeError and no unknown key is reported; and no error gives
// the line of a key that is fine. So the walk stays; the decoder's errors are
// the fallback in ParseWith for anything the walk did not catch.

// keyIndex maps key paths to 1-based line numbers.
type keyIndex struct {
	lines map[string]int // first occurrence of each path
	all   []keyAt        // every occurrence, in document order
}

type keyAt struct {
	path string
	line int
}

// line returns the line of path, or of the nearest enclosing key or table
// present in the document, or 0.
func (k *keyIndex) line(path string) int {
	if k == nil {
		return 0
	}
	for path != "" {
		if l, ok := k.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// Line returns the line of the key path in the file the config was read
// from (or of its nearest enclosing table), 0 when unknown. Callers use it
// to point at a key in their own messages.
func (c *Config) Line(path string) int { return c.index.line(path) }

// parentPath strips the last component: "a[0].b" -> "a[0]" -> "a" -> "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// valueKind is what a key of the schema holds.
type valueKind int

const (
	kindString valueKind = iota
	kindInt
	kindBool
	kindDuration
	kindPeriod // weeks, days or a duration (Period)
	kindSize
	kindStrings
	kindTable
	kindTables
)

// schemaNode describes one key: its kind and, for tables, the keys inside.
type schemaNode struct {
	kind   valueKind
	fields map[string]*schemaNode
}

var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// schemaOf derives the schema from toml struct tags. It mirrors how
// go-toml decodes: untagged embedded structs (Secret) are flattened.
func schemaOf(t reflect.Type) *schemaNode {
	switch {
	case t == reflect.TypeFor[Duration]():
		return &schemaNode{kind: kindDuration}
	case t == reflect.TypeFor[Period]():
		return &schemaNode{kind: kindPeriod}
	case t == reflect.TypeFor[ByteSize]():
		return &schemaNode{kind: kindSize}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem())
	case reflect.String:
		return &schemaNode{kind: kindString}
	case reflect.Bool:
		return &schemaNode{kind: kindBool}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &schemaNode{kind: kindInt}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			n := schemaOf(t.Elem())
			n.kind = kindTables
			return n
		}
		return &schemaNode{kind: kindStrings}
	case reflect.Struct:
		n := &schemaNode{kind: kindTable, fields: map[string]*schemaNode{}}
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if tag == "-" || !f.IsExported() {
				continue
			}
			if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
				for k, v := range schemaOf(f.Type).fields {
					n.fields[k] = v
				}
				continue
			}
			if tag == "" {
				tag = f.Name
			}
			n.fields[tag] = schemaOf(f.Type)
		}
		return n
	}
	panic(fmt.Sprintf("config: no schema for %s", t)) // programming error, caught by every test
}

// keyName formats one key part for a path: bare when possible, else quoted.
func keyName(s string) string {
	if bareKey.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}

func joinKey(base, name string) string {
	if base == "" {
		return keyName(name)
	}
	return base + "." + keyName(name)
}

// walker walks the AST of one document.
type walker struct {
	p          *unstable.Parser
	lineStarts []int
	idx        *keyIndex
	counts     map[string]int  // array-of-tables path -> number of elements so far
	broken     map[string]bool // table paths already reported as wrong: no further errors below them
	col        *collector
}

// scanDocument parses data, fills the key index and reports schema errors
// to col. It returns false on a syntax error (also reported to col), in
// which case decoding must not be attempted.
func scanDocument(data []byte, schema *schemaNode, col *collector) (*keyIndex, bool) {
	w := &walker{
		p:      &unstable.Parser{},
		idx:    &keyIndex{lines: map[string]int{}},
		counts: map[string]int{},
		broken: map[string]bool{},
		col:    col,
	}
	w.lineStarts = append(w.lineStarts, 0)
	for i, c := range data {
		if c == '\n' {
			w.lineStarts = append(w.lineStarts, i+1)
		}
	}
	w.p.Reset(data)

	tablePath, tableSchema := "", schema // current table; nil schema = unknown, report nothing inside
	for w.p.NextExpression() {
		e := w.p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			tablePath, tableSchema = w.header(e, schema)
		case unstable.KeyValue:
			w.keyValue(tablePath, tableSchema, e)
		}
	}
	if err := w.p.Error(); err != nil {
		line, msg := 0, err.Error()
		if perr, ok := err.(*unstable.ParserError); ok {
			line = w.lineOfSlice(data, perr.Highlight)
			msg = perr.Message
		}
		col.addAt(line, "", "syntax error: "+msg)
		return w.idx, false
	}
	return w.idx, true
}

// lineOfSlice returns the line of a subslice of data (go-toml highlights
// share data's backing array), or 0.
func (w *walker) lineOfSlice(data, sub []byte) int {
	off := cap(data) - cap(sub)
	if sub == nil || off < 0 || off > len(data) {
		return 0
	}
	return w.lineAt(off)
}

// lineAt returns the 1-based line of a byte offset.
func (w *walker) lineAt(off int) int {
	return sort.Search(len(w.lineStarts), func(i int) bool { return w.lineStarts[i] > off })
}

type keyPart struct {
	name string
	line int
}

func (w *walker) keyParts(n *unstable.Node) []keyPart {
	var parts []keyPart
	it := n.Key()
	for it.Next() {
		k := it.Node()
		parts = append(parts, keyPart{name: string(k.Data), line: w.lineAt(int(k.Raw.Offset))})
	}
	return parts
}

func (w *walker) record(path string, line int) {
	w.idx.all = append(w.idx.all, keyAt{path, line})
	if _, ok := w.idx.lines[path]; !ok {
		w.idx.lines[path] = line
	}
}

// header handles [a.b] and [[a.b]] and returns the path and schema of the
// table that the following key-values belong to (schema nil: the table is
// unknown or wrong, and was reported already).
func (w *walker) header(e *unstable.Node, root *schemaNode) (string, *schemaNode) {
	array := e.Kind == unstable.ArrayTable
	parts := w.keyParts(e)
	path, sch := "", root
	for i, part := range parts {
		last := i == len(parts)-1
		path = joinKey(path, part.name)
		if w.broken[path] {
			sch = nil // reported once; say nothing about the tables below it
		}
		if sch != nil {
			child := sch.fields[part.name]
			msg := ""
			switch {
			case child == nil:
				msg = unknownKey(sch, part.name)
			case last && array && child.kind != kindTables:
				msg = fmt.Sprintf("is not a list of tables: write [%s], not [[%s]]", path, path)
			case last && !array && child.kind == kindTables:
				msg = fmt.Sprintf("is a list of tables: write [[%s]], not [%s]", path, path)
			case !last && child.kind == kindTables && w.counts[path] == 0:
				msg = fmt.Sprintf("[[%s]] must come before [%s]", path, joinPartNames(parts))
			case child.kind != kindTable && child.kind != kindTables:
				msg = "is a single value, not a table"
			}
			if msg != "" {
				w.col.addAt(part.line, path, msg)
				w.broken[path] = true
				child = nil
			}
			sch = child
		}
		if last && array {
			w.record(path, part.line)
			n := w.counts[path]
			w.counts[path] = n + 1
			path = fmt.Sprintf("%s[%d]", path, n)
		} else if n := w.counts[path]; n > 0 {
			path = fmt.Sprintf("%s[%d]", path, n-1) // [a.b] after [[a]]: the last a
		}
		w.record(path, part.line)
	}
	return path, sch
}

func joinPartNames(parts []keyPart) string {
	path := ""
	for _, p := range parts {
		path = joinKey(path, p.name)
	}
	return path
}

// keyValue handles "a.b = value" inside the table at base.
func (w *walker) keyValue(base string, sch *schemaNode, e *unstable.Node) {
	parts := w.keyParts(e)
	path := base
	for i, part := range parts {
		path = joinKey(path, part.name)
		w.record(path, part.line)
		if sch == nil {
			continue
		}
		child := sch.fields[part.name]
		switch {
		case child == nil:
			w.col.addAt(part.line, path, unknownKey(sch, part.name))
		case i < len(parts)-1 && child.kind == kindTables:
			w.col.addAt(part.line, path, fmt.Sprintf("is a list of tables: write [[%s]]", path))
			child = nil
		case i < len(parts)-1 && child.kind != kindTable:
			w.col.addAt(part.line, path, "is a single value, not a table")
			child = nil
		}
		sch = child
	}
	line := parts[len(parts)-1].line
	w.value(path, line, sch, e.Value())
}

// value checks one value against its schema and indexes what is inside
// (list elements, inline tables). sch nil: index only.
func (w *walker) value(path string, line int, sch *schemaNode, v *unstable.Node) {
	if v.Raw.Length > 0 {
		line = w.lineAt(int(v.Raw.Offset))
	}
	if sch == nil {
		return
	}
	bad := func(want string) {
		w.col.addAt(line, path, fmt.Sprintf("must be %s, not %s", want, kindText(v.Kind)))
	}
	switch sch.kind {
	case kindString:
		if v.Kind != unstable.String {
			bad("a string (in quotes)")
		}
	case kindInt:
		if v.Kind != unstable.Integer {
			bad("an integer")
		}
	case kindBool:
		if v.Kind != unstable.Bool {
			bad("true or false")
		}
	case kindDuration:
		if v.Kind != unstable.String {
			bad(`a duration in quotes, e.g. "60s" or "72h"`)
		} else if _, err := ParseDuration(string(v.Data)); err != nil {
			w.col.addAt(line, path, err.Error())
		}
	case kindPeriod:
		if v.Kind != unstable.String {
			bad(`a period in quotes, e.g. "4w" or "30d"`)
		} else if _, err := ParsePeriod(string(v.Data)); err != nil {
			w.col.addAt(line, path, err.Error())
		}
	case kindSize:
		switch v.Kind {
		case unstable.Integer:
		case unstable.String:
			if _, err := ParseByteSize(string(v.Data)); err != nil {
				w.col.addAt(line, path, err.Error())
			}
		default:
			bad(`an integer (bytes) or a size in quotes, e.g. "50 MB"`)
		}
	case kindStrings:
		if v.Kind != unstable.Array {
			bad(`a list of strings, e.g. ["a", "b"]`)
			return
		}
		w.elements(path, line, v, func(p string, elLine int, el *unstable.Node) {
			if el.Kind != unstable.String {
				w.col.addAt(elLine, p, "must be a string (in quotes), not "+kindText(el.Kind))
			}
		})
	case kindTable:
		if v.Kind != unstable.InlineTable {
			bad("a table")
			return
		}
		w.inlineTable(path, sch, v)
	case kindTables:
		if v.Kind != unstable.Array {
			bad("a list of tables")
			return
		}
		w.elements(path, line, v, func(p string, elLine int, el *unstable.Node) {
			if el.Kind != unstable.InlineTable {
				w.col.addAt(elLine, p, "must be a table, not "+kindText(el.Kind))
				return
			}
			w.inlineTable(p, sch, el)
		})
	}
}

// elements records each element of the array v under "path[i]" with its own line (the
// array's line where the element has no position) and hands it to check.
func (w *walker) elements(path string, line int, v *unstable.Node, check func(p string, elLine int, el *unstable.Node)) {
	it := v.Children()
	for i := 0; it.Next(); i++ {
		el := it.Node()
		p := fmt.Sprintf("%s[%d]", path, i)
		elLine := line
		if el.Raw.Length > 0 {
			elLine = w.lineAt(int(el.Raw.Offset))
		}
		w.record(p, elLine)
		check(p, elLine, el)
	}
}

func (w *walker) inlineTable(path string, sch *schemaNode, v *unstable.Node) {
	it := v.Children()
	for it.Next() {
		if kv := it.Node(); kv.Kind == unstable.KeyValue {
			w.keyValue(path, sch, kv)
		}
	}
}

func kindText(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a decimal number"
	case unstable.Bool:
		return "a boolean"
	case unstable.Array:
		return "a list"
	case unstable.InlineTable:
		return "a table"
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return "a date/time"
	}
	return strings.ToLower(k.String())
}

// unknownKey is the message for a key the table does not have, with the
// closest known key as a hint.
func unknownKey(sch *schemaNode, name string) string {
	lower := strings.ToLower(name)
	limit := 1
	if len(lower) > 4 {
		limit = 2
	}
	best, bestDist := "", limit+1
	for k := range sch.fields {
		d := editDistance(lower, k)
		if d < bestDist || d == bestDist && k < best {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key (did you mean %q?)", best)
	}
	keys := make([]string, 0, len(sch.fields))
	for k := range sch.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return "unknown key (known keys here: " + strings.Join(keys, ", ") + ")"
}

// editDistance is the optimal string alignment distance of two short
// strings: insertions, deletions, substitutions and transpositions of
// adjacent characters ("prot" -> "port") cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// hasBOM reports a UTF-8 byte order mark, which TOML does not allow but
// Windows editors write.
func hasBOM(data []byte) bool { return bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) }
