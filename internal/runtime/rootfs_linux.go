package runtime

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// prepareRootfs runs in the init, in the container's new mount namespace,
// before pivot_root. STUB: owned by the rootfs work.
func prepareRootfs(spec *specs.Spec, rootfs string) error {
	return errors.New("prepareRootfs: not implemented")
}

// enterRootfs pivots (or chroots when noPivot) into rootfs. STUB.
func enterRootfs(rootfs string, noPivot bool) error {
	return errors.New("enterRootfs: not implemented")
}

// finalizeRootfs runs after enterRootfs: masked and readonly paths, readonly
// root, root propagation. STUB.
func finalizeRootfs(spec *specs.Spec) error {
	return errors.New("finalizeRootfs: not implemented")
}

// mountConsole bind-mounts the pty slave at slavePath onto /dev/console
// (after enterRootfs). STUB.
func mountConsole(slavePath string) error {
	return errors.New("mountConsole: not implemented")
}
