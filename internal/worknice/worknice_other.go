//go:build !linux

package worknice

func apply(work, request int) error { return ErrUnsupported }
