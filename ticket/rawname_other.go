//go:build !linux

package ticket

// renameNoReplace returns errNoReplace elsewhere than on Linux: StoreRawUnsynced then
// looks for an existing file first and renames over it (see rawname_linux.go).
func renameNoReplace(oldpath, newpath string) error {
	return errNoReplace
}
