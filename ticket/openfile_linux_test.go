package ticket

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// openNoPoll gives what os.OpenFile gives: the same errors, close-on-exec, blocking I/O,
// and fsync on files and directories.
func TestOpenNoPoll(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "da")
	if err := os.WriteFile(existing, []byte("Inhalt"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		flag    int
		wantErr error
	}{
		{"a new file, exclusively", filepath.Join(dir, "neu"), os.O_RDWR | os.O_CREATE | os.O_EXCL, nil},
		{"an existing file, exclusively", existing, os.O_RDWR | os.O_CREATE | os.O_EXCL, fs.ErrExist},
		{"a missing file", filepath.Join(dir, "fehlt"), os.O_RDONLY, fs.ErrNotExist},
		{"an existing file", existing, os.O_RDONLY, nil},
		{"a directory", dir, os.O_RDONLY, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := openNoPoll(tt.path, tt.flag, storeFileMode)
			if tt.wantErr != nil {
				var pe *fs.PathError
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &pe) || pe.Op != "open" || pe.Path != tt.path {
					t.Fatalf("err = %v, want an open *PathError for %s wrapping %v", err, tt.path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Name() != tt.path {
				t.Errorf("Name() = %q, want %q", f.Name(), tt.path)
			}
			fd := f.Fd()
			if flags, err := unix.FcntlInt(fd, unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Errorf("descriptor flags %#x, %v: not close-on-exec", flags, err)
			}
			if flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0); err != nil || flags&unix.O_NONBLOCK != 0 {
				t.Errorf("file status flags %#x, %v: want blocking I/O", flags, err)
			}
			if err := f.Sync(); err != nil {
				t.Errorf("fsync: %v", err)
			}
		})
	}
}
