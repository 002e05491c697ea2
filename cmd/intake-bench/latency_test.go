package main

import (
	"io"
	"testing"
	"time"

	"github.com/intake-office/intake/ticket"
)

// chunks is a reader that hands out its parts one per Read, then io.EOF once per
// exhaustion, so a test can append to a "file" between updates.
type chunks struct{ parts []string }

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func TestLogCounter(t *testing.T) {
	const ack = `msg="acknowledgement sent"`
	src := &chunks{}
	lc := &logCounter{r: src, marker: []byte(ack)}
	steps := []struct {
		name   string
		append []string
		want   int
	}{
		{"empty log", nil, 0},
		{"other lines", []string{"time=1 level=INFO msg=\"mail registered\"\n"}, 0},
		{"one ack", []string{"time=2 level=INFO " + ack + " case=X\n"}, 1},
		{"an ack line not yet complete is not counted", []string{"time=3 level=INFO msg=\"acknowl"}, 1},
		{"its end arrives in two reads", []string{"edgement sent\" case=Y", "\n"}, 2},
		{"several lines in one read", []string{"a " + ack + "\nb\nc " + ack + "\n"}, 4},
	}
	for _, st := range steps {
		src.parts = append(src.parts, st.append...)
		got, err := lc.update()
		if err != nil || got != st.want {
			t.Fatalf("%s: %d, %v; want %d", st.name, got, err, st.want)
		}
	}
	if err := lc.waitFor(4, time.Now()); err != nil {
		t.Errorf("waitFor a count reached: %v", err)
	}
	if err := lc.waitFor(5, time.Now()); err == nil {
		t.Error("waitFor a count not reached returned no error at its deadline")
	}
}

func TestSplitLatency(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	msg := func(id string, sent time.Time) ticket.Message {
		var m ticket.Message
		m.MessageID, m.Ack.SentAt = id, sent
		return m
	}
	cases := []ticket.Case{
		{Messages: []ticket.Message{msg("a", ms(520))}},  // pushed at 500
		{Messages: []ticket.Message{msg("b", ms(1540))}}, // pushed at 1500
		{Messages: []ticket.Message{msg("c", ms(1560))}}, // the same push, acked after b
		{Messages: []ticket.Message{msg("other", ms(9))}},
	}
	arrived := map[string]time.Time{"a": ms(0), "b": ms(1100), "c": ms(1200)}
	pushes := []time.Time{ms(500), ms(1500), ms(3000)}
	s, err := splitLatency(cases, arrived, pushes)
	if err != nil {
		t.Fatal(err)
	}
	d := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, v := range n {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	for _, c := range []struct {
		name      string
		got, want []time.Duration
	}{
		{"total", s.total, d(360, 440, 520)},
		{"notify", s.notify, d(300, 400, 500)},
		{"own", s.own, d(20, 40, 60)},
	} {
		if len(c.got) != len(c.want) {
			t.Fatalf("%s = %v, want %v", c.name, c.got, c.want)
		}
		for i := range c.got {
			if c.got[i] != c.want[i] {
				t.Fatalf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
	}

	// A mail without its ack is a missing sample, not a silent gap.
	arrived["d"] = ms(2000)
	cases = append(cases, ticket.Case{Messages: []ticket.Message{msg("d", time.Time{})}})
	if n := sentOf(cases, arrived); n != 3 {
		t.Errorf("sentOf = %d, want 3 (d is not sent, other is not a latency mail)", n)
	}
	if _, err := splitLatency(cases, arrived, pushes); err == nil {
		t.Error("a mail without a sample gave no error")
	}
}

func TestPauses(t *testing.T) {
	for i := range 1000 {
		if p := idlePause(i); p < 50*time.Millisecond || p > 150*time.Millisecond {
			t.Fatalf("idlePause(%d) = %v, want 50–150 ms", i, p)
		}
		if p := tricklePause(i); p < 100*time.Millisecond || p > 190*time.Millisecond {
			t.Fatalf("tricklePause(%d) = %v, want 100–190 ms", i, p)
		}
	}
}
