package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/intake-office/intake/config"
)

// tokenEarlyExpiry is how long before its expiry a cached access token is
// replaced by a fresh one, so that a token is never sent about to expire.
const tokenEarlyExpiry = 2 * time.Minute

// tokenHTTPTimeout bounds one request to the token endpoint.
const tokenHTTPTimeout = 30 * time.Second

// NewTokenSource returns the access-token source of an account: the
// client-credentials grant (RFC 6749 §4.4) without a refresh token, the
// refresh-token grant (RFC 6749 §6) with one. Tokens are cached and
// replaced tokenEarlyExpiry before they expire. Errors of Token never
// contain the client secret or the refresh token.
func NewTokenSource(o *config.OAuth2) (oauth2.TokenSource, error) {
	secret, err := o.ResolveClientSecret()
	if err != nil {
		return nil, fmt.Errorf("oauth2 client secret: %w", err)
	}
	refresh, err := o.ResolveRefreshToken()
	if err != nil {
		return nil, fmt.Errorf("oauth2 refresh token: %w", err)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: tokenHTTPTimeout})
	var src oauth2.TokenSource
	if refresh == "" {
		cc := &clientcredentials.Config{ClientID: o.ClientID, ClientSecret: secret, TokenURL: o.TokenURL, Scopes: o.Scopes}
		src = cc.TokenSource(ctx)
	} else {
		oc := &oauth2.Config{ClientID: o.ClientID, ClientSecret: secret, Scopes: o.Scopes,
			Endpoint: oauth2.Endpoint{TokenURL: o.TokenURL}}
		src = oc.TokenSource(ctx, &oauth2.Token{RefreshToken: refresh})
	}
	return &namedSource{url: o.TokenURL, src: oauth2.ReuseTokenSourceWithExpiry(nil, src, tokenEarlyExpiry)}, nil
}

// namedSource makes every token error name the token endpoint.
type namedSource struct {
	url string
	src oauth2.TokenSource
}

func (n *namedSource) Token() (*oauth2.Token, error) {
	t, err := n.src.Token()
	if err != nil {
		return nil, fmt.Errorf("oauth2 token from %s: %s", n.url, describeTokenError(err))
	}
	if t.AccessToken == "" {
		return nil, fmt.Errorf("oauth2 token from %s: response holds no access_token", n.url)
	}
	return t, nil
}

// describeTokenError gives the OAuth error code and description (RFC 6749
// §5.2) instead of the raw response body.
func describeTokenError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		switch {
		case re.ErrorCode != "" && re.ErrorDescription != "":
			return fmt.Sprintf("%s: %s (HTTP %d)", re.ErrorCode, re.ErrorDescription, status)
		case re.ErrorCode != "":
			return fmt.Sprintf("%s (HTTP %d)", re.ErrorCode, status)
		}
		return fmt.Sprintf("HTTP %d", status)
	}
	return err.Error()
}

// signInToken takes a token from the mailbox's long-lived source, or fetches
// one for this sign-in only when there is none (config check, roundtrip).
func signInToken(o *config.OAuth2, tokens oauth2.TokenSource) (*oauth2.Token, error) {
	if tokens != nil {
		return tokens.Token()
	}
	return accessToken(o)
}

// meteredTokens is a mailbox's token source for the daemon's lifetime: one
// token serves every connection until shortly before it expires (see
// NewTokenSource), and every fetch updates the expiry metric, or logs and
// counts a failed refresh at once instead of days later.
type meteredTokens struct {
	ts                oauth2.TokenSource
	metrics           *metrics // nil: not counted
	log               *slog.Logger
	mailbox, protocol string
}

func (m *meteredTokens) Token() (*oauth2.Token, error) {
	tok, err := m.ts.Token()
	mt := m.metrics
	if err != nil {
		m.log.Error("oauth2 token refresh failed", "mailbox", m.mailbox, "protocol", m.protocol, "err", err)
		if mt != nil {
			mt.oauthFailures.WithLabelValues(m.mailbox, m.protocol).Inc()
		}
		return nil, err
	}
	if mt != nil && !tok.Expiry.IsZero() {
		mt.oauthExpiry.WithLabelValues(m.mailbox, m.protocol).Set(float64(tok.Expiry.Unix()))
	}
	return tok, nil
}

// tokenSource returns the long-lived token source of one account, or nil
// without OAuth2 (or when the settings cannot make one: the sign-in then
// reports why).
func (d *Daemon) tokenSource(mailbox, protocol string, o *config.OAuth2) oauth2.TokenSource {
	if o == nil {
		return nil
	}
	ts, err := NewTokenSource(o)
	if err != nil {
		return nil
	}
	return &meteredTokens{ts: ts, metrics: d.metrics, log: d.log, mailbox: mailbox, protocol: protocol}
}

// accessToken fetches a token for one sign-in.
func accessToken(o *config.OAuth2) (*oauth2.Token, error) {
	ts, err := NewTokenSource(o)
	if err != nil {
		return nil, err
	}
	return ts.Token()
}

// imapSASL picks the SASL mechanism for an OAuth2 sign-in: OAUTHBEARER
// (RFC 7628 §3.1) when the server advertises AUTH=OAUTHBEARER, else the
// XOAUTH2 format of Google and Microsoft.
func imapSASL(c *imapclient.Client, username, token string) sasl.Client {
	if c.Caps().Has(imap.AuthCap(sasl.OAuthBearer)) {
		return sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: username, Token: token})
	}
	return &xoauth2Client{username: username, token: token}
}

// xoauth2Client is the client side of SASL XOAUTH2
// (https://developers.google.com/gmail/imap/xoauth2-protocol).
type xoauth2Client struct{ username, token string }

func (x *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.username + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers the server's JSON error challenge with an empty response,
// after which the server ends the exchange with NO.
func (x *xoauth2Client) Next([]byte) ([]byte, error) { return []byte{}, nil }
