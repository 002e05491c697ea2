package ticket

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func dirFlags(t *testing.T, dir string) (uint32, error) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	return unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
}

// TestOpenMarksRawTopDir: on ext2/3/4, where the flag means something, Open leaves raw/
// with FS_TOPDIR_FL and reports no placement failure; a second Open keeps the flags.
func TestOpenMarksRawTopDir(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.EXT4_SUPER_MAGIC {
		t.Skipf("%s is not on ext2/3/4 (magic %#x): the flag means nothing there", dir, st.Type)
	}
	s := openTestStore(t, dir)
	if s.RawPlacement != nil {
		t.Errorf("RawPlacement = %v, want nil on ext4", s.RawPlacement)
	}
	s.Close()
	flags, err := dirFlags(t, filepath.Join(dir, rawDir))
	if err != nil {
		t.Fatalf("flags of raw/: %v", err)
	}
	if flags&fsTopdirFl == 0 {
		t.Errorf("raw/ flags %#x: FS_TOPDIR_FL not set", flags)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	if again, err := dirFlags(t, filepath.Join(dir, rawDir)); err != nil || again != flags {
		t.Errorf("raw/ flags after a second Open: %#x, %v; want %#x", again, err, flags)
	}
}

// TestMarkTopDirUnsupported: a file system without the flag (tmpfs) is no failure.
func TestMarkTopDirUnsupported(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Skipf("no tmpfs at /dev/shm (%v)", err)
	}
	dir, err := os.MkdirTemp("/dev/shm", "intake-placement-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := markTopDir(dir); err != nil {
		t.Errorf("markTopDir on tmpfs: %v, want nil", err)
	}
	if err := markTopDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("markTopDir of a missing directory: no error")
	}
}

// TestRawTempDirOwnedLikeRaw: an admin's command run as root that opens the register
// first makes raw/tmp/ for the daemon's user, who owns raw/, not for root.
func TestRawTempDirOwnedLikeRaw(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give raw/ another owner")
	}
	const uid, gid = 65534, 65534
	dir := t.TempDir()
	raw := filepath.Join(dir, rawDir)
	if err := os.Mkdir(raw, storeDirMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(raw, uid, gid); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir)
	defer s.Close()
	fi, err := os.Stat(filepath.Join(raw, rawTempDir))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid || fi.Mode() != os.ModeDir|storeDirMode {
		t.Errorf("raw/tmp/: owner %d:%d, mode %v; want %d:%d, %v", st.Uid, st.Gid, fi.Mode(), uid, gid, os.ModeDir|storeDirMode)
	}
}
