package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// Backup configures "intake backup": with recipients, every backup is
// encrypted to them (age, https://age-encryption.org/v1), so that a stolen
// backup reveals no citizen's mail; restoring it takes a matching identity
// (secret key) file, kept away from the server.
type Backup struct {
	// AgeRecipients are age public keys ("age1…", or "age1pq1…" for the
	// post-quantum hybrid kind; the two kinds cannot be mixed). Empty and
	// no AgeRecipientsFile = backups are not encrypted.
	AgeRecipients []string `toml:"age_recipients"`
	// AgeRecipientsFile is a file of further recipients, one per line,
	// "#" comments (age's recipients file format).
	AgeRecipientsFile string `toml:"age_recipients_file"`
}

// Encrypted reports whether backups are encrypted (recipients are
// configured).
func (b Backup) Encrypted() bool { return len(b.AgeRecipients) > 0 || b.AgeRecipientsFile != "" }

// Recipients parses the recipients of both keys; none when backups are not
// encrypted. Validate has checked them; the file is read again here.
func (b Backup) Recipients() ([]age.Recipient, error) {
	var out []age.Recipient
	for i, s := range b.AgeRecipients {
		r, err := parseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("backup.age_recipients[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	if b.AgeRecipientsFile != "" {
		rs, err := readRecipientsFile(b.AgeRecipientsFile)
		if err != nil {
			return nil, fmt.Errorf("backup.age_recipients_file: %w", err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// parseRecipient parses one recipient. A secret key put here by mistake is
// named as such and never repeated in the message.
func parseRecipient(s string) (age.Recipient, error) {
	switch t := strings.TrimSpace(s); {
	case strings.HasPrefix(strings.ToUpper(t), "AGE-SECRET-KEY-"):
		return nil, errors.New(`this is a secret key (an identity), not a recipient: put its public key "age1…" here and keep the secret key off this server`)
	case t != s || !strings.HasPrefix(s, "age1") || strings.ContainsAny(s, "\r\n"):
		return nil, errors.New(`not an age recipient: write a public key "age1…" as age-keygen or "intake backup keygen" print it`)
	}
	rs, err := age.ParseRecipients(strings.NewReader(s))
	if err != nil || len(rs) != 1 {
		return nil, fmt.Errorf("not an age recipient: %v", err)
	}
	return rs[0], nil
}

func readRecipientsFile(path string) ([]age.Recipient, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(bytes.ToUpper(b), []byte("AGE-SECRET-KEY-")) {
		return nil, fmt.Errorf("%s holds a secret key (an identity): only public keys \"age1…\" belong on this server", path)
	}
	rs, err := age.ParseRecipients(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return rs, nil
}

// validateBackup checks the [backup] table: every recipient parses, none
// twice, and age accepts the set (post-quantum recipients cannot be mixed
// with X25519 ones, age-encryption.org/v1 "mlkem768x25519").
func (c *Config) validateBackup(v *collector) {
	b := c.Backup
	seen := map[string]bool{}
	var recs []age.Recipient
	for i, s := range b.AgeRecipients {
		key := fmt.Sprintf("backup.age_recipients[%d]", i)
		r, err := parseRecipient(s)
		switch {
		case err != nil:
			v.add(key, "%v", err)
			continue
		case seen[s]:
			v.add(key, "%s is listed twice", s)
			continue
		}
		seen[s] = true
		recs = append(recs, r)
	}
	if b.AgeRecipientsFile != "" {
		rs, err := readRecipientsFile(b.AgeRecipientsFile)
		if err != nil {
			v.add("backup.age_recipients_file", "%v", err)
		}
		recs = append(recs, rs...)
	}
	if len(recs) > 1 {
		if w, err := age.Encrypt(io.Discard, recs...); err != nil {
			v.add("backup.age_recipients", "age refuses this set of recipients (post-quantum \"age1pq1…\" keys cannot be mixed with \"age1…\" keys): %v", err)
		} else {
			_ = w.Close()
		}
	}
}
