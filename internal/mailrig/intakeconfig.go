package mailrig

import (
	"fmt"
	"net"
)

// IntakeConfig returns an intake configuration (TOML) for one mailbox
// "post" of user office on this rig: IMAPS with the rig's certificate as
// ca_file, and SMTP through Postfix's submission port with STARTTLS and
// AUTH as the same user. policy is the body of its [mailbox.policy] table
// ("" for the defaults). The end-to-end tests and cmd/intake-bench use it.
func (r *Rig) IntakeConfig(dataDir, office, policy string) string {
	_, imapsPort, _ := net.SplitHostPort(r.IMAPSAddr)
	_, subPort, _ := net.SplitHostPort(r.SubmissionAddr)
	pass := r.Users[office]
	return fmt.Sprintf(`data_dir = %q

[office]
name = "Testamt"

[log]
level = "debug"

[[mailbox]]
name = "post"
address = %q
prefix = "STK"

[mailbox.imap]
host = "127.0.0.1"
port = %s
tls = "tls"
ca_file = %q
username = %q
password = %q
keyword = "$Registriert"

[mailbox.smtp]
host = "127.0.0.1"
port = %s
tls = "starttls"
ca_file = %q
username = %q
password = %q

[mailbox.policy]
%s
`, dataDir, office, imapsPort, r.CAFile, office, pass, subPort, r.CAFile, office, pass, policy)
}
