//go:build shimserver

package shim

import "errors"

// The serving image (built with the shimserver tag) carries no runtime: it
// goes on with containers that `berth shim` created.

func newBuiltinTask(*Config) (task, error) {
	return nil, errors.New("berth-shim cannot create a container of the built-in runtime (berth shim does)")
}

func prewarm() {}

func deleteBuiltin(*Config) (bool, error) {
	return false, errors.New("berth-shim cannot delete a container of the built-in runtime")
}
