//go:build !linux

package ticket

// asTopDir only runs mkdir elsewhere than on Linux: the block-group placement it asks for
// is ext2/3/4's (see placement_linux.go).
func asTopDir(dir string, mkdir func() error) (placement, err error) { return nil, mkdir() }

// ownLike does nothing elsewhere than on Linux, where intake is run as a service
// (see placement_linux.go).
func ownLike(path, like string) error { return nil }
