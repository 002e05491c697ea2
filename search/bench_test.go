package search

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkIndex measures indexing of generated German mails in batches (the rebuild path;
// batch=1 is the path of a single arriving mail). It reports docs/s including the final
// Close, which waits until everything is persisted. For the rate at 100,000 documents:
//
//	go test -run '^$' -bench 'BenchmarkIndex/batch=1000$' -benchtime 100000x ./search/
func BenchmarkIndex(b *testing.B) {
	for _, size := range []int{1000, 10000, 100, 1} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			c := newCorpus(1, b.N)
			docs := make([]Doc, b.N)
			var bytes int64
			for i := range docs {
				docs[i] = c.doc(i).Doc
				bytes += int64(len(docs[i].Body) + len(docs[i].Subject))
			}
			dir := filepath.Join(b.TempDir(), "index")
			ix, err := Open(dir, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(bytes / int64(b.N))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < len(docs); i += size {
				if err := ix.Add(docs[i:min(i+size, len(docs))]...); err != nil {
					b.Fatal(err)
				}
			}
			if err := ix.Close(); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/took.Seconds(), "docs/s")
			b.ReportMetric(float64(dirSize(dir))/float64(b.N), "disk-B/doc")
		})
	}
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func envInt(t testing.TB, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// TestQueryLatency builds an index of generated mails and reports indexing rate and query
// latency percentiles by kind of query. It runs small by default; for the figures of
// BENCHMARKS.md:
//
//	INTAKE_SEARCH_DOCS=1000000 INTAKE_SEARCH_DIR=/tmp/idx1m \
//	  go test -run TestQueryLatency -v -timeout 0 ./search/
//
// INTAKE_SEARCH_DIR keeps the index: a second run with the same DOCS reuses it (no build).
// INTAKE_SEARCH_QUERIES sets the queries per kind (default 200). INTAKE_SEARCH_LIMIT sets
// the hits asked for by the queries that must find a given document (default and at most
// MaxLimit); a clerk's page asks for 20. Such a document missing from a result that holds every
// hit is an error; missing from a result cut at the limit, it ranks below the page and is
// counted (below-page=).
func TestQueryLatency(t *testing.T) {
	n := envInt(t, "INTAKE_SEARCH_DOCS", 2000)
	perKind := envInt(t, "INTAKE_SEARCH_QUERIES", 200)
	limit := min(envInt(t, "INTAKE_SEARCH_LIMIT", MaxLimit), MaxLimit)
	dir := os.Getenv("INTAKE_SEARCH_DIR")
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "index")
	}
	c := newCorpus(1, n)

	start := time.Now()
	ix, err := Open(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("open %s: %v (rebuilt %v)", dir, time.Since(start), ix.Rebuilt())
	defer ix.Close()
	count, err := ix.Count()
	if err != nil {
		t.Fatal(err)
	}
	if count != uint64(n) {
		if count != 0 {
			if err := ix.Reset(); err != nil {
				t.Fatal(err)
			}
		}
		buildIndex(t, ix, c, n)
		// Measure on the index as it is after a restart: closed (persisted) and opened.
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		if ix, err = Open(dir, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		t.Logf("reopen with checksums: %v", time.Since(start))
		defer ix.Close()
	}
	if os.Getenv("INTAKE_SEARCH_DOCS") != "" {
		waitQuiet(t, ix)
	}
	t.Logf("index: %d documents, %.1f MiB on disk", n, float64(dirSize(dir))/(1<<20))

	r := rand.New(rand.NewPCG(42, 42))
	pick := func() genDoc { return c.doc(r.IntN(n)) }
	pickWords := func() genDoc { // a document with a body
		for {
			if d := pick(); len(d.Words) > 0 {
				return d
			}
		}
	}
	// uniform: a word drawn uniformly from the vocabulary (most are mid or low frequency,
	// like the specific words clerks search for); common: one of the 20 most frequent.
	uniform := func() string { return c.words[r.IntN(len(c.words))] }
	common := func() string { return c.words[r.IntN(20)] }
	wordOf := func(d genDoc) string {
		if len(d.Words) == 0 {
			return uniform()
		}
		return d.Words[r.IntN(len(d.Words))]
	}
	phraseOf := func(d genDoc) string {
		// Two adjacent words of the body (function words included): a real phrase.
		f := strings.Fields(d.Body)
		if len(f) < 8 {
			return uniform()
		}
		i := 3 + r.IntN(len(f)-6)
		return `"` + strings.Trim(f[i]+" "+f[i+1], ".,?!") + `"`
	}
	mailbox := func() []string { return []string{c.t.mailboxes[r.IntN(len(c.t.mailboxes))].name} }
	kinds := []struct {
		name     string
		fullText bool
		q        func() (Query, uint64) // query, and a Seq it must find (0 = none)
	}{
		{"word (uniform)", true, func() (Query, uint64) { return Query{Text: uniform()}, 0 }},
		{"word of a doc", true, func() (Query, uint64) { d := pickWords(); return Query{Text: wordOf(d)}, d.Seq }},
		{"word (top 20)", true, func() (Query, uint64) { return Query{Text: common()}, 0 }},
		{"two words of a doc", true, func() (Query, uint64) {
			d := pickWords()
			return Query{Text: wordOf(d) + " " + wordOf(d)}, d.Seq
		}},
		{"phrase of a doc", true, func() (Query, uint64) { d := pickWords(); return Query{Text: phraseOf(d)}, d.Seq }},
		{"word by score", true, func() (Query, uint64) { return Query{Text: uniform(), SortByScore: true}, 0 }},
		{"word+mailbox+status", true, func() (Query, uint64) {
			return Query{Text: uniform(), Mailboxes: mailbox(), Status: "closed"}, 0
		}},
		{"word+last year", true, func() (Query, uint64) {
			until := c.received(n - 1)
			return Query{Text: uniform(), Since: until.AddDate(-1, 0, 0)}, 0
		}},
		{"reference", false, func() (Query, uint64) { d := pick(); return Query{Text: d.Reference}, d.Seq }},
		{"sender address", false, func() (Query, uint64) {
			d := pickWords()
			return Query{Sender: d.From}, d.Seq
		}},
		{"sender name", false, func() (Query, uint64) { return Query{Sender: pick().Last}, 0 }},
		{"mailbox list (no text)", false, func() (Query, uint64) { return Query{Mailboxes: mailbox()}, 0 }},
		{"all (no text)", false, func() (Query, uint64) { return Query{}, 0 }},
	}
	var fullText []time.Duration
	for _, k := range kinds {
		lat := make([]time.Duration, 0, perKind)
		var hits, atLeast, belowPage uint64
		type sample struct {
			took  time.Duration
			q     Query
			total uint64
		}
		var slowest sample
		for range perKind {
			q, must := k.q()
			if must != 0 {
				q.Limit = limit
			}
			start := time.Now()
			res, err := ix.Search(q)
			lat = append(lat, time.Since(start))
			if err != nil {
				t.Fatalf("%s: Search(%+v): %v", k.name, q, err)
			}
			hits += res.Total
			if res.TotalAtLeast {
				atLeast++
			}
			if took := lat[len(lat)-1]; took > slowest.took {
				slowest = sample{took, q, res.Total}
			}
			if must != 0 && !slices.Contains(seqs(res), must) {
				if !res.TotalAtLeast && res.Total <= uint64(limit) {
					t.Errorf("%s: Search(%q) misses seq %d (%d hits)", k.name, q.Text, must, res.Total)
				} else {
					belowPage++
				}
			}
		}
		if k.fullText {
			fullText = append(fullText, lat...)
		}
		p := percentiles(lat)
		t.Logf("%-24s n=%d p50=%v p95=%v p99=%v max=%v mean-total=%d by-periods=%d below-page=%d; slowest: text %q sender %q, %d hits",
			k.name, len(lat), p[0].Round(10*time.Microsecond), p[1].Round(10*time.Microsecond), p[2].Round(10*time.Microsecond),
			p[3].Round(10*time.Microsecond), hits/uint64(len(lat)), atLeast, belowPage, slowest.q.Text, slowest.q.Sender, slowest.total)
	}
	p := percentiles(fullText)
	t.Logf("%-24s n=%d p50=%v p95=%v p99=%v max=%v", "FULL TEXT (all above *)", len(fullText), p[0], p[1], p[2], p[3])
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	status, _ := os.ReadFile("/proc/self/status")
	rss := ""
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			rss = strings.Join(strings.Fields(line)[1:], " ")
		}
	}
	t.Logf("memory after the queries: Go heap in use %.0f MiB, process RSS %s (segments are mmapped)", float64(ms.HeapInuse)/(1<<20), rss)
}

