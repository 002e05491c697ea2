package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name               string
		live, roots, floor uint64
		base, want         int
	}{
		{"small heap: the goal at the floor", 4 * mib, 0, 32 * mib, 100, 700},
		{"roots count as the runtime counts them", 4 * mib, 4 * mib, 32 * mib, 100, 350},
		{"tiny heap: no higher than the minimum goal allows", 1 * mib, 0, 32 * mib, 100, 800},
		{"nothing alive yet", 0, 0, 32 * mib, 100, 800},
		{"half the floor: GOGC=100 reaches it anyway", 16 * mib, 0, 32 * mib, 100, 100},
		{"above half the floor: the base", 20 * mib, 0, 32 * mib, 100, 100},
		{"above the floor: the base", 40 * mib, 0, 32 * mib, 100, 100},
		{"a higher base is kept", 16 * mib, 0, 32 * mib, 300, 300},
		{"a smaller floor", 1 * mib, 0, 8 * mib, 100, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percent(tt.live, tt.roots, tt.floor, tt.base); got != tt.want {
				t.Errorf("Percent(%d, %d, %d, %d) = %d, want %d", tt.live, tt.roots, tt.floor, tt.base, got, tt.want)
			}
		})
	}
}

func readUint64(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// tuned collects until GOGC is no longer base: a started floor changes it after the
// first collection (from the cleanup goroutine, so a few may pass).
func tuned(t *testing.T, base int) {
	t.Helper()
	for range 20 {
		runtime.GC()
		if CurrentPercent() != base {
			return
		}
	}
	t.Fatalf("GOGC still %d after 20 collections with the floor started", base)
}

// garbage allocates n bytes in blocks of 64 KiB that nothing keeps.
func garbage(n int) {
	var sink []byte
	for range n >> 16 {
		sink = make([]byte, 64<<10)
		sink[0] = 1
	}
	runtime.KeepAlive(sink)
}

// collectionsFor counts the collections that allocating n bytes of garbage causes.
func collectionsFor(n int) uint64 {
	before := readUint64("/gc/cycles/total:gc-cycles")
	garbage(n)
	return readUint64("/gc/cycles/total:gc-cycles") - before
}

// TestStartCollectsAtTheFloor allocates 256 MiB of garbage with almost nothing alive. With
// the runtime's default (GOGC=100: a goal of 4 MB) that takes some 50–80 collections (fewer
// on a loaded machine, where what is allocated during a long mark counts as alive: the
// count without the floor is only logged); with a floor at most about 256 MiB / (the floor
// less what is alive), and a few more for the floor to take hold.
func TestStartCollectsAtTheFloor(t *testing.T) {
	base := CurrentPercent()
	if base != 100 {
		t.Fatalf("GOGC is %d, the test assumes the default 100", base)
	}
	runtime.GC()
	without := collectionsFor(256 << 20)

	stop := Start(DefaultFloor)
	// The first collection's cleanup tunes GOGC from what it found alive.
	tuned(t, base)
	runtime.GC()
	with := collectionsFor(256 << 20)
	goal := readUint64("/gc/heap/goal:bytes")
	stop()

	t.Logf("collections for 256 MiB of garbage: %d without the floor, %d with it; heap goal %d MiB", without, with, goal>>20)
	// The goal is set from each collection's cleanup, which may run after the next
	// collection began under load: allow a few at the lower goal.
	if most := uint64(256/(DefaultFloor>>20-4) + 4); with > most {
		t.Errorf("with a floor of %d MiB, 256 MiB of garbage took %d collections, want at most %d (%d without)", DefaultFloor>>20, with, most, without)
	}
	if p := CurrentPercent(); p != base {
		t.Errorf("GOGC after stop is %d, want %d back", p, base)
	}
}

// TestStopLetsGo: after stop, collections no longer change GOGC.
func TestStopLetsGo(t *testing.T) {
	base := CurrentPercent()
	stop := Start(DefaultFloor)
	tuned(t, base)
	stop()
	stop() // a second stop changes nothing
	for range 5 {
		runtime.GC()
		garbage(8 << 20)
	}
	if p := CurrentPercent(); p != base {
		t.Errorf("GOGC after stop and five collections is %d, want %d", p, base)
	}
}

// TestStartLeavesTheCollectorOff: with GOGC=off Start changes nothing.
func TestStartLeavesTheCollectorOff(t *testing.T) {
	base := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(base)
	stop := Start(DefaultFloor)
	runtime.GC()
	runtime.GC()
	if p := CurrentPercent(); p != -1 {
		t.Errorf("GOGC after Start with the collector off is %d, want -1", p)
	}
	stop()
}
