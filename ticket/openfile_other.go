//go:build !linux

package ticket

import "os"

// openNoPoll is os.OpenFile: elsewhere than on Linux it does not try to register regular
// files with the runtime's poller (see openfile_linux.go).
func openNoPoll(path string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag, perm)
}
