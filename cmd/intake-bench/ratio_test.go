package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want spread
	}{
		{"none", nil, spread{}},
		{"one", []float64{0.3}, spread{0.3, 0.3, 0.3}},
		{"three unsorted", []float64{0.30, 0.27, 0.29}, spread{0.27, 0.29, 0.30}},
		{"even count takes the mean of the middle two", []float64{4, 1, 3, 2}, spread{1, 2.5, 4}},
		{"equal values", []float64{2, 2, 2}, spread{2, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			if got := spreadOf(tt.in); got != tt.want {
				t.Errorf("spreadOf(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatalf("spreadOf reordered its input: %v, was %v", tt.in, in)
				}
			}
		})
	}
}

func TestRatios(t *testing.T) {
	r := ratioRun{
		PostfixAcceptPerSec: 400, DovecotFetchPerSec: 10000,
		RegisteredPerSec: 200, EndToEndPerSec: 100, AcksDuringRegPerSec: 50,
	}
	r.ratios()
	if r.EndToEndVsPostfix != 0.25 || r.RegisteredVsDovecot != 0.02 || r.AcksDuringRegVsRegis != 0.25 {
		t.Errorf("ratios = %v, %v, %v; want 0.25, 0.02, 0.25", r.EndToEndVsPostfix, r.RegisteredVsDovecot, r.AcksDuringRegVsRegis)
	}
	if r.EndToEndVsPostfixAround != 0 {
		t.Errorf("ratio to Postfix before and after without an after = %v, want 0", r.EndToEndVsPostfixAround)
	}
	r.PostfixAfterPerSec = 100 // the machine slowed down during the run: the limit is the mean, 250
	r.ratios()
	if r.EndToEndVsPostfixAround != 0.4 || r.EndToEndVsPostfix != 0.25 {
		t.Errorf("ratios to Postfix before and after, before = %v, %v; want 0.4, 0.25", r.EndToEndVsPostfixAround, r.EndToEndVsPostfix)
	}
	var zero ratioRun
	zero.EndToEndPerSec = 100
	zero.ratios()
	if zero.EndToEndVsPostfix != 0 {
		t.Errorf("ratio to a zero limit = %v, want 0", zero.EndToEndVsPostfix)
	}
}

func TestSummarizeTakesEachMeasureAcrossRuns(t *testing.T) {
	runs := []ratioRun{{CPUMsPerMail: 9}, {CPUMsPerMail: 3}, {CPUMsPerMail: 5}}
	got := summarize(runs)["intake CPU per mail"]
	if want := (spread{3, 5, 9}); got != want {
		t.Errorf("CPU per mail spread = %+v, want %+v", got, want)
	}
}

func TestParseMajorFaults(t *testing.T) {
	for _, tt := range []struct {
		stat    string
		want    int64
		wantErr bool
	}{
		{"42 (intake) S 1 42 42 0 -1 4194560 100 0 37 0 250 130 0 0 20 0 8 0", 37, false},
		{"42 (a) b (c) R 1 42 42 0 -1 0 0 0 5 0 7 3 0 0", 5, false},
		{"42 (intake) S 1 2", 0, true},
		{"42 (intake) S 1 42 42 0 -1 0 0 0 x 0 7 3", 0, true},
	} {
		if got, err := parseMajorFaults(tt.stat); (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseMajorFaults(%q) = %d, %v; want %d, error %v", tt.stat, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseProcStatCPU(t *testing.T) {
	tests := []struct {
		name, stat string
		user, sys  time.Duration
		wantErr    bool
	}{
		// proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags
		// minflt cminflt majflt cmajflt utime stime ...
		{"plain", "42 (intake) S 1 42 42 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 8 0", 2500 * time.Millisecond, 1300 * time.Millisecond, false},
		{"comm with spaces and parens", "42 (a) b (c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0", 70 * time.Millisecond, 30 * time.Millisecond, false},
		{"short", "42 (intake) S 1 2", 0, 0, true},
		{"no comm", "garbage", 0, 0, true},
		{"stime not a number", "42 (intake) S 1 42 42 0 -1 0 0 0 0 0 7 x 0 0", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, sys, err := parseProcStatCPU(tt.stat)
			if (err != nil) != tt.wantErr || user != tt.user || sys != tt.sys {
				t.Errorf("parseProcStatCPU = %v, %v, %v; want %v, %v, error %v", user, sys, err, tt.user, tt.sys, tt.wantErr)
			}
		})
	}
}

// TestThreadNices: a thread lowered to nice 7 is counted there; the others of this
// process keep the nice value the test was started with.
func TestThreadNices(t *testing.T) {
	before, err := threadNices(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	lowered, release, done := make(chan error), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		lowered <- unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 7)
		<-release
	}()
	if err := <-lowered; err != nil {
		t.Fatal(err)
	}
	got, err := threadNices(os.Getpid())
	close(release)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if got[7] != before[7]+1 {
		t.Errorf("threads at nice 7: %d after lowering one, %d before", got[7], before[7])
	}
	if s := formatNices(map[int]int{10: 3, -10: 1}); s != "-10×1 10×3" {
		t.Errorf("formatNices = %q", s)
	}
}

// TestAppendWeb: -web gives the daemon's config a [web] table on a loopback port.
func TestAppendWeb(t *testing.T) {
	path := t.TempDir() + "/intake.toml"
	if err := os.WriteFile(path, []byte("data_dir = \"/tmp/x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := appendWeb(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "data_dir = \"/tmp/x\"\n\n[web]\nlisten = \"127.0.0.1:") || !strings.HasSuffix(string(b), "\"\ncookie_secure = false\n") {
		t.Errorf("config after appendWeb:\n%s", b)
	}
}

// With -discard the citizens write from, and the acks go to, a domain that is none of the
// rig's, so that Postfix drops the acks; without, both stay in the rig's domain.
func TestCitizensDomain(t *testing.T) {
	for _, tt := range []struct {
		discard bool
		domain  string
	}{
		{false, "example.test"},
		{true, "buerger.example"},
	} {
		p := ratioParams{n: 40, bigEvery: 20, bigSize: 4096, discard: tt.discard}
		for _, i := range []int{13, 19} { // a letter, and a big one
			from := fmt.Sprintf("c%02d@%s", i%10, tt.domain)
			if got := p.citizen(i); got != from {
				t.Errorf("discard=%v: citizen(%d) = %q, want %q", tt.discard, i, got, from)
			}
			letter := string(p.letter(i))
			for _, h := range []string{"Return-Path: <" + from + ">", "From: Bürger " + strconv.Itoa(i) + " <" + from + ">"} {
				if !strings.Contains(letter, h+"\r\n") {
					t.Errorf("discard=%v: letter %d lacks %q:\n%.300s", tt.discard, i, h, letter)
				}
			}
			if !strings.Contains(letter, "Message-ID: <bench-"+strconv.Itoa(i)+"@example.test>") {
				t.Errorf("discard=%v: letter %d lost its Message-ID", tt.discard, i)
			}
			if tt.discard && strings.Contains(letter, "c0"+strconv.Itoa(i%10)+"@example.test") {
				t.Errorf("letter %d still names its citizen in the rig's domain", i)
			}
			if ack := string(p.ack(i)); !strings.Contains(ack, "To: <"+from+">\r\n") {
				t.Errorf("discard=%v: ack %d not to %s", tt.discard, i, from)
			}
		}
		if !p.isBig(19) || len(p.letter(19)) < 4000 {
			t.Errorf("letter 19 is not the big one")
		}
	}
}