// buildIndex adds n generated documents in batches of fillBatch and logs the rate (of Add
// alone, the generation excluded) every 100,000 documents.
func buildIndex(t *testing.T, ix *Index, c *corpus, n int) {
	var inAdd time.Duration
	wall := time.Now()
	batch := make([]Doc, 0, fillBatch)
	for i := 0; i < n; i += fillBatch {
		batch = batch[:0]
		for k := i; k < min(i+fillBatch, n); k++ {
			batch = append(batch, c.doc(k).Doc)
		}
		start := time.Now()
		if err := ix.Add(batch...); err != nil {
			t.Fatal(err)
		}
		inAdd += time.Since(start)
		if done := i + len(batch); done%100_000 == 0 || done == n {
			t.Logf("indexed %d: %.0f docs/s in Add, %.0f docs/s wall (with generation), elapsed %v",
				done, float64(done)/inAdd.Seconds(), float64(done)/time.Since(wall).Seconds(), time.Since(wall).Round(time.Second))
		}
	}
	start := time.Now()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("close (persist the rest): %v", time.Since(start))
}

// percentiles returns p50, p95, p99 and max of d (sorted in place).
func percentiles(d []time.Duration) [4]time.Duration {
	if len(d) == 0 {
		return [4]time.Duration{}
	}
	slices.Sort(d)
	at := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return [4]time.Duration{at(0.50), at(0.95), at(0.99), d[len(d)-1]}
}

