package ticket

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestCreateTemp(t *testing.T) {
	dir := t.TempDir()
	a, err := createTemp(dir, tmpPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := createTemp(dir, tmpPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Name() == b.Name() {
		t.Fatalf("two temporary files named %s", a.Name())
	}
	for _, f := range []*os.File{a, b} {
		if ok, _ := filepath.Match(filepath.Join(dir, tmpPattern), f.Name()); !ok {
			t.Errorf("%s does not match %s: Open would not clean it up", f.Name(), tmpPattern)
		}
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != storeFileMode {
			t.Errorf("%s: mode %v, want %v", f.Name(), fi.Mode(), storeFileMode)
		}
	}
	// Read and write, as StoreRawUnsynced and the parse after it use the file.
	if _, err := a.WriteString("Sehr geehrte Damen und Herren"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(a); err != nil || string(got) != "Sehr geehrte Damen und Herren" {
		t.Errorf("read back %q, %v", got, err)
	}
}
