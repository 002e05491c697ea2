package ticket

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames oldpath to newpath unless newpath exists (fs.ErrExist then):
// renameat2(2) with RENAME_NOREPLACE, one system call where a stat(2) of the name,
// os.Rename's lstat(2) of it and a rename(2) were three. errNoReplace when the file system
// cannot (EINVAL; ext4, XFS, Btrfs and tmpfs can) or the kernel is older than 3.15 (ENOSYS).
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
