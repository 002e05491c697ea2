package web

import (
	"fmt"
	"github.com/intake-office/intake/internal/syncbuf"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

// from sends a request to the fixture's handler as if from the TCP peer remote
// ("192.0.2.1:4711"), so that tests can play several clients.
func (f *fixture) from(remote, method, path string, form url.Values, hdr ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = remote
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func loginForm(name, pw string) url.Values {
	return url.Values{"name": {name}, "password": {pw}}
}

// countVerifications makes every password verification of f wait until release is
// closed, and reports each one on entered.
func (f *fixture) countVerifications(entered chan<- struct{}, release <-chan struct{}) *atomic.Int64 {
	var calls atomic.Int64
	auth := f.server.authenticate
	f.server.authenticate = func(name, password string) (*ticket.User, error) {
		calls.Add(1)
		entered <- struct{}{}
		<-release
		return auth(name, password)
	}
	// Room for every attempt in the password check at once, so that only the limiter
	// decides how many are verified.
	f.server.loginSlots = make(chan struct{}, 64)
	return &calls
}

// TestLoginParallelWrongPasswords: 30 wrong passwords for one account sent at once from
// one client must not all be verified (issue 8, finding 4): the limit is reserved before
// the password check, not recorded after it.
func TestLoginParallelWrongPasswords(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true})
	const n = 30
	entered := make(chan struct{}, n)
	release := make(chan struct{})
	calls := f.countVerifications(entered, release)

	answered := make(chan int, n)
	for i := range n {
		go func() {
			rec := f.from("192.0.2.66:40000", http.MethodPost, "/login", loginForm("erika", fmt.Sprintf("falsch-%02d-falsch", i)))
			answered <- rec.Code
		}()
	}
	// Every attempt is either in a verification (held there) or answered; only then are
	// the verifications let go, so no failure is recorded before all were admitted.
	codes := map[int]int{}
	inCheck, done := 0, 0
	for inCheck+done < n {
		select {
		case <-entered:
			inCheck++
		case c := <-answered:
			codes[c]++
			done++
		}
	}
	close(release)
	for ; done < n; done++ {
		codes[<-answered]++
	}
	if got := calls.Load(); got > userThreshold {
		t.Errorf("%d password verifications for %d parallel attempts, want at most %d", got, n, userThreshold)
	}
	if codes[http.StatusTooManyRequests] < n-userThreshold {
		t.Errorf("answers %v, want at least %d × 429", codes, n-userThreshold)
	}
}

// TestLockoutOnlyHitsTheAttacker: an attacker who fails a clerk's password again and
// again is throttled, but the clerk logs in from their own client at once (issue 8,
// finding 4: "anyone can lock a named clerk out").
func TestLockoutOnlyHitsTheAttacker(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true})
	f.addRaters(ipThreshold)
	const attacker, clerk = "192.0.2.66:40000", "198.51.100.7:50000"
	for i := range 3 * userThreshold {
		f.from(attacker, http.MethodPost, "/login", loginForm("erika", fmt.Sprintf("raten-%02d-raten", i)))
	}
	if rec := f.from(attacker, http.MethodPost, "/login", loginForm("erika", pwErika)); rec.Code != http.StatusTooManyRequests {
		t.Errorf("attacker with the right password after %d failures: %d, want 429", 3*userThreshold, rec.Code)
	}
	rec := f.from(clerk, http.MethodPost, "/login", loginForm("erika", pwErika))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("clerk from another client: %d, want 303\n%.500s", rec.Code, rec.Body)
	}
	// Per client across accounts: the attacker who then guesses other names is
	// throttled for those too, while other clients are not.
	for i := range ipThreshold {
		f.from(attacker, http.MethodPost, "/login", loginForm(fmt.Sprintf("rater%02d", i), "x-x-x-x-x-x-x"))
	}
	if rec := f.from(attacker, http.MethodPost, "/login", loginForm("admin", pwAdmin)); rec.Code != http.StatusTooManyRequests {
		t.Errorf("attacker after %d failures across accounts: %d, want 429", ipThreshold, rec.Code)
	}
	if rec := f.from(clerk, http.MethodPost, "/login", loginForm("admin", pwAdmin)); rec.Code != http.StatusSeeOther {
		t.Errorf("admin from a clean client: %d, want 303", rec.Code)
	}
}

