//go:build linux && cgo

package nsenter

/*
#cgo CFLAGS: -Wall -O2
extern void berth_nsenter(void);
extern void berth_fastinit(void);
void __attribute__((constructor)) berth_nsenter_init(void) {
	berth_nsenter();
	berth_fastinit();
}
*/
import "C"

import "github.com/berth/berth/internal/runtime"

// The C init (fastinit.c) is linked: containers may use it.
func init() { runtime.EnableFastInit() }
