package ticket

import (
	"bytes"
	"strings"
	"testing"
)

func TestSettings(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	get := func(key string) []byte {
		t.Helper()
		v, err := s.GetSetting(key)
		if err != nil {
			t.Fatalf("GetSetting(%q): %v", key, err)
		}
		return v
	}
	put := func(key string, v []byte) {
		t.Helper()
		if err := s.PutSetting(key, v); err != nil {
			t.Fatalf("PutSetting(%q): %v", key, err)
		}
	}
	if v := get("cap.reset"); v != nil {
		t.Errorf("absent setting = %q, want nil", v)
	}
	put("cap.reset", []byte("2026-03-02T10:00:00Z"))
	put("empty", []byte{})
	put("other", []byte("x"))
	put("other", []byte("y")) // overwritten

	v := get("cap.reset")
	v[0] = 'X' // the caller's copy
	tests := []struct {
		key  string
		want []byte
	}{
		{"cap.reset", []byte("2026-03-02T10:00:00Z")},
		{"empty", []byte{}},
		{"other", []byte("y")},
		{"cap", nil}, // a prefix of another key
		{"missing", nil},
	}
	check := func() {
		t.Helper()
		for _, tt := range tests {
			if got := get(tt.key); !bytes.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("GetSetting(%q) = %q (nil %v), want %q", tt.key, got, got == nil, tt.want)
			}
		}
	}
	check()
	s.Close()
	s = openTestStore(t, dir)
	defer s.Close()
	check()

	put("other", nil) // deletes
	if v := get("other"); v != nil {
		t.Errorf("deleted setting = %q", v)
	}
	for _, bad := range []struct {
		key string
		v   []byte
	}{{"", []byte("x")}, {strings.Repeat("k", 201), []byte("x")}, {"big", make([]byte, 17<<10)}} {
		if err := s.PutSetting(bad.key, bad.v); err == nil {
			t.Errorf("PutSetting(%d-byte key, %d bytes) succeeded", len(bad.key), len(bad.v))
		}
	}
	if _, err := s.GetSetting(""); err == nil {
		t.Errorf("GetSetting of an empty key succeeded")
	}
}
