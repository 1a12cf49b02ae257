// Package initimage embeds the init image into berth: a small static C
// program (src/main.c, with nsenter.c and fastinit.c of package nsenter)
// that the runtime execs as a container's init instead of berth itself
// when the init takes the C init or joins namespaces by path. It joins the
// namespaces, runs the C init on the parent's plan, and otherwise execs
// berth, handed over as a sealed descriptor, for the Go init.
//
// hack/build.sh builds it with musl (hack/build-init.sh) and berth without
// cgo: a static musl program starts in a quarter of a millisecond less than
// a static glibc one, and berth without cgo starts and exits in about a
// third of a millisecond less, on every `berth runtime run` (docs/runtime.md,
// "The init image"). A berth built without the initimage tag has no image;
// with cgo it then links nsenter's C into itself (package nsenter), as
// before.
package initimage
