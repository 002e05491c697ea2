package ticket

import (
	"fmt"
	"testing"
	"time"
)

func FuzzParseReference(f *testing.F) {
	for _, seed := range []string{
		"STK-2026-000042-6", " Stk-2026-000042-6 ", "stk 2026 42 6", "STK2026000042-6",
		"STK20260000426", "A1-2026-999999-5", "STK-2026-000042-7", "STK-2026-1234567-5",
		"AW: WG: [stk-2026-000042-6] Antrag", "", "-", "STK-2026-99999999999999999999-1",
		"ABCDEFGHIJ-2025-000001-9", "1-1000-1-0", "STK – 2026 – 000042 – 6", "\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err == nil {
			if err := ref.validate(); err != nil {
				t.Fatalf("ParseReference(%q) = %+v: %v", s, ref, err)
			}
			back, err := ParseReference(ref.String())
			if err != nil || back != ref {
				t.Fatalf("ParseReference(%q) = %+v; String %q parses to %+v, %v", s, ref, ref.String(), back, err)
			}
		}
		for _, found := range FindReferences(s, nil) {
			if back, err := ParseReference(found.String()); err != nil || back != found {
				t.Fatalf("FindReferences(%q) found %+v, which does not parse back: %v", s, found, err)
			}
		}
	})
}

// BenchmarkRegister registers new mails with fsync on, one Update each, as the watcher does.
func BenchmarkRegister(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for i := range b.N {
		in := incoming(uint32(i+1), fmt.Sprintf("bench%d@example.org", i), t0.Add(time.Duration(i)*time.Second))
		if _, err := s.Register(in); err != nil {
			b.Fatal(err)
		}
	}
}
