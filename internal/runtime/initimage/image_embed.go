//go:build initimage

package initimage

import (
	_ "embed"

	"github.com/berth/berth/internal/runtime"
)

// image is the init image, which hack/build-init.sh builds here first.
//
//go:embed berth-init
var image []byte

func init() { runtime.SetInitImage(image) }
