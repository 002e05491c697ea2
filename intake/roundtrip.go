package intake

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gomail "github.com/wneessen/go-mail"

	"github.com/intake-office/intake/config"
)

// RoundtripHeader carries the random token that identifies a roundtrip
// test mail; the check finds its mail by it (RFC 9051 §6.4.4 SEARCH HEADER).
const RoundtripHeader = "X-Intake-Roundtrip"

// RoundtripSubject is the subject of the roundtrip test mail.
const RoundtripSubject = "intake Prüfnachricht / test message"

// RoundtripOptions tune Roundtrip; the zero value means the defaults.
type RoundtripOptions struct {
	// Timeout is how long to wait for the test mail to arrive. Default 2m.
	Timeout time.Duration
	// Poll is the interval between two searches. Default 500ms.
	Poll time.Duration
	// InstanceID is written into the loop header. Default: the office
	// hostname, else the host name, as the daemon does.
	InstanceID string
}

// Roundtrip sends a test mail through a mailbox's own SMTP account to the
// mailbox address and watches the mailbox's IMAP folder, with a connection
// of its own, until the mail arrives; then it removes the mail (UID STORE
// \Deleted and UID EXPUNGE, RFC 4315 §2.1) when the server offers UIDPLUS,
// and otherwise leaves it and says so. The result's Detail names the SMTP
// server, the folder and the time from send to arrival.
//
// The test mail carries our loop header (rule S10) and a Message-ID in the
// mailbox's acknowledgement domain, so intake never acknowledges it. An
// intake daemon running on the mailbox registers it like every other mail
// that reaches the folder, with its acknowledgement suppressed for reason
// OWN_LOOP, which keeps the register complete and gapless: the test mail
// takes a reference number of its own. (Policy rule S10 does not mark a
// mail as machine-generated, so that case's kind is "citizen", not
// "automated".) When the check sees and removes the mail before the daemon
// fetched it, nothing is registered.
// When that daemon moves registered mail away (move_to), the check also
// looks in that folder and removes the mail there.
func Roundtrip(ctx context.Context, cfg *config.Config, mb config.Mailbox, o RoundtripOptions) CheckResult {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.InstanceID == "" {
		o.InstanceID = cfg.Office.Hostname
		if o.InstanceID == "" {
			h, _ := os.Hostname()
			o.InstanceID = h
		}
	}
	smtpAddr := net.JoinHostPort(mb.SMTP.Host, strconv.Itoa(mb.SMTP.Port))
	res := CheckResult{Mailbox: mb.Name, Check: "roundtrip",
		Target: fmt.Sprintf("%s -> %s", smtpAddr, net.JoinHostPort(mb.IMAP.Host, strconv.Itoa(mb.IMAP.Port)))}
	detail, err := roundtrip(ctx, cfg, mb, o, smtpAddr)
	if err != nil {
		res.Detail = err.Error()
		return res
	}
	res.OK = true
	res.Detail = detail
	return res
}

func roundtrip(ctx context.Context, cfg *config.Config, mb config.Mailbox, o RoundtripOptions, smtpAddr string) (string, error) {
	// Connect to IMAP first: a mail we could not watch for and remove
	// should not be sent at all.
	c, err := DialIMAP(mb, nil)
	if err != nil {
		return "", fmt.Errorf("watch folder: %w", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	folders := []string{mb.IMAP.Folder}
	if mb.IMAP.MoveTo != "" && mb.IMAP.MoveTo != mb.IMAP.Folder {
		folders = append(folders, mb.IMAP.MoveTo)
	}
	if _, err := c.Select(mb.IMAP.Folder, nil).Wait(); err != nil {
		return "", fmt.Errorf("select folder %q: %w", mb.IMAP.Folder, err)
	}

	token := rand.Text()
	m, err := roundtripMsg(cfg, mb, o.InstanceID, token)
	if err != nil {
		return "", fmt.Errorf("build test mail: %w", err)
	}
	client, err := NewSMTPClient(mb)
	if err != nil {
		return "", fmt.Errorf("send via %s: %w", smtpAddr, err)
	}
	if err := client.DialAndSendWithContext(ctx, m); err != nil {
		return "", fmt.Errorf("send via %s: %w", smtpAddr, err)
	}
	sent := time.Now()

	var detail string
	for first := true; ; first = false {
		folder, uids, err := waitArrival(ctx, c, folders, token, o.Poll)
		if err != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("sent via %s, but it did not arrive in %s within %s", smtpAddr, strings.Join(quoteAll(folders), " or "), o.Timeout)
			}
			return "", fmt.Errorf("sent via %s, then watching %s: %w", smtpAddr, strings.Join(quoteAll(folders), " or "), err)
		}
		if first {
			elapsed := time.Since(sent)
			detail = fmt.Sprintf("sent via %s, arrived in %s after %.1f s", smtpAddr, folder, elapsed.Seconds())
		}
		if !c.Caps().Has(imap.CapUIDPlus) {
			return detail + ", left in place (the server has no UIDPLUS, so it cannot be removed alone); please delete it by hand", nil
		}
		n, err := removeUIDs(c, uids)
		if err != nil {
			return "", fmt.Errorf("%s, but removing it failed: %w", detail, err)
		}
		if n > 0 {
			if len(folders) > 1 && folder != folders[1] {
				// A running daemon may have copied it to move_to before the removal,
				// its own expunge then finding nothing: remove that copy too. A copy
				// it tries after the removal finds no mail to copy.
				if err := removeCopy(c, folders[1], token); err != nil {
					return "", fmt.Errorf("%s, removed, but a copy in %q: %w", detail, folders[1], err)
				}
			}
			break
		}
		// Nothing expunged: a running daemon moved the mail to move_to
		// between the search and the removal. Look for it again.
	}
	_ = c.Logout().Wait()
	return detail + ", removed", nil
}

