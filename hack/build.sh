#!/bin/sh
# build.sh builds the single static berth binary into bin/berth (or $1).
# cgo is used only by internal/runtime/nsenter; glibc is linked statically.
set -eu
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
out=${1:-bin/berth}
CGO_ENABLED=1 go build -trimpath -tags osusergo,netgo \
	-ldflags '-s -w -extldflags "-static"' -o "$out" ./cmd/berth
