package config

import (
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		str  string
	}{
		{"4w", 4 * 7 * 24 * time.Hour, "4w"},
		{"30d", 30 * 24 * time.Hour, "30d"},
		{"14d", 14 * 24 * time.Hour, "2w"},
		{" 10m ", 10 * time.Minute, "10m0s"},
		{"72h", 72 * time.Hour, "3d"},
	}
	for _, tt := range tests {
		got, err := ParsePeriod(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if s := (Period{got}).String(); s != tt.str {
			t.Errorf("Period(%v).String() = %q, want %q", got, s, tt.str)
		}
	}
	for _, bad := range []string{"", "w", "4x", "-4w", "vier Wochen", "99999999w"} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("ParsePeriod(%q): no error", bad)
		}
	}
}
