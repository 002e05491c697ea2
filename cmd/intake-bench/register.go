package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"net/http/httptest"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/ticket"
	"github.com/intake-office/intake/web"
)

// cmdRegister measures what a clerk waits for on a large register
// (issue 4): the time to open it and serve the first lookup, and lookups by
// reference and by sender, at n cases (default 1,000,000).
func cmdRegister(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("intake-bench register", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1_000_000, "cases in the synthetic register")
	lookups := fs.Int("lookups", 10_000, "random lookups to time")
	dir := fs.String("dir", "", "keep the register in this folder (default: a temporary one)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitUsage
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "intake-bench-register-")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFailure
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	res, err := benchRegister(*dir, *n, *lookups, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "intake-bench register:", err)
		return exitFailure
	}
	fmt.Fprint(stdout, res)
	return exitOK
}

func benchRegister(dir string, n, lookups int, logw io.Writer) (string, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	loc, _ := time.LoadLocation("Europe/Berlin")
	senders := 50_000
	start := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	span := 5 * 365 * 24 * time.Hour

	// Generation: batches of 1,000 per transaction, without fsync (the
	// figures measured below do not depend on how the file was written).
	gen := time.Now()
	store, err := ticket.Open(dir, ticket.Options{NoSync: true})
	if err != nil {
		return "", err
	}
	received := make([]time.Time, n)
	for i := range n {
		received[i] = start.Add(time.Duration(int64(span) / int64(n) * int64(i)))
	}
	batch := make([]ticket.Incoming, 0, 1000)
	for i := 0; i < n; i++ {
		s := rng.IntN(senders)
		from := fmt.Sprintf("buerger%05d@example.org", s)
		batch = append(batch, ticket.Incoming{
			Prefix: "STK", Location: loc, Kind: ticket.KindCitizen, AckDomain: "intake.example.de",
			SuppressReason: "TOO_OLD",
			Message: ticket.Message{
				Mailbox: "poststelle", UIDValidity: 1, UID: uint32(i + 1),
				MessageID: fmt.Sprintf("m%d@example.org", i), From: from, FromName: fmt.Sprintf("Bürger %d", s),
				To: []string{"poststelle@stk.example.de"}, Subject: fmt.Sprintf("Antrag Nr. %d auf Förderung der Grünfläche", i),
				Received: received[i], Size: 4000,
			},
		})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := store.RegisterBatch(batch); err != nil {
				return "", err
			}
			batch = batch[:0]
			if (i+1)%100_000 == 0 {
				fmt.Fprintf(logw, "bench-register: %d cases\n", i+1)
			}
		}
	}
	if err := store.Close(); err != nil {
		return "", err
	}
	genTook := time.Since(gen)
	fi, _ := os.Stat(filepath.Join(dir, "intake.db"))

	// Open and serve the first lookup.
	t0 := time.Now()
	store, err = ticket.Open(dir, ticket.Options{})
	if err != nil {
		return "", err
	}
	defer store.Close()
	first := ticket.Reference{Prefix: "STK", Year: 2024, Number: 1}
	if _, err := store.Lookup(first); err != nil {
		return "", fmt.Errorf("first lookup: %w", err)
	}
	openTook := time.Since(t0)

	// Random lookups by reference, as a clerk types them (tolerant parse
	// included).
	years := map[int]uint64{}
	for _, r := range received {
		years[r.In(loc).Year()]++
	}
	var ys []int
	for y := range years {
		ys = append(ys, y)
	}
	lk := make([]time.Duration, 0, lookups)
	for range lookups {
		y := ys[rng.IntN(len(ys))]
		ref := ticket.Reference{Prefix: "STK", Year: y, Number: 1 + rng.Uint64N(years[y])}
		typed := fmt.Sprintf("stk %d %d %d", ref.Year, ref.Number, ticket.CheckDigit(ref.Year, ref.Number))
		t := time.Now()
		r, err := ticket.ParseReference(typed)
		if err != nil {
			return "", err
		}
		if _, err := store.Lookup(r); err != nil {
			return "", fmt.Errorf("lookup %s: %w", r, err)
		}
		lk = append(lk, time.Since(t))
	}
	slices.Sort(lk)
	// Lookups by sender (the sender index, newest first, 20 per page).
	sl := make([]time.Duration, 0, 1000)
	for range 1000 {
		t := time.Now()
		if _, err := store.List(ticket.Filter{Sender: fmt.Sprintf("buerger%05d@example.org", rng.IntN(senders)), Limit: 20}); err != nil {
			return "", err
		}
		sl = append(sl, time.Since(t))
	}
	slices.Sort(sl)

	// The same lookup through the clerks' JSON API (bearer token, access
	// check, audit entry, JSON), timed in the server's handler.
	apiLat, err := benchAPI(store, loc, ys, years, rng, lookups/10)
	if err != nil {
		return "", err
	}

	host, _ := os.Hostname()
	return fmt.Sprintf(`intake bench-register, %s, %s/%s, %d CPUs, %s
register:          %d cases over 5 years, %.0f MB (generated in %v)
open + 1st lookup: %v
lookup by ref:     p50 %v, p99 %v (%d random references typed as "stk YYYY N C")
list by sender:    p50 %v, p99 %v (1000 random senders of %d, newest 20)
GET /api/cases/REF: p50 %v, p99 %v (%d requests in the handler: token, access check, audit, JSON)
`, time.Now().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), host,
		n, float64(fi.Size())/1e6, genTook.Round(time.Second), openTook.Round(time.Millisecond),
		pct(lk, 50), pct(lk, 99), len(lk), pct(sl, 50), pct(sl, 99), senders,
		pct(apiLat, 50), pct(apiLat, 99), len(apiLat)), nil
}

func benchAPI(store *ticket.Store, loc *time.Location, ys []int, years map[int]uint64, rng *rand.Rand, n int) ([]time.Duration, error) {
	cfg, err := config.Parse([]byte(`data_dir = "/nonexistent"
[[mailbox]]
name = "poststelle"
address = "poststelle@stk.example.de"
prefix = "STK"
[mailbox.imap]
host = "127.0.0.1"
tls = "none"
username = "x"
password = "x"
[mailbox.smtp]
host = "127.0.0.1"
tls = "none"
[web]
listen = "127.0.0.1:8080"
`), "bench.toml")
	if err != nil {
		return nil, err
	}
	hash, err := ticket.HashPassword("bench-password", ticket.DefaultArgon2())
	if err != nil {
		return nil, err
	}
	if err := store.AddUser(ticket.User{Name: "bench", Role: ticket.RoleAdmin}, hash, time.Now()); err != nil {
		return nil, err
	}
	token, _, err := store.CreateToken("bench", "bench", time.Now())
	if err != nil {
		return nil, err
	}
	h, err := web.New(web.Options{Store: store, Config: cfg})
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, 0, n)
	for range n {
		y := ys[rng.IntN(len(ys))]
		ref := ticket.Reference{Prefix: "STK", Year: y, Number: 1 + rng.Uint64N(years[y])}
		req := httptest.NewRequest("GET", "/api/cases/"+ref.String(), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		t := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(t)
		if rec.Code != 200 {
			return nil, fmt.Errorf("GET /api/cases/%s: %d %s", ref, rec.Code, rec.Body.String())
		}
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}
