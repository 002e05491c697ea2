package ticket

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenMarksRawTopDir: on ext2/3/4, where the flag means something, Open leaves raw/
// with FS_TOPDIR_FL, and raw/tmp/ is made after it (so Orlov placed it apart). Elsewhere
// the register opens all the same.
func TestOpenMarksRawTopDir(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	defer s.Close()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(filepath.Join(dir, rawDir), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if st.Type != unix.EXT4_SUPER_MAGIC {
		t.Logf("%s is not on ext2/3/4 (magic %#x): flags %#x, %v", dir, st.Type, flags, err)
		return
	}
	if err != nil {
		t.Fatalf("flags of raw/: %v", err)
	}
	if flags&fsTopdirFl == 0 {
		t.Errorf("raw/ flags %#x: FS_TOPDIR_FL not set", flags)
	}
	// A second Open finds the flag set and keeps the other flags.
	s.Close()
	s = openTestStore(t, dir)
	defer s.Close()
	again, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || again != flags {
		t.Errorf("raw/ flags after a second Open: %#x, %v; want %#x", again, err, flags)
	}
}
