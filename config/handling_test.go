package config

import (
	"strings"
	"testing"
	"time"
)

func TestHandlingTime(t *testing.T) {
	tests := []struct {
		name    string
		line    string // replaces `prefix = "STK"`
		want    time.Duration
		wantErr string
	}{
		{"default four weeks", `prefix = "STK"`, 672 * time.Hour, ""},
		{"two weeks", "prefix = \"STK\"\nhandling_time = \"336h\"", 336 * time.Hour, ""},
		{"too short", "prefix = \"STK\"\nhandling_time = \"1h\"", 0, "intake.toml:"},
		{"too short names the key", "prefix = \"STK\"\nhandling_time = \"1h\"", 0, "mailbox[0].handling_time: must be at least 24h"},
		{"negative", "prefix = \"STK\"\nhandling_time = \"-24h\"", 0, "mailbox[0].handling_time: must be at least 24h"},
		{"weeks are no Go unit", "prefix = \"STK\"\nhandling_time = \"4w\"", 0, "invalid duration"},
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
			if got := c.Mailboxes[0].HandlingTime.Duration; got != tt.want {
				t.Errorf("handling_time = %s, want %s", got, tt.want)
			}
		})
	}
}
