package config_test

import (
	"errors"
	"fmt"

	"github.com/intake-office/intake/config"
)

// Parse (and Load, which reads the file first) reports every problem of a
// configuration at once, each with file, line and key.
func ExampleParse() {
	_, err := config.Parse([]byte(`data_dir = "/var/lib/intake"
timezone = "Europe/Berlin"

[[mailbox]]
name = "poststelle"
address = "poststelle@stk.example.de"
prefix = "stk"
colour = "blue"

[mailbox.imap]
host = "imap.stk.example.de"
port = 99999
`), "intake.toml")
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Println(e)
		}
	}
	// Output:
	// intake.toml:4: mailbox[0].smtp.host: is required
	// intake.toml:7: mailbox[0].prefix: "stk" must be 1 to 10 characters A-Z or 0-9 (upper case)
	// intake.toml:8: mailbox[0].colour: unknown key (known keys here: ack, address, aliases, handling_time, imap, language, name, policy, prefix, retention, smtp)
	// intake.toml:10: mailbox[0].imap.username: is required
	// intake.toml:10: mailbox[0].imap: one of password, password_file or password_env is required
	// intake.toml:12: mailbox[0].imap.port: must be between 1 and 65535
}
