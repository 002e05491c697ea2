package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/intake-office/intake/config"
	"github.com/intake-office/intake/ticket"
)

// printRegisterMemory tells whether `intake serve`, started with this process's rights
// (ExecStartPre runs with the unit's), could keep the register in memory
// (keep_register_in_memory): a WARN line when the kernel would let it lock less than the
// limit.
func printRegisterMemory(w io.Writer, cfg *config.Config) {
	if !cfg.KeepsRegisterInMemory() {
		return
	}
	limit, err := ticket.MemoryLimit()
	if errors.Is(err, errors.ErrUnsupported) {
		return
	}
	allowed, aerr := ticket.MemoryLockAllowance()
	if err != nil || aerr != nil {
		fmt.Fprintf(w, "WARN  register: cannot tell whether it can be kept in memory: %v\n", errors.Join(err, aerr))
		return
	}
	var size int64
	if fi, err := os.Stat(filepath.Join(cfg.DataDir, "intake.db")); err == nil {
		size = fi.Size()
	}
	if allowed < limit {
		fmt.Fprintf(w, "WARN  register: keep_register_in_memory, but the kernel lets intake lock only %s (RLIMIT_MEMLOCK, no CAP_IPC_LOCK) of up to %s; the register is %s now. "+
			"Set LimitMEMLOCK=infinity in the systemd unit (docker run --ulimit memlock=-1), or keep_register_in_memory = false\n",
			megabytes(allowed), megabytes(limit), megabytes(size))
		return
	}
	fmt.Fprintf(w, "ok    register: kept in memory up to %s (a quarter of the memory intake may use); the register is %s now\n", megabytes(limit), megabytes(size))
}

// megabytes formats n bytes in MB, rounded, for a line of config check (config.ByteSize
// prints exact units only).
func megabytes(n int64) string {
	if n == math.MaxInt64 {
		return "unlimited"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
