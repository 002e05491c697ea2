package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestShippedBinaryHasNoTestCode: the shipped binary must not carry the
// test rig (internal/mailrig starts mail servers and creates system users)
// nor package testing. The drain benchmark that needs the rig is its own
// command, cmd/intake-bench.
func TestShippedBinaryHasNoTestCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed %d packages; that cannot be the daemon's closure:\n%s", len(deps), out)
	}
	forbidden := map[string]bool{
		"testing":           true,
		"net/http/httptest": true,
		"github.com/intake-office/intake/internal/mailrig": true,
	}
	for _, d := range deps {
		if forbidden[d] || strings.HasPrefix(d, "testing/") {
			t.Errorf("cmd/intake depends on %s", d)
		}
	}
}
