package mailparse

import (
	"maps"
	"strings"
	"testing"
)

// am builds an AuthMethod for the expectations below; props alternate key and value.
func am(method, result string, props ...string) AuthMethod {
	m := AuthMethod{Method: method, Result: result, Props: map[string]string{}}
	for i := 0; i+1 < len(props); i += 2 {
		m.Props[props[i]] = props[i+1]
	}
	return m
}

func equalAuthResult(a, b AuthResult) bool {
	if a.AuthservID != b.AuthservID || len(a.Methods) != len(b.Methods) {
		return false
	}
	for i := range a.Methods {
		x, y := a.Methods[i], b.Methods[i]
		if x.Method != y.Method || x.Result != y.Result || !maps.Equal(x.Props, y.Props) {
			return false
		}
	}
	return true
}

func TestAuthResults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field string // the header lines, folded as received
		want  []AuthResult
	}{
		{"Gmail", crlf(
			"Authentication-Results: mx.google.com;",
			"       dkim=pass header.i=@gmail.com header.s=20230601 header.b=Xk1wG0Yv;",
			"       spf=pass (google.com: domain of anna.beispiel@gmail.com designates 209.85.220.41 as permitted sender) smtp.mailfrom=anna.beispiel@gmail.com;",
			"       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=gmail.com"),
			[]AuthResult{{"mx.google.com", []AuthMethod{
				am("dkim", "pass", "header.i", "@gmail.com", "header.s", "20230601", "header.b", "Xk1wG0Yv"),
				am("spf", "pass", "smtp.mailfrom", "anna.beispiel@gmail.com"),
				am("dmarc", "pass", "header.from", "gmail.com"),
			}}}},
		{"Microsoft 365 with compauth, no authserv-id", crlf(
			"Authentication-Results: spf=pass (sender IP is 40.107.22.45)",
			" smtp.mailfrom=contoso.example; dkim=pass (signature was verified)",
			" header.d=contoso.example;dmarc=pass action=none",
			" header.from=contoso.example;compauth=pass reason=100"),
			[]AuthResult{{"", []AuthMethod{
				am("spf", "pass", "smtp.mailfrom", "contoso.example"),
				am("dkim", "pass", "header.d", "contoso.example"),
				am("dmarc", "pass", "action", "none", "header.from", "contoso.example"),
				am("compauth", "pass", "reason", "100"),
			}}}},
		{"Microsoft 365 with stray segments (MimeKit issue 490)", crlf(
			"Authentication-Results: spf=fail (sender IP is 192.0.2.1) smtp.mailfrom=eu-west-1.amazonses.example; receiving.example;",
			" dkim=pass (signature was verified) header.d=sender.example;sender1.example; dmarc=bestguesspass action=none header.from=sender.example;"),
			[]AuthResult{{"", []AuthMethod{
				am("spf", "fail", "smtp.mailfrom", "eu-west-1.amazonses.example"),
				am("dkim", "pass", "header.d", "sender.example"),
				am("dmarc", "bestguesspass", "action", "none", "header.from", "sender.example"),
			}}}},
		{"Postfix with OpenDKIM (job id) and OpenDMARC", crlf(
			"Authentication-Results: mx.stadt-musterhausen.example; dmarc=pass (p=none dis=none) header.from=posteo.example",
			"Authentication-Results: mx.stadt-musterhausen.example; spf=pass smtp.mailfrom=posteo.example",
			"Authentication-Results: mx.stadt-musterhausen.example/8D9E0F1A2B;",
			"\tdkim=pass (2048-bit key; secure) header.d=posteo.example header.i=@posteo.example header.a=rsa-sha256 header.s=2017 header.b=eW9BkRqv"),
			[]AuthResult{
				{"mx.stadt-musterhausen.example", []AuthMethod{am("dmarc", "pass", "header.from", "posteo.example")}},
				{"mx.stadt-musterhausen.example", []AuthMethod{am("spf", "pass", "smtp.mailfrom", "posteo.example")}},
				{"mx.stadt-musterhausen.example/8D9E0F1A2B", []AuthMethod{am("dkim", "pass", "header.d", "posteo.example",
					"header.i", "@posteo.example", "header.a", "rsa-sha256", "header.s", "2017", "header.b", "eW9BkRqv")}},
			}},
		{"rspamd", crlf(
			"Authentication-Results: mail.stadt-musterhausen.example;",
			"\tdkim=pass header.d=web.example header.s=dkim2024 header.b=\"AbCd/1+2\";",
			"\tdmarc=pass (policy=reject) header.from=web.example;",
			"\tspf=pass (mail.stadt-musterhausen.example: domain of \"p.neumann@web.example\" designates 192.0.2.110 as permitted sender) smtp.mailfrom=p.neumann@web.example"),
			[]AuthResult{{"mail.stadt-musterhausen.example", []AuthMethod{
				am("dkim", "pass", "header.d", "web.example", "header.s", "dkim2024", "header.b", "AbCd/1+2"),
				am("dmarc", "pass", "header.from", "web.example"),
				am("spf", "pass", "smtp.mailfrom", "p.neumann@web.example"),
			}}}},
		{"version, method version, CFWS around '=', reason", crlf(
			"Authentication-Results: mx.example.org 1; DKIM/1 = Fail (bad sig) reason=\"signature verification failed\" header.d = example.com ;",
			" spf=SoftFail smtp.mailfrom=<a@example.com>"),
			[]AuthResult{{"mx.example.org", []AuthMethod{
				am("dkim", "fail", "reason", "signature verification failed", "header.d", "example.com"),
				am("spf", "softfail", "smtp.mailfrom", "<a@example.com>"),
			}}}},
		{"no result", crlf("Authentication-Results: mx.example.org 1; none"),
			[]AuthResult{{"mx.example.org", nil}}},
		{"quoted authserv-id, nested comment, empty value", crlf(
			"Authentication-Results: \"mx.example.org\" (outer (inner) comment); spf=pass smtp.mail=; dkim=pass header.i="),
			[]AuthResult{{"mx.example.org", []AuthMethod{am("spf", "pass", "smtp.mail", ""), am("dkim", "pass", "header.i", "")}}}},
		{"Yahoo without ';' after the authserv-id and a stray property", crlf(
			"Authentication-Results: mta514.mail.kks.yahoo.example  from=y.example.co.jp; domainkeys=pass (ok); dkim=pass (ok); header.i=@y.example.co.jp"),
			[]AuthResult{{"mta514.mail.kks.yahoo.example", []AuthMethod{am("domainkeys", "pass"), am("dkim", "pass")}}}},
		{"ARC fields are not Authentication-Results", crlf(
			"ARC-Authentication-Results: i=1; mx.google.com; spf=pass smtp.mailfrom=a@example.com"),
			nil},
		{"garbage", crlf(
			"Authentication-Results:",
			"Authentication-Results: (only a comment)",
			"Authentication-Results: ;;;",
			"Authentication-Results: =;= ; \"unterminated",
			"Authentication-Results: mx (unterminated comment; spf=pass"),
			[]AuthResult{{"mx", nil}}},
		{"first instance of a property wins, methods keep their order", crlf(
			"Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=first.example smtp.mailfrom=second.example; spf=fail smtp.mailfrom=other.example"),
			[]AuthResult{{"mx.example.org", []AuthMethod{
				am("spf", "pass", "smtp.mailfrom", "first.example"), am("spf", "fail", "smtp.mailfrom", "other.example")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.field+"Subject: s\r\n\r\nx\r\n")
			if len(m.AuthResults) != len(tc.want) {
				t.Fatalf("AuthResults = %+v, want %+v", m.AuthResults, tc.want)
			}
			for i := range tc.want {
				if !equalAuthResult(m.AuthResults[i], tc.want[i]) {
					t.Errorf("AuthResults[%d] = %+v, want %+v", i, m.AuthResults[i], tc.want[i])
				}
			}
			if len(m.Problems) > 0 {
				t.Errorf("Problems = %q", m.Problems)
			}
		})
	}
}

