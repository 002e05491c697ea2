package intake_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/intake-office/intake/intake/policy"
)

// sourceFiles parses the non-test Go files of dir.
func sourceFiles(t *testing.T, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return out
}

// reasonConsts returns the string constants named Reason* declared in files,
// by name.
func reasonConsts(files []*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					if v, err := strconv.Unquote(lit.Value); err == nil {
						out[name.Name] = v
					}
				}
			}
		}
	}
	return out
}

// policyReasonsUsed returns the names X of every policy.X selector in files
// whose name starts with Reason.
func policyReasonsUsed(files []*ast.File) []string {
	var out []string
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "policy" && strings.HasPrefix(sel.Sel.Name, "Reason") {
				out = append(out, sel.Sel.Name)
			}
			return true
		})
	}
	return out
}

// TestEveryStoredReasonIsExplained collects every reason code that can be
// stored with a message - each code policy declares (Decide's and the
// stages after it), each code package ticket declares for what the register
// stores itself, each policy code the watcher and responder name - and checks
// that policy.Reasons lists it and policy.Explain explains it in its own
// words, German and English.
func TestEveryStoredReasonIsExplained(t *testing.T) {
	policyConsts := reasonConsts(sourceFiles(t, "policy"))
	stored := map[string]string{} // code -> where it comes from
	for name, code := range policyConsts {
		stored[code] = "policy." + name
	}
	for name, code := range reasonConsts(sourceFiles(t, "../ticket")) {
		stored[code] = "ticket." + name
	}
	for _, name := range policyReasonsUsed(sourceFiles(t, ".")) {
		code, ok := policyConsts[name]
		if !ok {
			t.Errorf("intake names policy.%s, which policy does not declare as a string constant", name)
			continue
		}
		stored[code] = "intake: policy." + name
	}
	if len(stored) < 20 {
		t.Fatalf("found only %d codes in the source: %v", len(stored), stored)
	}
	listed := policy.Reasons()
	for code, from := range stored {
		if !slices.Contains(listed, policy.Reason(code)) {
			t.Errorf("%s (%s) is missing from policy.Reasons()", code, from)
		}
		de, en := policy.Explain(policy.Reason(code))
		if de == "" || en == "" || strings.Contains(de, code) || strings.Contains(en, code) {
			t.Errorf("policy.Explain(%s) (%s) has no explanation of its own: %q, %q", code, from, de, en)
		}
	}
}
