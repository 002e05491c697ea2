package ticket

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fsTopdirFl is FS_TOPDIR_FL of linux/fs.h ("chattr +T"); x/sys/unix does not name it.
const fsTopdirFl = 0x00020000

// asTopDir runs mkdir with dir marked as the top of a directory hierarchy, as chattr +T
// marks it, and gives dir its flags back afterwards. ext2/3/4's Orlov allocator places a
// directory made in a marked one as it places the root's children: in the (flex) block
// group with the fewest directories among those with at least the average free inodes
// and blocks, the first such from a group given by a hash of the new directory's name
// (find_group_orlov; makeRawTempDir gives it a random name), usually not the group of dir
// itself. Files take their
// inodes near their directory, so the raw mails, created in raw/tmp/, usually no longer
// share a group with what the rest of the file system creates and deletes near data_dir
// (a mail server's queue, say). The mark is taken off again so that raw/<xx>, made later,
// is placed as before, beside raw/ or its files, not in a group of its own each (a read of
// that group's bitmaps each, on the path of the first mails, BENCHMARKS.md).
//
// On ext4 without a journal every new inode of a group first skips the group's free
// inodes deleted in the last minute, six while their inode table block is dirty
// (fs/ext4/ialloc.c: find_inode_bit, recently_deleted): in a drain beside Postfix that
// walk was up to a fifth of intake's CPU and slowed Postfix's own queue files
// (BENCHMARKS.md, issue 12).
//
// A file system without the flag (tmpfs, XFS, btrfs, NFS) refuses it: mkdir runs all the
// same and placement is nil, as the placement is only a hint. Any other failure to mark
// or unmark is placement; err is mkdir's.
func asTopDir(dir string, mkdir func() error) (placement, err error) {
	f, err := openNoPoll(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("mark %s as a top directory: %w", dir, err), mkdir()
	}
	defer f.Close()
	fd := int(f.Fd())
	flags, gerr := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	switch {
	case unsupported(gerr):
		return nil, mkdir()
	case gerr != nil:
		return fmt.Errorf("mark %s as a top directory: get flags: %w", dir, gerr), mkdir()
	case flags&fsTopdirFl != 0: // the admin's own mark: kept
		return nil, mkdir()
	}
	if serr := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|fsTopdirFl)); serr != nil {
		if !unsupported(serr) {
			placement = fmt.Errorf("mark %s as a top directory: set flags: %w", dir, serr)
		}
		return placement, mkdir()
	}
	err = mkdir()
	if uerr := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags)); uerr != nil {
		placement = fmt.Errorf("unmark %s as a top directory: set flags: %w", dir, uerr)
	}
	return placement, err
}

// unsupported reports whether err is how a file system says it has no such flags.
func unsupported(err error) bool {
	return errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL)
}

// ownLike gives path the owner and group of like when they differ and this process may
// change them (it runs as root): raw/tmp/ made by an admin's command run as root must stay
// writable by the daemon's user, who owns raw/.
func ownLike(path, like string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	want, err := os.Stat(like)
	if err != nil {
		return err
	}
	got, err := os.Stat(path)
	if err != nil {
		return err
	}
	w, ok1 := want.Sys().(*syscall.Stat_t)
	g, ok2 := got.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 || (w.Uid == g.Uid && w.Gid == g.Gid) {
		return nil
	}
	return os.Lchown(path, int(w.Uid), int(w.Gid))
}
