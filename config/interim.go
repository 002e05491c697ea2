package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is a handling time: whole weeks ("4w") or days ("30d"), which the
// acknowledgement names in words, or a Go duration ("10m", for tests and the demo).
type Period struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	p.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler: weeks or days when whole.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// String is "4w", "30d" or a Go duration.
func (p Period) String() string {
	const day = 24 * time.Hour
	switch d := p.Duration; {
	case d > 0 && d%(7*day) == 0:
		return strconv.FormatInt(int64(d/(7*day)), 10) + "w"
	case d > 0 && d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return p.Duration.String()
}

// ParsePeriod parses "4w", "30d" or a Go duration such as "72h".
func ParsePeriod(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if unit := strings.TrimLeft(t, "0123456789"); unit == "d" || unit == "w" {
		n, err := strconv.Atoi(strings.TrimSuffix(t, unit))
		if err == nil && n <= 10000 {
			d := time.Duration(n) * 24 * time.Hour
			if unit == "w" {
				d *= 7
			}
			return d, nil
		}
	}
	v, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("invalid period %q: use weeks or days (\"4w\", \"30d\") or a number with a unit (s, m, h)", s)
	}
	return v, nil
}
