#!/bin/bash
# test.sh runs every Berth test: formatting and vet, the unit packages under
# the race detector, the root integration tests that run real containers
# side by side with runc, and the cgroup v2 tests inside a qemu VM.
# It installs what it needs first (hack/install-deps.sh). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

hack/install-deps.sh

# The berth processes the tests start keep their binary's page cache in 2 MB
# folios (internal/runtime KeepBinaryCached) and leave a marker per binary
# where they did: here, not in /run/berth, since every test build is a new
# binary.
_BERTH_PAGECACHE_DIR=$(mktemp -d /tmp/berth-test-pagecache.XXXXXX)
export _BERTH_PAGECACHE_DIR
trap 'rm -rf "$_BERTH_PAGECACHE_DIR"' EXIT

echo "== gofmt, go vet"
unformatted=$(gofmt -l cmd internal test hack bench 2>/dev/null || true)
if [ -n "$unformatted" ]; then
	echo "gofmt needed:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "== unit tests (race)"
# Unit packages: everything except the root integration suites.
units=$(go list ./... | grep -v '/test/')
go test -race -count=1 -timeout 10m $units

echo "== integration tests (real containers, berth and runc)"
go test -count=1 -timeout 15m ./test/...

if [ -x hack/cgroup2-tests.sh ] && [ "${BERTH_SKIP_VM:-}" != 1 ]; then
	echo "== cgroup v2 tests in a qemu VM"
	hack/cgroup2-tests.sh
fi
