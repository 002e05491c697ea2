package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultFloor is the heap size intake lets grow before a collection: 24 MiB. It takes
// the drain's collections from 15 a second to under 3 and keeps the daemon's peak RSS in
// the 2,000-mail drain well under its 100 MB target (32 MiB came to 94 MB).
const DefaultFloor = 24 << 20

// heapMinimum is the runtime's smallest heap goal at GOGC=100 (defaultHeapMinimum in
// runtime/mgcpacer.go, 4 MB); it scales with GOGC, so a GOGC above floor/heapMinimum ×
// 100 would put the goal of a small heap above the floor.
const heapMinimum = 4 << 20

// The heap the last collection found alive, and the roots it scanned, from which the
// runtime computes the next goal (runtime/metrics).
const (
	liveMetric    = "/gc/heap/live:bytes"
	stacksMetric  = "/gc/scan/stack:bytes"
	globalsMetric = "/gc/scan/globals:bytes"
	gogcMetric    = "/gc/gogc:percent"
)

// Percent returns the GOGC that puts the next collection's goal at floor for a live heap
// of live bytes and roots bytes of stacks and globals, but never below base, the GOGC in
// force without a floor. The runtime aims at live + (live + roots) × GOGC/100, and at
// least at 4 MB × GOGC/100 (runtime/debug.SetGCPercent, runtime/mgcpacer.go).
func Percent(live, roots, floor uint64, base int) int {
	if live >= floor {
		return base
	}
	p := floor * 100 / heapMinimum
	if live+roots > 0 {
		p = min(p, (floor-live)*100/(live+roots))
	}
	return max(base, int(p))
}

// CurrentPercent returns the GOGC in force (-1: off), read without changing it.
func CurrentPercent() int {
	s := []metrics.Sample{{Name: gogcMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	return int(int64(s[0].Value.Uint64()))
}

// Start keeps the heap goal at floor or above until stop is called, which puts back the
// GOGC that was in force before. It needs no goroutine of its own: each collection's
// cleanup (runtime.AddCleanup) tunes GOGC for the next. With the collector off (GOGC=off)
// it changes nothing. stop may be called more than once.
func Start(floor uint64) (stop func()) {
	base := CurrentPercent()
	if base < 0 {
		return func() {}
	}
	k := &keeper{floor: floor, base: base,
		sample: []metrics.Sample{{Name: liveMetric}, {Name: stacksMetric}, {Name: globalsMetric}}}
	k.mu.Lock()
	k.tune()
	k.mu.Unlock()
	return func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if !k.stopped {
			k.stopped = true
			debug.SetGCPercent(base)
		}
	}
}

// keeper sets GOGC once per collection.
type keeper struct {
	floor uint64
	base  int

	mu      sync.Mutex
	stopped bool
	sample  []metrics.Sample
	percent int // what it set last; 0 before the first
}

// sentinel is allocated for one collection to find unreachable. It holds a pointer so
// that it is not one of the runtime's tiny allocations, which share a block and are freed
// together, later than the collection after their last use.
type sentinel struct {
	_ *byte
	_ [8]byte
}

// tune sets GOGC for the live heap the last collection left, and arms itself for the
// next one. k.mu is held.
func (k *keeper) tune() {
	if k.stopped {
		return
	}
	metrics.Read(k.sample)
	var v [3]uint64
	for i, s := range k.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	if p := Percent(v[0], v[1]+v[2], k.floor, k.base); p != k.percent {
		debug.SetGCPercent(p)
		k.percent = p
	}
	runtime.AddCleanup(new(sentinel), func(k *keeper) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.tune()
	}, k)
}
