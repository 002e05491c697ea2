//go:build !linux

package ticket

import "errors"

// memorySyscalls: KeepInMemory is written for Linux's mlock(2) and /proc/self/maps.
func memorySyscalls() (memorySys, error) { return memorySys{}, errors.ErrUnsupported }

// MemoryLimit: see memorySyscalls.
func MemoryLimit() (int64, error) { return 0, errors.ErrUnsupported }

// MemoryLockAllowance: see memorySyscalls.
func MemoryLockAllowance() (int64, error) { return 0, errors.ErrUnsupported }
