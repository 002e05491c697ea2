package intake

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/oauth2"
)

func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

type stubTokens struct {
	tok *oauth2.Token
	err error
}

func (s stubTokens) Token() (*oauth2.Token, error) { return s.tok, s.err }

func TestMeteredTokensReportExpiryAndFailures(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	mt := newMetrics("test", nil, nil)
	exp := time.Unix(2_000_000_000, 0)
	ok := &meteredTokens{ts: stubTokens{tok: &oauth2.Token{AccessToken: "t", Expiry: exp}}, metrics: mt, log: log, mailbox: "post", protocol: "imap"}
	if _, err := ok.Token(); err != nil {
		t.Fatal(err)
	}
	if got := value(t, mt.oauthExpiry.WithLabelValues("post", "imap")); got != float64(exp.Unix()) {
		t.Errorf("expiry gauge %v, want %v", got, exp.Unix())
	}
	bad := &meteredTokens{ts: stubTokens{err: errors.New("invalid_client")}, metrics: mt, log: log, mailbox: "post", protocol: "smtp"}
	if _, err := bad.Token(); err == nil {
		t.Fatal("no error from a failing source")
	}
	if got := value(t, mt.oauthFailures.WithLabelValues("post", "smtp")); got != 1 {
		t.Errorf("failure counter %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "oauth2 token refresh failed") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the failure was not logged at once as an error:\n%s", logs.String())
	}
}
