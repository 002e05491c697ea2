package ticket

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openFileSystemSync returns a function that makes everything written to the file system
// holding dir durable with one syncfs(2), and what must be closed with the Store; nil, nil
// when it cannot be relied on here, so that SyncRaw fsyncs path by path.
//
// A registration batch used to fsync each raw mail and each raw/<xx> directory: on a
// disk with a write cache every fsync ends with a cache flush, about 70 for a batch of 32
// mails, and a mail server's own fsync on the same disk (Postfix's queue file) waited
// behind them (BENCHMARKS.md, issue 12). syncfs writes back what is dirty on the file
// system and flushes the disk once (fs/sync.c: sync_filesystem, then the file system's
// sync_fs; ext4 and XFS force their journal, ext4 without one flushes the device).
//
// dir is held open from Open on: since Linux 5.8 syncfs reports a write-back error of the
// file system that happened since the descriptor was opened or last reported (errseq on
// the superblock), so a raw mail whose write-back failed in the background fails its
// batch as its own fsync would. Before 5.8 syncfs reports no write-back error at all, so
// there the fsyncs stay.
func openFileSystemSync(dir string) (syncFS func() error, closer *os.File, err error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil || !kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 8) {
		return nil, nil, nil
	}
	f, err := openNoPoll(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s for syncfs: %w", dir, err)
	}
	syncFS = func() error {
		if err := unix.Syncfs(int(f.Fd())); err != nil {
			return fmt.Errorf("syncfs %s: %w", dir, err)
		}
		return nil
	}
	return syncFS, f, nil
}

// kernelAtLeast reports whether a Linux release string ("6.1.0-18-amd64") is major.minor
// or later; false when it cannot be read.
func kernelAtLeast(release string, major, minor int) bool {
	var maj, mnr int
	if _, err := fmt.Sscanf(release, "%d.%d", &maj, &mnr); err != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}
