package runtime

import (
	"encoding/json"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Prewarm builds what the first Create of a process builds on first use,
// for a process that starts early and creates later (the shim pool's
// spare): encoding/json's field tables for the spec, the state and the
// init's config (about a millisecond for specs.Spec, whose types reach
// every platform's section).
func Prewarm() {
	var s specs.Spec
	_ = json.Unmarshal([]byte(`{"ociVersion":"1.0.2","process":{"args":["true"],"cwd":"/"},"root":{"path":"rootfs"},"linux":{}}`), &s)
	_, _ = json.Marshal(&State{Spec: &s})
	_, _ = json.Marshal(&initConfig{Spec: newInitSpec(&s)})
}
