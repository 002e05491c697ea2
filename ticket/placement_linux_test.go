package ticket

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

func skipUnlessExt(t *testing.T, dir string) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.EXT4_SUPER_MAGIC {
		t.Skipf("%s is not on ext2/3/4 (magic %#x): the flag means nothing there", dir, st.Type)
	}
}

// TestAsTopDir: on ext2/3/4, where the flag means something, the directory is marked
// while mkdir runs and has its own flags back afterwards (an admin's mark is kept);
// mkdir's error is returned as it is.
func TestAsTopDir(t *testing.T) {
	skipUnlessExt(t, t.TempDir())
	failed := errors.New("no space left")
	for _, tc := range []struct {
		name      string
		preMarked bool
		mkdirErr  error
	}{
		{name: "unmarked"},
		{name: "the admin's mark is kept", preMarked: true},
		{name: "mkdir fails", mkdirErr: failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.preMarked {
				if out, err := exec.Command("chattr", "+T", dir).CombinedOutput(); err != nil {
					t.Fatalf("chattr +T: %v: %s", err, out)
				}
			}
			before, err := dirFlags(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			var during uint32
			placement, err := asTopDir(dir, func() error {
				var ferr error
				if during, ferr = dirFlags(t, dir); ferr != nil {
					return ferr
				}
				if tc.mkdirErr != nil {
					return tc.mkdirErr
				}
				return os.Mkdir(filepath.Join(dir, "sub"), storeDirMode)
			})
			if placement != nil || err != tc.mkdirErr {
				t.Fatalf("asTopDir = %v, %v; want nil, %v", placement, err, tc.mkdirErr)
			}
			if during&fsTopdirFl == 0 {
				t.Errorf("flags while mkdir ran: %#x, FS_TOPDIR_FL not set", during)
			}
			if after, err := dirFlags(t, dir); err != nil || after != before {
				t.Errorf("flags afterwards: %#x, %v; want %#x as before", after, err, before)
			}
		})
	}
}

// TestOpenMakesRawTemp: Open makes raw/tmp/ and leaves raw/ with the flags it had, with
// no placement failure on ext2/3/4; a second Open finds raw/tmp/ and changes nothing.
func TestOpenMakesRawTemp(t *testing.T) {
	dir := t.TempDir()
	skipUnlessExt(t, dir)
	want, err := dirFlags(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s := openTestStore(t, dir)
		if s.RawPlacement != nil {
			t.Errorf("RawPlacement = %v, want nil on ext4", s.RawPlacement)
		}
		s.Close()
		if fi, err := os.Stat(filepath.Join(dir, rawDir, rawTempDir)); err != nil || !fi.IsDir() {
			t.Fatalf("raw/tmp/: %v", err)
		}
		if got, err := dirFlags(t, filepath.Join(dir, rawDir)); err != nil || got != want {
			t.Errorf("raw/ flags %#x, %v; want %#x, as its parent's", got, err, want)
		}
	}
}

// TestAsTopDirUnsupported: a file system without the flag (tmpfs) is no failure, and
// mkdir runs; a directory that cannot be opened is a placement failure, and mkdir runs.
func TestAsTopDirUnsupported(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Skipf("no tmpfs at /dev/shm (%v)", err)
	}
	dir, err := os.MkdirTemp("/dev/shm", "intake-placement-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ran := false
	if placement, err := asTopDir(dir, func() error { ran = true; return nil }); placement != nil || err != nil || !ran {
		t.Errorf("asTopDir on tmpfs: %v, %v, mkdir ran %v; want nil, nil, true", placement, err, ran)
	}
	ran = false
	if placement, err := asTopDir(filepath.Join(dir, "missing"), func() error { ran = true; return nil }); placement == nil || err != nil || !ran {
		t.Errorf("asTopDir of a missing directory: %v, %v, mkdir ran %v; want a placement error, nil, true", placement, err, ran)
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

// TestRawTempDirsOfDataDirsSpread: the raw/tmp/ of several data directories on one ext4
// file system do not all lie in one or two neighbouring flex groups (makeRawTempDir).
// Under the one name "tmp" the Orlov allocator started each at the same group and took the
// same flex group; there a removed data directory's free inodes were skipped one by one by
// every raw mail of the next for minutes (issue 12). Where several groups have the fewest
// directories, a random start spreads them. A file system where one group has clearly
// fewer than all others sends every new directory there, whatever its name: the test
// first checks that directories of random names made in a marked directory spread, and
// skips when they do not.
func TestRawTempDirsOfDataDirsSpread(t *testing.T) {
	const dataDirs = 8
	parent := t.TempDir()
	skipUnlessExt(t, parent)
	var st unix.Statfs_t
	if err := unix.Statfs(parent, &st); err != nil {
		t.Fatal(err)
	}
	// mkfs.ext4's defaults: a block group of 8 × block size blocks (its block bitmap is
	// one block), 16 block groups to a flex group. statfs leaves the file system's own
	// blocks out, so this counts a little under the flex groups there are, and flexInodes
	// is a little over the inodes of one.
	flexBlocks := uint64(16 * 8 * st.Bsize)
	flexGroups := (st.Blocks + flexBlocks - 1) / flexBlocks
	if flexGroups < 64 {
		t.Skipf("the file system under %s has about %d flex groups: too few for this test", parent, flexGroups)
	}
	flexInodes := st.Files / flexGroups
	clustered := func(inodes []uint64) bool { return slices.Max(inodes)-slices.Min(inodes) < 2*flexInodes }

	control := filepath.Join(parent, "control")
	if err := os.Mkdir(control, storeDirMode); err != nil {
		t.Fatal(err)
	}
	var controls []uint64
	if _, err := asTopDir(control, func() error {
		for range dataDirs {
			d, err := os.MkdirTemp(control, "")
			if err != nil {
				return err
			}
			fi, err := os.Stat(d)
			if err != nil {
				return err
			}
			controls = append(controls, fi.Sys().(*syscall.Stat_t).Ino)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if clustered(controls) {
		t.Skipf("directories of random names in a marked directory have inodes %v: this file system gives new directories one group whatever their name", controls)
	}

	var inodes []uint64
	for i := range dataDirs {
		dir := filepath.Join(parent, fmt.Sprint(i))
		s := openTestStore(t, dir)
		placement := s.RawPlacement
		s.Close()
		if placement != nil {
			t.Fatalf("RawPlacement = %v, want nil on ext4", placement)
		}
		fi, err := os.Stat(filepath.Join(dir, rawDir, rawTempDir))
		if err != nil {
			t.Fatal(err)
		}
		inodes = append(inodes, fi.Sys().(*syscall.Stat_t).Ino)
	}
	if clustered(inodes) {
		t.Errorf("raw/tmp/ of %d data directories have inodes %v, all within two flex groups of about %d inodes", dataDirs, inodes, flexInodes)
	}
}

// TestOpenRemovesAHalfMadeRawTempDir: raw/tmp/ is made as raw/tmp-<random>/ and renamed;
// what a crash between the two left is removed by the next Open, and Open leaves nothing
// but raw/tmp/ behind.
func TestOpenRemovesAHalfMadeRawTempDir(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, rawDir)
	if err := os.MkdirAll(filepath.Join(raw, tmpPrefix+"4711"), storeDirMode); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir)
	defer s.Close()
	ents, err := os.ReadDir(raw)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{rawTempDir}) {
		t.Errorf("raw/ holds %q after Open, want only %q", names, rawTempDir)
	}
}