func TestAuthResultsBounds(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 200; i++ {
		sb.WriteString("Authentication-Results: mx.example.org; " + strings.Repeat("spf=pass smtp.mailfrom=a@example.org ", 3) + "\r\n")
	}
	sb.WriteString("Authentication-Results: mx.example.org; " + strings.Repeat("dkim=pass "+strings.Repeat("header.x=y ", 40)+"; ", 200) + "\r\n")
	m, _ := parseWithin(t, strings.NewReader(sb.String()+"\r\nx"), Limits{})
	if len(m.AuthResults) != maxAuthResults {
		t.Fatalf("%d AuthResults, want %d", len(m.AuthResults), maxAuthResults)
	}
	m, _ = parseWithin(t, strings.NewReader("Authentication-Results: mx.example.org; "+
		strings.Repeat("dkim=pass "+strings.Repeat("header.x=y ", 40)+"; ", 200)+"\r\n\r\nx"), Limits{})
	if len(m.AuthResults) != 1 || len(m.AuthResults[0].Methods) != maxAuthMethods {
		t.Fatalf("AuthResults %d, methods %d", len(m.AuthResults), len(m.AuthResults[0].Methods))
	}
	if n := len(m.AuthResults[0].Methods[0].Props); n != 1 {
		t.Errorf("%d props for one repeated key", n)
	}
	long := "Authentication-Results: " + strings.Repeat("x", 5000) + "; spf=pass smtp.mailfrom=" + strings.Repeat("y", 5000) + "\r\n\r\n"
	m = mustParse(t, long)
	if ar := m.AuthResults[0]; len(ar.AuthservID) > maxAuthValue || len(ar.Methods[0].Props["smtp.mailfrom"]) > maxAuthValue {
		t.Errorf("values not clipped: %d, %d bytes", len(ar.AuthservID), len(ar.Methods[0].Props["smtp.mailfrom"]))
	}
}