// TestAPIBucketSeparate: failed bearer tokens and failed logins count in separate
// buckets, so an API client with a wrong token does not block its clerk's login, and
// failed logins do not block the API.
func TestAPIBucketSeparate(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStandard: true})
	f.addRaters(3 * ipThreshold)
	tok := f.token("erika")
	const a, b = "192.0.2.77:40000", "192.0.2.88:40000"
	last := 0
	for i := range 3 * ipThreshold {
		last = f.from(a, http.MethodGet, "/api/cases", nil, "Authorization", fmt.Sprintf("Bearer itk_falsch%02d", i)).Code
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("API after %d bad tokens: %d, want 429", 3*ipThreshold, last)
	}
	if rec := f.from(a, http.MethodPost, "/login", loginForm("erika", pwErika)); rec.Code != http.StatusSeeOther {
		t.Errorf("login after bad API tokens from the same client: %d, want 303", rec.Code)
	}
	for i := range 3 * ipThreshold {
		f.from(b, http.MethodPost, "/login", loginForm(fmt.Sprintf("rater%02d", i), "x-x-x-x-x-x-x"))
	}
	if rec := f.from(b, http.MethodPost, "/login", loginForm("erika", pwErika)); rec.Code != http.StatusTooManyRequests {
		t.Errorf("login after %d failures: %d, want 429", 3*ipThreshold, rec.Code)
	}
	if rec := f.from(b, http.MethodGet, "/api/cases", nil, "Authorization", "Bearer "+tok); rec.Code != http.StatusOK {
		t.Errorf("API with a valid token after failed logins from the same client: %d, want 200", rec.Code)
	}
}