// waitQuiet waits until scorch has no merge running or planned and nothing left to persist
// (its counters unchanged for 10 s), so that queries are measured without a merge competing
// for the CPU. (In service, merges run in the background: each time the index grows by a
// tier - TierGrowth 10 - a merge of that tier's segments slows queries for a while.)
func waitQuiet(t *testing.T, ix *Index) {
	start := time.Now()
	state := func() string {
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		m, _ := ix.idx.StatsMap()["index"].(map[string]any)
		var b strings.Builder
		for _, k := range []string{"TotFileMergeZapBeg", "TotFileMergeZapEnd", "TotFileMergePlanTasks",
			"TotFileMergePlanTasksDone", "TotPersistedItems", "TotItemsToPersist", "TotFileMergeIntroductionsDone",
			"CurOnDiskFiles"} {
			fmt.Fprintf(&b, "%s=%v ", k, m[k])
		}
		return b.String()
	}
	busy := func() bool {
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		m, _ := ix.idx.StatsMap()["index"].(map[string]any)
		return m["TotFileMergeZapBeg"] != m["TotFileMergeZapEnd"] ||
			m["TotFileMergePlanTasks"] != m["TotFileMergePlanTasksDone"]
	}
	last, since := state(), time.Now()
	for (busy() || time.Since(since) < 10*time.Second) && time.Since(start) < 15*time.Minute {
		time.Sleep(time.Second)
		if s := state(); s != last {
			last, since = s, time.Now()
		}
	}
	t.Logf("background merging settled after %v: %s", time.Since(start).Round(time.Second), last)
}
