package policy

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/intake-office/intake/internal/corpus"

	"github.com/intake-office/intake/intake/mailparse"
)

// fuzzSeeds returns the corpus files (when present; required in CI) and the fixtures.
func fuzzSeeds(t testing.TB) [][]byte {
	t.Helper()
	var seeds [][]byte
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures in testdata: %v", err)
	}
	paths := fixtures
	if dir, entries, ok := corpus.Labels(t); ok {
		for _, e := range entries {
			paths = append(paths, filepath.Join(dir, e.Path))
		}
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read seed: %v", err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

func FuzzDecide(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte("Return-Path: <a@example.org>\r\nFrom: a@example.org\r\n\r\n"))
	f.Add([]byte("From: a@example.org\r\nTo: " + office + "\r\n\r\n"))
	f.Add([]byte("Return-Path: <a@example.org>\r\nReturn-Path: <A@EXAMPLE.ORG>\r\nAuto-Submitted: no\r\n\r\n"))
	f.Add([]byte("Return-Path: <a@example.org>\r\nAuthentication-Results: " + ourMTA + "/1; spf=pass smtp.mailfrom=a@example.org; dkim=pass header.i=@example.org\r\nAuthentication-Results: " + ourMTA + "; dmarc=fail header.from=example.org\r\n\r\n"))
	f.Add([]byte("Return-Path: <a@sub.example.org>\r\nAuthentication-Results: spf=pass smtp.mailfrom=example.org;dkim=pass header.d=example.org;compauth=pass reason=100\r\nIn-Reply-To: <x.ack@intake.stk.example.de>\r\nReferences: <1@a> <2@a> <1@A>\r\n\r\n"))
	f.Add([]byte("Return-Path: <a@example.org>\r\nARC-Authentication-Results: i=2; gw.example.org; dkim=pass header.d=example.org\r\nARC-Authentication-Results: i=1; mx.google.com; spf=pass smtp.mailfrom=a@example.org\r\n\r\n"))
	f.Add([]byte("Return-Path: <>\r\nFrom: MAILER-DAEMON@x\r\nSubject: failure notice\r\n\r\n<<< 550 x\r\n(#5.1.1) 4.4.7\r\n--- copy of the message\r\nMessage-ID: <" + ackID + ">\r\n"))

	strict := testSettings()
	strict.RequireAddressed = true
	loose := Settings{OfficeAddresses: []string{"office@example.test"}, SubjectHeuristics: false}
	authStrict := testSettings()
	authStrict.AuthservID, authStrict.RequireAuthenticated = ourMTA, true
	authLoose := loose
	authLoose.AuthservID = ourMTA
	exchange := loose
	exchange.Verification, exchange.RequireAuthenticated = VerifyExchangeOnline, true
	arcOnly := loose
	arcOnly.TrustedARCSealers = []string{"gw.example.org"}
	own := []string{ackDomain, "example.org"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, _ := mailparse.Parse(bytes.NewReader(raw), mailparse.Limits{MaxTextBytes: 1024, MaxParts: 100})
		checkHelpers(t, m, own)
		for _, s := range []Settings{strict, loose, authStrict, authLoose, exchange, arcOnly} {
			d := Decide(m, s)
			if d != Decide(m, s) {
				t.Fatal("Decide is not deterministic")
			}
			// Issue 8: nobody is verified without a trusted source, and a verification
			// always names its method and a usable recipient.
			if d.Verified != (d.VerifiedBy != "") || d.Verified && (d.Recipient == "" || !ValidAddrSpec(d.Recipient)) {
				t.Fatalf("inconsistent verification: %+v", d)
			}
			if d.Verified && s.AuthservID == "" && s.Verification == "" && len(s.TrustedARCSealers) == 0 {
				t.Fatalf("verified without any trusted source: %+v", d)
			}
			if d.Ack {
				if d.Recipient == "" || !strings.Contains(d.Recipient, "@") || !ValidAddrSpec(d.Recipient) {
					t.Fatalf("ack to unusable recipient %q", d.Recipient)
				}
				if d.Reason != "" || d.Rule != "" {
					t.Fatalf("ack with reason %q rule %q", d.Reason, d.Rule)
				}
				for _, o := range s.OfficeAddresses {
					if strings.EqualFold(d.Recipient, o) {
						t.Fatalf("ack to our own address %q", d.Recipient)
					}
				}
				if m.Has("Auto-Submitted") && keyword(m.Get("Auto-Submitted")) != "no" && keyword(m.Get("Auto-Submitted")) != "" {
					t.Fatalf("ack to an Auto-Submitted mail")
				}
				if s.AuthservID != "" {
					trusted := trustedResults(m, s.AuthservID)
					if _, fail := checkAuthFail(trusted); fail {
						t.Fatalf("ack despite a trusted failure")
					}
					if _, ok := authenticated(trusted, d.Recipient, fromDomain(m)); s.RequireAuthenticated && !ok {
						t.Fatalf("ack to an unauthenticated recipient")
					}
				}
			} else {
				if d.Reason == "" || d.Rule == "" || d.Detail == "" {
					t.Fatalf("no-ack without reason, rule or detail: %+v", d)
				}
				if de, en := Explain(d.Reason); de == "" || en == "" {
					t.Fatalf("no explanation for %q", d.Reason)
				}
			}
		}
	})
}

// checkHelpers checks OurAck, ThreadIDs and BounceStatus on any parsed mail: no panic, and
// results of the promised shape.
func checkHelpers(t *testing.T, m *mailparse.Message, own []string) {
	t.Helper()
	if id, ok := OurAck(m, own); ok {
		dom := messageIDDomain(id)
		if !slices.Contains(own, dom) {
			t.Fatalf("OurAck = %q outside %q", id, own)
		}
		if !slices.Contains(m.ReturnedMessageIDs, id) && !slices.Contains(m.InReplyTo, id) && !slices.Contains(m.References, id) {
			t.Fatalf("OurAck = %q not taken from the mail", id)
		}
	} else if id != "" {
		t.Fatalf("OurAck = %q, false", id)
	}
	ids := ThreadIDs(m)
	if m != nil && len(ids) > len(m.InReplyTo)+len(m.References) {
		t.Fatalf("%d thread IDs", len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			t.Fatalf("empty or repeated thread ID %q", id)
		}
		seen[id] = true
	}
	status, detail := BounceStatus(m)
	if status == "" && detail != "" {
		t.Fatalf("detail %q without a status", detail)
	}
	if status != "" {
		if code, class := failureCode(status); code != status || class == 0 {
			t.Fatalf("status %q is no failure code", status)
		}
	}
	if len(detail) > maxBounceDetail || strings.ContainsAny(detail, "\r\n") || !utf8.ValidString(detail) {
		t.Fatalf("detail %q", detail)
	}
}
