//go:build shimimage

package shim

import _ "embed"

// embeddedImage is the serving image, internal/shim/cmd/berth-shim built
// with the shimserver tag, which hack/build.sh places here first.
//
//go:embed image/berth-shim
var embeddedImage []byte
