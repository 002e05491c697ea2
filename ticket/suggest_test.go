package ticket

import "testing"

func TestHasOwnPrefix(t *testing.T) {
	prefixes := []string{"STK", "BAU2"}
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"STK-2026-000042-6", true},
		{"stk 2026 42 5", true},
		{"Bau2-2026-7-1", true},
		{"meine 1539,97", false},
		{"STK-2026-Antrag", false},
		{"Grünfläche 2026", false},
		{"", false},
	} {
		if got := HasOwnPrefix(tt.in, prefixes); got != tt.want {
			t.Errorf("HasOwnPrefix(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
