package ticket

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fsTopdirFl is FS_TOPDIR_FL of linux/fs.h ("chattr +T"); x/sys/unix does not name it.
const fsTopdirFl = 0x00020000

// markTopDir asks the file system to treat dir as the top of a directory hierarchy, as
// chattr +T does: ext2/3/4's Orlov allocator then gives each directory created in dir a
// block group of its own, as it does for the root's children, instead of the group of
// dir itself. Files take their inodes near their directory, so the raw mails, created in
// raw/tmp/, no longer share a group with what the rest of the file system creates and
// deletes near data_dir (a mail server's queue, say). On ext4 without a journal every
// new inode of a group first skips the group's recently deleted ones
// (find_inode_bit, recently_deleted): in a drain beside Postfix that search was a fifth
// of intake's CPU and slowed Postfix's own queue files (BENCHMARKS.md, issue 12).
// A file system without the flag (tmpfs, XFS, btrfs) refuses or ignores it; the caller
// goes on without it.
func markTopDir(dir string) error {
	f, err := openNoPoll(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("mark %s as a top directory: %w", dir, err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return fmt.Errorf("mark %s as a top directory: get flags: %w", dir, err)
	}
	if flags&fsTopdirFl != 0 {
		return nil
	}
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|fsTopdirFl)); err != nil {
		return fmt.Errorf("mark %s as a top directory: set flags: %w", dir, err)
	}
	return nil
}
