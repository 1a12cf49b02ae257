#!/bin/bash
# registry-conformance.sh runs the OCI distribution-spec conformance suite
# (github.com/opencontainers/distribution-spec/conformance, fetched through
# the Go module proxy into a temporary module outside this repository and
# built with `go test -c`) against `berth registry serve` on 127.0.0.1, with
# all four workflows (pull, push, content discovery, content management)
# and the optional API checks (tag parameter, upload cancel, digest
# headers). It prints the pass/fail counts. With --peer it runs the same
# suite against Debian's docker-registry (distribution 2.8.2) as well.
#
#   hack/registry-conformance.sh [--peer] [--berth BIN] [--suite-version VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

peer=0
berth=""
version=latest
while [ $# -gt 0 ]; do
	case "$1" in
	--peer) peer=1 ;;
	--berth) berth="$2"; shift ;;
	--suite-version) version="$2"; shift ;;
	*) echo "usage: $0 [--peer] [--berth BIN] [--suite-version VERSION]" >&2; exit 2 ;;
	esac
	shift
done

work=$(mktemp -d /tmp/berth-conformance.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$berth" ]; then
	hack/build.sh "$work/berth"
	berth="$work/berth"
fi

echo "== building the conformance suite ($version)"
mkdir -p "$work/suite"
(
	cd "$work/suite"
	go mod init conformance-runner >/dev/null 2>&1
	GOFLAGS=-mod=mod go get "github.com/opencontainers/distribution-spec/conformance@$version" >/dev/null 2>&1
	dir=$(GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/opencontainers/distribution-spec/conformance)
	echo "suite: $(GOFLAGS=-mod=mod go list -m github.com/opencontainers/distribution-spec/conformance)"
	cd "$dir" && GOFLAGS=-mod=mod go test -c -o "$work/conformance.test" . >/dev/null
)

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
	for _ in $(seq 100); do
		if curl -fsS "http://127.0.0.1:$1/v2/" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "registry on port $1 did not come up" >&2
	return 1
}

# run NAME PORT: runs the suite and prints NAME: passed, failed.
run() {
	local name=$1 port=$2 results="$work/results-$1"
	mkdir -p "$results"
	(
		cd "$results"
		OCI_REGISTRY=127.0.0.1:$port OCI_TLS=disabled \
		OCI_REPO1=conformance/repo1 OCI_REPO2=conformance/repo2 \
		OCI_TEST_PULL=1 OCI_TEST_PUSH=1 OCI_TEST_CONTENT_DISCOVERY=1 OCI_TEST_CONTENT_MANAGEMENT=1 \
		OCI_API_MANIFESTS_TAG_PARAM=true OCI_API_BLOBS_UPLOAD_CANCEL=true \
		OCI_API_BLOBS_DIGEST_HEADER=true OCI_API_MANIFESTS_DIGEST_HEADER=true \
		OCI_RESULTS_DIR="$results" "$work/conformance.test" >"$results/output.txt" 2>&1 || true
	)
	local tests failures
	tests=$(grep -o 'tests="[0-9]*"' "$results/junit.xml" | head -1 | tr -dc 0-9)
	failures=$(grep -o 'failures="[0-9]*"' "$results/junit.xml" | head -1 | tr -dc 0-9)
	echo "$name: $((tests - failures)) passed, $failures failed (of $tests)"
	if [ "$failures" != 0 ]; then
		grep -E '^ +OCI Conformance Test.*: FAIL' "$results/output.txt" | sed 's/^/    /' | head -40
	fi
	[ "$failures" = 0 ]
}

echo "== berth registry serve"
port=$(free_port)
"$berth" registry serve --addr "127.0.0.1:$port" --root "$work/berth-root" 2>"$work/berth.log" &
pids+=($!)
wait_port "$port"
status=0
run berth "$port" || status=1

if [ "$peer" = 1 ]; then
	echo "== docker-registry (distribution) as peer"
	pport=$(free_port)
	cat >"$work/distribution.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/distribution-root
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$pport
YAML
	docker-registry serve "$work/distribution.yml" >"$work/distribution.log" 2>&1 &
	pids+=($!)
	wait_port "$pport"
	run distribution "$pport" || true
fi
exit $status
