package demo

import (
	"context"
	"github.com/intake-office/intake/internal/syncbuf"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/intake-office/intake/internal/memmail"
)

func TestDemoAcknowledgesTheSampleLetters(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncbuf.Buffer
	ready := make(chan *memmail.System, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, &out, Options{
			IMAPAddr: "127.0.0.1:0", SMTPAddr: "127.0.0.1:0", WebAddr: "127.0.0.1:0",
			Ready: func(_ string, sys *memmail.System) { ready <- sys },
		})
	}()
	var sys *memmail.System
	select {
	case sys = <-ready:
	case err := <-done:
		t.Fatalf("demo ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("demo not ready after 10 s")
	}
	// Three citizen letters and the overdue one are acknowledged; the bounce and the
	// newsletter are not.
	deadline := time.Now().Add(10 * time.Second)
	for {
		acks := 0
		for _, d := range sys.Deliveries() {
			if len(d.To) == 1 && d.To[0] == Citizen && strings.Contains(string(d.Data), "Auto-Submitted: auto-replied") {
				acks++
			}
		}
		if acks == 4 {
			break
		}
		if acks > 4 || time.Now().After(deadline) {
			t.Fatalf("%d acknowledgements to the citizen, want 4", acks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"curl -s smtp://127.0.0.1:", "case list -config", "case show STK-", "http://127.0.0.1:", "demo / demo"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("guide lacks %q:\n%s", want, out.String())
		}
	}
	// Issue 11, item 10: the overdue case gets its interim notice, and the guide prints it
	// decoded; the letter the user sends gets its acknowledgement printed, decoded, with
	// its own reference (not sample letter 1's).
	waitOut := func(what string, cond func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond(out.String()) {
			if time.Now().After(deadline) {
				t.Fatalf("the guide did not print %s:\n%s", what, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitOut("the interim notice", func(s string) bool {
		return strings.Contains(s, "=== Zwischennachricht / interim notice – STK-") && strings.Contains(s, "Betreff / Subject: Zwischennachricht [STK-")
	})
	if strings.Contains(out.String(), "Eingangsbestätigung zu Ihrem Brief") {
		t.Fatalf("the guide printed an acknowledgement of a sample letter as the user's:\n%s", out.String())
	}
	letter := "From: " + Citizen + "\r\nTo: " + Office + "\r\nSubject: Mein Antrag\r\n\r\nHallo!\r\n"
	if err := sendMail(sys.SMTPAddr, Citizen, Office, []byte(letter)); err != nil {
		t.Fatal(err)
	}
	waitOut("the acknowledgement of the user's letter", func(s string) bool {
		return strings.Contains(s, "=== Eingangsbestätigung zu Ihrem Brief")
	})
	guide := out.String()
	mine := regexp.MustCompile(`Eingangsbestätigung zu Ihrem Brief / acknowledgement of your letter – (STK-\d{4}-\d{6}-\d)`).FindStringSubmatch(guide)
	if mine == nil || strings.HasSuffix(mine[1], "-000001-"+mine[1][len(mine[1])-1:]) {
		t.Fatalf("the printed acknowledgement is not of the new letter: %v\n%s", mine, guide)
	}
	ackText := guide[strings.Index(guide, "=== Eingangsbestätigung zu Ihrem Brief"):]
	for _, want := range []string{"Betreff / Subject: Auto: Eingangsbestätigung", "Sehr geehrte Damen und Herren,", mine[1], "länger als zehn Minuten"} {
		if !strings.Contains(ackText, want) {
			t.Errorf("printed acknowledgement lacks %q:\n%s", want, ackText)
		}
	}

	// The clerk logs in with the printed demo login and sees the cases.
	webURL := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(out.String())
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := hc.PostForm(webURL+"/login", url.Values{"name": {DemoUser}, "password": {DemoPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = hc.Get(webURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "STK-") {
		t.Errorf("after the demo login, %s/ answered %d without cases:\n%.500s", webURL, resp.StatusCode, page)
	}
	// The printed API token answers on /api/.
	token := regexp.MustCompile(`Bearer (\S+)'`).FindStringSubmatch(out.String())
	if token == nil {
		t.Fatalf("no API token in the guide:\n%s", out.String())
	}
	req, _ := http.NewRequest("GET", webURL+"/api/cases?kind=citizen", nil)
	req.Header.Set("Authorization", "Bearer "+token[1])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Count(string(body), `"reference"`) < 3 {
		t.Errorf("API with the demo token: %d\n%.500s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demo did not stop")
	}
}