// testMailCriteria finds the test mail with the token by its RoundtripHeader.
func testMailCriteria(token string) *imap.SearchCriteria {
	return &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: RoundtripHeader, Value: token}}}
}

// removeCopy removes the mails with the token from folder, if it exists.
func removeCopy(c *imapclient.Client, folder, token string) error {
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		return nil // move_to may not exist until the daemon creates it
	}
	crit := testMailCriteria(token)
	data, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return fmt.Errorf("uid search: %w", err)
	}
	if uids := data.AllUIDs(); len(uids) > 0 {
		_, err = removeUIDs(c, imap.UIDSetNum(uids...))
	}
	return err
}

// roundtripMsg builds the test mail. Its Message-ID lies in the mailbox's
// acknowledgement domain and it carries the loop header, each of which makes
// it our own mail for rule S10 (RFC 3834 §2 asks responders to avoid loops).
func roundtripMsg(cfg *config.Config, mb config.Mailbox, instanceID, token string) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.FromFormat("intake", mb.Address); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if err := m.To(mb.Address); err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	m.Subject(RoundtripSubject)
	m.SetMessageIDWithValue(strings.ToLower(token) + ".roundtrip@" + AckDomain(mb))
	m.SetDate()
	m.SetGenHeader(LoopHeader, instanceID)
	m.SetGenHeader(RoundtripHeader, token)
	m.SetBodyString(gomail.TypeTextPlain,
		"Diese Nachricht hat \"intake config check -roundtrip\" gesendet, um den Weg vom Versand bis zum Postfach zu prüfen. "+
			"Sie wird nach dem Eingang gelöscht; ein laufendes intake registriert sie als automatische Nachricht und bestätigt sie nicht.\r\n\r\n"+
			"This message was sent by \"intake config check -roundtrip\" to test the way from sending to the mailbox. "+
			"It is deleted once it has arrived; a running intake registers it as an automated message and does not acknowledge it.\r\n")
	return m, nil
}

// waitArrival searches the folders in turn for the mail with the token
// until it is found or ctx ends. It returns the folder it was found in,
// which is then selected, and the UIDs of the matching mails.
func waitArrival(ctx context.Context, c *imapclient.Client, folders []string, token string, poll time.Duration) (string, imap.UIDSet, error) {
	crit := testMailCriteria(token)
	selected := folders[0]
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		for _, f := range folders {
			if f != selected {
				if _, err := c.Select(f, nil).Wait(); err != nil {
					selected = "" // a failed SELECT leaves no folder selected (RFC 9051 §6.3.2)
					if ctx.Err() != nil {
						return "", nil, ctx.Err()
					}
					if f != folders[0] {
						continue // move_to may not exist until the daemon creates it
					}
					return "", nil, fmt.Errorf("select folder %q: %w", f, err)
				}
				selected = f
			} else if err := c.Noop().Wait(); err != nil {
				if ctx.Err() != nil {
					return "", nil, ctx.Err()
				}
				return "", nil, fmt.Errorf("noop in %q: %w", f, err)
			}
			data, err := c.UIDSearch(crit, nil).Wait()
			if err != nil {
				if ctx.Err() != nil {
					return "", nil, ctx.Err()
				}
				return "", nil, fmt.Errorf("uid search in %q: %w", f, err)
			}
			if uids := data.AllUIDs(); len(uids) > 0 {
				return f, imap.UIDSetNum(uids...), nil
			}
		}
		select {
		case <-ctx.Done():
			return "", nil, ctx.Err()
		case <-t.C:
		}
	}
}

// removeUIDs deletes exactly the given messages of the selected folder:
// UID STORE +FLAGS.SILENT (\Deleted) then UID EXPUNGE (RFC 4315 §2.1),
// which leaves other mails marked \Deleted alone. It returns how many
// mails were expunged.
func removeUIDs(c *imapclient.Client, uids imap.UIDSet) (int, error) {
	store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := c.Store(uids, store, nil).Close(); err != nil {
		return 0, fmt.Errorf("uid store \\Deleted %s: %w", uids, err)
	}
	gone, err := c.UIDExpunge(uids).Collect()
	if err != nil {
		return 0, fmt.Errorf("uid expunge %s: %w", uids, err)
	}
	return len(gone), nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
