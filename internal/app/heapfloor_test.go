package app

import (
	"io"
	"log/slog"
	"os"
	"runtime"
	"testing"

	"github.com/intake-office/intake/internal/gcfloor"
)

// TestKeepHeapFloor: the daemon raises GOGC for a small heap while it runs and puts it
// back when it stops; an admin's GOGC in the environment is left alone.
func TestKeepHeapFloor(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	collect := func(want func(int) bool) bool {
		for range 20 {
			runtime.GC()
			if want(gcfloor.CurrentPercent()) {
				return true
			}
		}
		return false
	}
	base := gcfloor.CurrentPercent()

	t.Run("GOGC unset", func(t *testing.T) {
		if gogc, set := os.LookupEnv("GOGC"); set {
			t.Fatalf("the test needs GOGC unset, it is %q", gogc)
		}
		stop := keepHeapFloor(log)
		if !collect(func(p int) bool { return p > base }) {
			t.Errorf("GOGC stayed at %d for a heap of %d bytes while the floor was kept", gcfloor.CurrentPercent(), liveHeap())
		}
		stop()
		if p := gcfloor.CurrentPercent(); p != base {
			t.Errorf("GOGC after stop is %d, want %d back", p, base)
		}
	})
	t.Run("GOGC set by the admin", func(t *testing.T) {
		t.Setenv("GOGC", "100")
		stop := keepHeapFloor(log)
		defer stop()
		if collect(func(p int) bool { return p != base }) {
			t.Errorf("GOGC changed to %d although the environment sets it", gcfloor.CurrentPercent())
		}
	})
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
