#!/bin/bash
# demo.sh is Berth's main job on a fresh machine: install the dependencies,
# build the berth binary, build the busybox image locally (no internet
# needed), unpack it into an OCI bundle and run a real container from it
# with Berth's own runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

hack/install-deps.sh
echo "== build"
hack/build.sh bin/berth
echo "== image: busybox (OCI layout in images/busybox)"
hack/mkimage-busybox.sh images/busybox >/dev/null

work=$(mktemp -d /tmp/berth-demo.XXXXXX)
root="$work/state"
cleanup() {
	bin/berth runtime --root "$root" delete --force demo >/dev/null 2>&1 || true
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
  | .process.args = ["sh", "-c", "echo hello from a berth container; echo \"pid=$$ hostname=$(hostname) user=$(id -un)\"; ls /"]
  | .linux.cgroupsPath = "/berth-demo/demo"' "$bundle/config.json" > "$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

echo "== run: berth runtime run demo"
bin/berth runtime --root "$root" run --bundle "$bundle" demo
