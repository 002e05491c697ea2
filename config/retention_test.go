package config

import (
	"strings"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	tests := []struct {
		name    string
		line    string // replaces `prefix = "STK"`
		want    time.Duration
		wantErr string
	}{
		{"default keeps forever", `prefix = "STK"`, 0, ""},
		{"one year", "prefix = \"STK\"\nretention = \"8760h\"", 8760 * time.Hour, ""},
		{"explicit zero", "prefix = \"STK\"\nretention = \"0s\"", 0, ""},
		{"negative", "prefix = \"STK\"\nretention = \"-24h\"", 0, "mailbox[0].retention: must be 0 (keep forever) or more"},
		{"too short", "prefix = \"STK\"\nretention = \"1h\"", 0, "mailbox[0].retention: must be at least 24h"},
		{"days are no Go unit", "prefix = \"STK\"\nretention = \"365d\"", 0, "invalid duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(edit(t, base, `prefix = "STK"`, tt.line)), "intake.toml")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse: err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := c.Mailboxes[0].Retention.Duration; got != tt.want {
				t.Errorf("retention = %s, want %s", got, tt.want)
			}
		})
	}
}
