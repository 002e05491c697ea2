//go:build !linux

package ticket

import "os"

// openNoPoll is os.OpenFile elsewhere than on Linux: on macOS and the BSDs it does not try
// to register regular files with the runtime's poller, and other systems are not what
// intake is measured on (see openfile_linux.go).
func openNoPoll(path string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag, perm)
}
