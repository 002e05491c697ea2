package main

import "testing"

func TestParseCPULine(t *testing.T) {
	tests := []struct {
		name, line string
		want       cpuTimes
		wantErr    bool
	}{
		{"with steal and guest fields", "cpu  100 5 40 800 20 3 2 10 7 0\n", cpuTimes{busy: 150, kernel: 45, total: 980}, false},
		{"eight fields", "cpu 1 0 1 8 0 0 0 0", cpuTimes{busy: 2, kernel: 1, total: 10}, false},
		{"a single CPU's line", "cpu0 1 0 1 8 0 0 0 0", cpuTimes{}, true},
		{"short", "cpu 1 2 3", cpuTimes{}, true},
		{"not a number", "cpu 1 0 x 8 0 0 0 0", cpuTimes{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCPULine(tt.line)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseCPULine(%q) = %+v, %v; want %+v, error %v", tt.line, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCPUShares(t *testing.T) {
	a := cpuTimes{busy: 100, kernel: 40, total: 1000}
	b := cpuTimes{busy: 280, kernel: 140, total: 1200}
	if busy, kernel := a.shares(b); busy != 90 || kernel != 50 {
		t.Errorf("shares = %v %%, %v %%; want 90, 50", busy, kernel)
	}
	if busy, kernel := b.shares(b); busy != 0 || kernel != 0 {
		t.Errorf("shares over no time = %v, %v; want 0, 0", busy, kernel)
	}
}

func TestMachineCPUReadsThisMachine(t *testing.T) {
	a, err := machineCPU()
	if err != nil {
		t.Skipf("no /proc/stat here: %v", err)
	}
	if a.total == 0 || a.busy > a.total || a.kernel > a.busy {
		t.Errorf("machineCPU() = %+v: busy and kernel must lie within the total", a)
	}
}
