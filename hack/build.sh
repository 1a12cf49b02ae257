#!/bin/sh
# build.sh builds the single static berth binary into bin/berth (or $1).
# It is built without cgo: the C of internal/runtime/nsenter goes into the
# init image (internal/runtime/initimage), which berth embeds.
# The binary's git commit (git rev-parse --short HEAD, empty outside a git
# checkout) and build time are what `berth version` and the daemon's
# /version report. The build time is now, or SOURCE_DATE_EPOCH when set, so
# that a rebuild of the same commit is byte for byte the same.
set -eu
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
out=${1:-bin/berth}
pkg=github.com/berth/berth/internal/cli/version
commit=$(git rev-parse --short HEAD 2>/dev/null || true)
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	built=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
else
	built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
fi
# First the shim's serving image (internal/shim, "Two images"), a small
# static program that berth embeds and every running container's shim
# becomes once the container is created.
mkdir -p internal/shim/image
CGO_ENABLED=0 go build -trimpath -buildvcs=false -tags shimserver,osusergo,netgo \
	-ldflags "-s -w" -o internal/shim/image/berth-shim.$$ ./internal/shim/cmd/berth-shim
mv internal/shim/image/berth-shim.$$ internal/shim/image/berth-shim
# Then the init image (internal/runtime/initimage), a static C program;
# berth itself is then pure Go (no cgo), static by itself.
bash hack/build-init.sh internal/runtime/initimage/berth-init
CGO_ENABLED=0 go build -trimpath -buildvcs=false -tags shimimage,initimage,osusergo,netgo \
	-ldflags "-s -w -X $pkg.GitCommit=$commit -X $pkg.BuildTime=$built" \
	-o "$out.link.$$" ./cmd/berth
# Last, the binary is written out again in 4 MB writes, as a new file: on a
# file system that caches files in large folios (ext4 here, on Linux 6.18;
# xfs; tmpfs with huge pages), a write that large leaves the file's page
# cache in 2 MB folios, and every berth process then maps its code and
# read-only data with a few 2 MB page-table entries instead of taking a
# fault per 64 KB (~200 faults fewer, 20 to 30 µs each in a VM): a `berth
# runtime run` about 20 % faster on the PVM host of docs/runtime.md. The
# linker's own output is written through a mapping, in 4 KB folios. Where
# the file system caches in 4 KB pages only, this is a plain copy. See
# docs/runtime.md, "The binary's page cache".
trap 'rm -f "$out.link.$$" "$out.$$"' EXIT
dd if="$out.link.$$" of="$out.$$" bs=4M status=none
chmod 0755 "$out.$$"
mv -f "$out.$$" "$out"
