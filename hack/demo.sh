#!/bin/bash
# demo.sh is Berth's main job on a fresh machine: install the dependencies,
# build the berth binary, build the busybox image locally (no internet
# needed), then run real containers from it: once as an OCI bundle with
# Berth's own runtime, and once the Docker way, through `berth daemon`
# (on its own temporary data root and socket) with `berth import` and
# `berth run --rm`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

hack/install-deps.sh
echo "== build"
hack/build.sh bin/berth
echo "== image: busybox (OCI layout in images/busybox)"
rm -rf images/busybox
hack/mkimage-busybox.sh images/busybox >/dev/null

work=$(mktemp -d /tmp/berth-demo.XXXXXX)
root="$work/state"
cleanup() {
	bin/berth runtime --root "$root" delete --force demo >/dev/null 2>&1 || true
	if [ -s "$work/daemon.pid" ]; then
		kill "$(cat "$work/daemon.pid")" 2>/dev/null || true
		for _ in $(seq 50); do [ -e "$work/daemon.pid" ] || break; sleep 0.1; done
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "== bundle"
bundle="$work/bundle"
mkdir -p "$bundle/rootfs"
layout=images/busybox
manifest=$(jq -r '.manifests[0].digest' "$layout/index.json")
for layer in $(jq -r '.layers[].digest' "$layout/blobs/sha256/${manifest#sha256:}"); do
	tar -xzf "$layout/blobs/sha256/${layer#sha256:}" -C "$bundle/rootfs"
done
bin/berth runtime spec --bundle "$bundle"
jq '.process.terminal = false
  | .process.args = ["sh", "-c", "echo hello from a berth container; echo \"pid=$$ hostname=$(hostname) user=$(id -un)\"; ls /"]' "$bundle/config.json" > "$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

echo "== run: berth runtime run demo"
bin/berth runtime --root "$root" run --bundle "$bundle" demo

echo "== daemon: berth daemon on $work/berth.sock"
sock="unix://$work/berth.sock"
# --bridge none: the demo's container needs no network, and the host's
# default bridge and firewall chains are left to a daemon that may run.
bin/berth daemon --data-root "$work/data" --exec-root "$work/exec" -H "$sock" \
	--pidfile "$work/daemon.pid" --bridge none >"$work/daemon.log" 2>&1 &
for _ in $(seq 100); do bin/berth -H "$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
layer=$(jq -r '.layers[0].digest' "$layout/blobs/sha256/${manifest#sha256:}")
echo "== berth import (the busybox layer as image busybox:latest)"
bin/berth -H "$sock" import --change 'CMD ["sh"]' "$layout/blobs/sha256/${layer#sha256:}" busybox:latest
bin/berth -H "$sock" images
echo "== berth run --rm busybox"
bin/berth -H "$sock" run --rm busybox sh -c 'echo "hello from a container of berth daemon, pid $$ in $(hostname)"'
