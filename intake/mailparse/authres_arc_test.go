package mailparse

import "testing"

func TestARCAuthResults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		field    string
		instance int    // 0 = not parsed
		id       string // authserv-id
		methods  int
	}{
		{"Gmail (RFC 8617 appendix B shape)", crlf(
			"ARC-Authentication-Results: i=1; mx.google.com;",
			"       dkim=pass header.i=@example.org header.s=20230601 header.b=Xk1wG0Yv;",
			"       spf=pass (google.com: domain of anna@example.org designates 209.85.220.41 as permitted sender) smtp.mailfrom=anna@example.org;",
			"       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.org"), 1, "mx.google.com", 3},
		{"Microsoft 365 sealer", crlf(
			"ARC-Authentication-Results: i=2; mx.microsoft.com 1; spf=pass smtp.mailfrom=example.org; dmarc=pass action=none header.from=example.org; dkim=pass header.d=example.org; arc=pass (0 oda=1 ltdi=1)"),
			2, "mx.microsoft.com", 4},
		{"spaces and comment around the tag", crlf("ARC-Authentication-Results:  i = 3 (third) ; gw.example; none"), 3, "gw.example", 0},
		{"instance 0", crlf("ARC-Authentication-Results: i=0; gw.example; spf=pass smtp.mailfrom=example.org"), 0, "", 0},
		{"instance above 50", crlf("ARC-Authentication-Results: i=51; gw.example; spf=pass smtp.mailfrom=example.org"), 0, "", 0},
		{"no instance tag", crlf("ARC-Authentication-Results: gw.example; spf=pass smtp.mailfrom=example.org"), 0, "", 0},
		{"no authserv-id", crlf("ARC-Authentication-Results: i=1; spf=pass smtp.mailfrom=example.org"), 0, "", 0},
		{"other tag", crlf("ARC-Authentication-Results: cv=pass; gw.example; spf=pass"), 0, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.field+"Subject: s\r\n\r\nx\r\n")
			if len(m.AuthResults) != 0 {
				t.Errorf("an ARC field became an Authentication-Results field: %+v", m.AuthResults)
			}
			if tc.instance == 0 {
				if len(m.ARCAuthResults) != 0 {
					t.Fatalf("ARCAuthResults = %+v, want none", m.ARCAuthResults)
				}
				return
			}
			if len(m.ARCAuthResults) != 1 {
				t.Fatalf("ARCAuthResults = %+v, want one", m.ARCAuthResults)
			}
			a := m.ARCAuthResults[0]
			if a.Instance != tc.instance || a.AuthservID != tc.id || len(a.Methods) != tc.methods {
				t.Errorf("got i=%d id=%q methods=%d (%+v), want i=%d id=%q methods=%d", a.Instance, a.AuthservID, len(a.Methods), a, tc.instance, tc.id, tc.methods)
			}
		})
	}
}
