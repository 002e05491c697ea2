package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The machine's CPU while a phase runs. On the two-core benchmark machine both the
// Postfix phase and intake's drain keep the CPU full, and over half of it runs in the
// kernel (BENCHMARKS.md): a run whose machine was busier or quieter shows it here, so
// that a slow run can be told from a slow intake.

// cpuTimes is the first line of /proc/stat (proc(5)), in clock ticks, summed over all CPUs.
type cpuTimes struct {
	busy, kernel, total uint64
}

// machineCPU reads the machine's CPU times.
func machineCPU() (cpuTimes, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read the machine's CPU time: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read the machine's CPU time: %w", err)
	}
	return parseCPULine(line)
}

// parseCPULine reads "cpu user nice system idle iowait irq softirq steal ...": busy is
// user, nice, system, irq and softirq; kernel is system, irq and softirq. Steal (the
// hypervisor ran another guest) counts in the total but not as busy. Guest time is
// already counted in user and nice, and is not added again.
func parseCPULine(line string) (cpuTimes, error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}, errors.New("read the machine's CPU time: no cpu line with eight fields in /proc/stat")
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("read the machine's CPU time: %w", err)
		}
		v[i] = n
	}
	user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	kernel := system + irq + softirq
	busy := user + nice + kernel
	return cpuTimes{busy: busy, kernel: kernel, total: busy + idle + iowait + steal}, nil
}

// shares returns the percentages of the time between a and b the CPUs were busy, and
// busy in the kernel; zeros when no time passed.
func (a cpuTimes) shares(b cpuTimes) (busy, kernel float64) {
	if b.total <= a.total {
		return 0, 0
	}
	total := b.total - a.total
	return 100 * float64(b.busy-a.busy) / float64(total), 100 * float64(b.kernel-a.kernel) / float64(total)
}
