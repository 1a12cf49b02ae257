#!/bin/bash
# images.sh times image pull and push against Debian's docker-registry on
# 127.0.0.1, Berth's image service (bench/imagebench, which calls
# internal/image; no CLI exists yet) vs skopeo, in one run, for an image of
# one 100 MB random layer and one of 30 layers of 1 MB, plus layer unpack
# throughput (archive.Apply of a 100 MB plain tar into a directory).
#
# Usage: bench/images.sh [--count N] [--size MB]
#
#   --count N   iterations per case (default 3); the median is reported
#   --size MB   size of the big layer (default 100)
#
# Berth's pull includes unpacking into overlay snapshots (download and
# unpack overlapped); skopeo's copies to an OCI layout directory and does
# not unpack. Each pull goes to a fresh data root (Berth) or layout
# (skopeo). Each push goes to a registry restarted on an empty storage root,
# so neither tool can skip or mount a blob (skopeo's blob info cache would
# otherwise mount it), and every blob is uploaded. Times are bash $EPOCHREALTIME
# around each command, process start included for both, each after a `sync`
# so that the writeback of one case does not land in the next (Berth fsyncs
# each blob before it becomes visible; skopeo does not). Must run as root
# (overlay).
# Everything it makes (work dir, registry, its data) is removed at exit.
set -euo pipefail

count=3
size=100
while [ $# -gt 0 ]; do
	case "$1" in
	--count) count="$2"; shift 2 ;;
	--size) size="$2"; shift 2 ;;
	*) echo "usage: $0 [--count N] [--size MB]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "images.sh: must run as root" >&2; exit 1; }
for b in docker-registry skopeo go; do
	command -v $b >/dev/null || [ -x /usr/local/go/bin/go ] || { echo "images.sh: $b not found (hack/install-deps.sh)" >&2; exit 1; }
done
export PATH=$PATH:/usr/local/go/bin
cd "$(dirname "$0")/.."

work=$(mktemp -d /var/tmp/berth-images-bench.XXXXXX)
declare -A regpids=()
cleanup() {
	for p in "${regpids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/imagebench" ./bench/imagebench
ib="$work/imagebench"

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_registry NAME: (re)starts registry NAME on an empty storage root and
# sets $reg_NAME to its host:port.
start_registry() {
	local name=$1 port
	if [ -n "${regpids[$name]:-}" ]; then
		kill "${regpids[$name]}" 2>/dev/null || true
		wait "${regpids[$name]}" 2>/dev/null || true
	fi
	rm -rf "$work/registry-$name"
	port=$(freeport)
	cat >"$work/registry-$name.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry-$name
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YML
	docker-registry serve "$work/registry-$name.yml" >>"$work/registry.log" 2>&1 &
	regpids[$name]=$!
	for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.05; done
	printf -v "reg_$name" '%s' "127.0.0.1:$port"
}
start_registry main
reg=$reg_main

now() { echo "$EPOCHREALTIME"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() { # prints seconds of "$@"
	local t0 t1
	sync
	t0=$(now)
	"$@" >/dev/null 2>"$work/err" || { echo "images.sh: failed: $*" >&2; cat "$work/err" >&2; exit 1; }
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b-a}'
}

echo "kernel $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $(skopeo --version); docker-registry $(dpkg-query -W -f='${Version}' docker-registry 2>/dev/null)"

# The images, made once by Berth and pushed once so skopeo has an OCI
# layout of each to push from.
"$ib" make --root "$work/src" --ref "$reg/bench/big:1" --layers 1 --size "$size" >/dev/null
"$ib" make --root "$work/src" --ref "$reg/bench/many:1" --layers 30 --size 1 >/dev/null
for img in big many; do
	"$ib" push --root "$work/src" --ref "$reg/bench/$img:1"
	skopeo copy -q --src-tls-verify=false "docker://$reg/bench/$img:1" "oci:$work/layout-$img:latest"
done

printf "%-22s %8s %10s %10s %8s\n" case runs berth_s skopeo_s ratio
for img in big many; do
	label="$img"; [ $img = big ] && label="1 x ${size} MB layer" || label="30 x 1 MB layers"
	bp=(); sp=(); bl=(); sl=()
	for i in $(seq "$count"); do
		start_registry push
		bp+=("$(timeit "$ib" push --root "$work/src" --src "$reg/bench/$img:1" --ref "$reg_push/bench/$img:$i")")
		start_registry push
		sp+=("$(timeit skopeo copy -q --dest-tls-verify=false "oci:$work/layout-$img:latest" "docker://$reg_push/bench/$img:$i")")
		bl+=("$(timeit "$ib" pull --root "$work/pull-$i" --ref "$reg/bench/$img:1")")
		rm -rf "$work/pull-$i"
		sl+=("$(timeit skopeo copy -q --src-tls-verify=false "docker://$reg/bench/$img:1" "oci:$work/skopeo-$i:latest")")
		rm -rf "$work/skopeo-$i"
	done
	b=$(printf "%s\n" "${bp[@]}" | median); s=$(printf "%s\n" "${sp[@]}" | median)
	printf "%-22s %8s %10s %10s %7.2fx\n" "push $label" "$count" "$b" "$s" "$(awk -v a="$b" -v b="$s" 'BEGIN {print a/b}')"
	b=$(printf "%s\n" "${bl[@]}" | median); s=$(printf "%s\n" "${sl[@]}" | median)
	printf "%-22s %8s %10s %10s %7.2fx\n" "pull $label" "$count" "$b" "$s" "$(awk -v a="$b" -v b="$s" 'BEGIN {print a/b}')"
done

u=()
for i in $(seq "$count"); do
	u+=("$("$ib" unpack --dir "$work/unpack-$i" --size "$size")")
	rm -rf "$work/unpack-$i"
done
echo "unpack of a ${size} MB plain tar (archive.Apply, overlay form, into $work on $(df --output=fstype "$work" | tail -1)): median $(printf "%s\n" "${u[@]}" | median) MB/s (runs: ${u[*]})"
echo "(ratio = berth/skopeo; below 1 means berth is faster. Berth's pull includes unpacking, skopeo's does not.)"
