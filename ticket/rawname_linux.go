package ticket

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames oldpath to newpath unless newpath exists (fs.ErrExist then):
// renameat2(2) with RENAME_NOREPLACE, one system call where a stat(2) and a rename(2) were
// two. errNoReplace when the file system cannot (EINVAL; ext4, XFS, Btrfs and tmpfs can).
func renameNoReplace(oldpath, newpath string) error {
	for {
		err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
		switch {
		case err == unix.EINTR:
			continue
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
			return errNoReplace
		case err != nil:
			return &os.LinkError{Op: "renameat2", Old: oldpath, New: newpath, Err: err}
		}
		return nil
	}
}