// TestLongUserNameNotLogged: a 60 KB user name reaches neither the log (at any level)
// nor the audit log nor the page (issue 8, finding 6).
func TestLongUserNameNotLogged(t *testing.T) {
	var logs syncbuf.Buffer
	f := newFixture(t, fixtureOptions{noStandard: true,
		logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	long := strings.Repeat("a", 60<<10)
	const client = "192.0.2.99:40000"
	for range 2 * userThreshold {
		rec := f.from(client, http.MethodPost, "/login", loginForm(long, "x-x-x-x-x-x-x"))
		if rec.Code != http.StatusOK && rec.Code != http.StatusTooManyRequests {
			t.Fatalf("login with a long name: %d", rec.Code)
		}
		if rec.Body.Len() > 32<<10 {
			t.Errorf("login page of %d bytes echoes the name", rec.Body.Len())
		}
	}
	if strings.Contains(logs.String(), strings.Repeat("a", 65)) {
		t.Errorf("log holds the long name (%d bytes of log)", len(logs.String()))
	}
	for _, k := range f.server.limiter.keys() {
		if len(k) > 200 {
			t.Errorf("limiter key of %d bytes", len(k))
		}
	}
	entries, _, err := f.store.AuditLog(ticket.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if len(e.Actor) > 64 || len(e.Detail) > 1024 {
			t.Errorf("audit entry with %d-byte actor, %d-byte detail", len(e.Actor), len(e.Detail))
		}
	}
}

// addRaters adds n clerk accounts rater00, rater01, … with fast hashes, so that guesses
// at them are verified quickly (an unknown name costs a full-cost dummy hash).
func (f *fixture) addRaters(n int) {
	f.t.Helper()
	h, err := ticket.HashPassword("Rater-Passwort-2026", fastArgon2)
	if err != nil {
		f.t.Fatal(err)
	}
	for i := range n {
		if err := f.store.AddUser(ticket.User{Name: fmt.Sprintf("rater%02d", i), Role: ticket.RoleClerk}, h, t0); err != nil {
			f.t.Fatal(err)
		}
	}
}

// TestLimiterBounded: a flood of names and addresses cannot grow the limiter without
// limit, and a flood of (account, client) pairs does not evict the client buckets.
func TestLimiterBounded(t *testing.T) {
	l := newLimiterSize(100, 10)
	now := t0
	for i := range 1000 {
		a, _ := l.admit(fmt.Sprintf("name%04d", i), fmt.Sprintf("192.0.2.%d", i%5), now)
		if a != nil {
			a.fail(now)
		}
		now = now.Add(time.Hour) // no throttling in the way
	}
	if n := l.pairs.Len(); n > 100 {
		t.Errorf("%d pair keys, want at most 100", n)
	}
	if n := l.clients.Len(); n != 5 {
		t.Errorf("%d client keys, want the 5 clients", n)
	}
	for i := range 1000 {
		l.apiFail(fmt.Sprintf("198.51.100.%d", i%250), now)
	}
	if n := l.clients.Len(); n > 10 {
		t.Errorf("%d client keys, want at most 10", n)
	}
}

// TestGrowingDelays: after userThreshold failures of an (account, client) the waits are
// 1 s, 2 s, 4 s, … at most maxDelay; a success forgets them.
func TestGrowingDelays(t *testing.T) {
	l := newLimiter()
	now := t0
	try := func() time.Duration {
		t.Helper()
		a, wait := l.admit("erika", "192.0.2.1", now)
		if a != nil {
			a.fail(now)
		}
		return wait
	}
	for i := range userThreshold {
		if w := try(); w != 0 {
			t.Fatalf("attempt %d waits %v", i+1, w)
		}
	}
	var waits []time.Duration
	for range 14 {
		w := try()
		waits = append(waits, w)
		now = now.Add(w)
		if w2 := try(); w2 != 0 {
			t.Fatalf("after waiting %v still %v", w, w2)
		}
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900}
	for i := range want {
		if waits[i] != want[i]*time.Second {
			t.Errorf("waits %v, want %v s", waits, want)
			break
		}
	}
	a, wait := l.admit("erika", "192.0.2.2", now)
	if a == nil {
		t.Fatalf("another client waits %v", wait)
	}
	a.succeed()
	now = now.Add(maxDelay)
	a, _ = l.admit("erika", "192.0.2.1", now)
	if a == nil {
		t.Fatal("no attempt after maxDelay")
	}
	a.succeed()
	for i := range userThreshold {
		if w := try(); w != 0 {
			t.Fatalf("after a success, attempt %d waits %v", i+1, w)
		}
	}

	// The client's bucket across accounts forgets its failures after forgetAfter
	// without a failure.
	for i := range ipThreshold {
		a, w := l.admit(fmt.Sprintf("name%02d", i), "192.0.2.9", now)
		if a == nil {
			t.Fatalf("attempt %d waits %v", i+1, w)
		}
		a.fail(now)
	}
	if _, w := l.admit("erika", "192.0.2.9", now); w != time.Second {
		t.Errorf("client after %d failures waits %v, want 1s", ipThreshold, w)
	}
	now = now.Add(forgetAfter + time.Second)
	for i := range ipThreshold {
		a, w := l.admit(fmt.Sprintf("name%02d", i), "192.0.2.9", now)
		if a == nil {
			t.Fatalf("a day later, attempt %d waits %v", i+1, w)
		}
		a.abandon()
		a.fail(now) // ignored: the attempt has ended
	}
	if a, w := l.admit("erika", "192.0.2.9", now); a == nil {
		t.Errorf("abandoned attempts count: wait %v", w)
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"pipe", "pipe"},
		{strings.Repeat("x", 500), strings.Repeat("x", 64)},
	}
	for _, tt := range tests {
		if got := clientKey(tt.in); got != tt.want {
			t.Errorf("clientKey(%.20q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// BenchmarkLimiterFull fills every tracked key of the limiter (distinct 64-byte names
// from distinct IPv6 /64s) and reports the heap it holds then.
func BenchmarkLimiterFull(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		l := newLimiter()
		for i := range maxPairKeys + maxClientKeys {
			client := clientKey(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff))
			if a, _ := l.admit(fmt.Sprintf("%064d", i), client, t0); a != nil {
				a.fail(t0)
			}
			l.apiFail(client, t0)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/(1<<20), "MiB-held")
		b.ReportMetric(float64(l.pairs.Len()+l.clients.Len()), "keys")
		runtime.KeepAlive(l)
	}
}
