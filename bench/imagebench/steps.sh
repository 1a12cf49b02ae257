#!/bin/bash
# steps.sh compares the 30-layer pull of the image service at several
# commits, and skopeo's, in one run: it builds bench/imagebench at each
# commit (git archive, so the work tree is not touched), makes the image of
# 30 random 1 MB layers with the newest, pushes it to Debian's
# docker-registry on 127.0.0.1, then pulls it N times with each build and
# with skopeo, interleaved, each into a fresh root after a `sync`, and prints
# the medians. Must run as root (overlay). Everything it makes is removed at
# exit.
#
# Usage: bench/imagebench/steps.sh N COMMIT...
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 N COMMIT..." >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "steps.sh: must run as root" >&2; exit 1; }
export PATH=$PATH:/usr/local/go/bin
cd "$(dirname "$0")/../.."
n=$1; shift
work=$(mktemp -d /var/tmp/berth-image-steps.XXXXXX)
regpid=
cleanup() {
	[ -n "$regpid" ] && { kill "$regpid" 2>/dev/null || true; wait "$regpid" 2>/dev/null || true; }
	rm -rf "$work"
}
trap cleanup EXIT
for c in "$@"; do
	mkdir -p "$work/src-$c"
	git archive "$c" | tar -x -C "$work/src-$c"
	(cd "$work/src-$c" && go build -o "$work/ib-$c" ./bench/imagebench)
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s/registry\nhttp:\n  addr: 127.0.0.1:%s\n' "$work" "$port" >"$work/registry.yml"
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
regpid=$!
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.05; done
ref=127.0.0.1:$port/steps/many:1
last=${!#}
"$work/ib-$last" make --root "$work/src" --ref "$ref" --layers 30 --size 1 >/dev/null
"$work/ib-$last" push --root "$work/src" --ref "$ref"
echo "$(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); $n interleaved pulls of 30 x 1 MB layers each"
declare -A res
for _ in $(seq "$n"); do
	for c in "$@" skopeo; do
		sync
		t0=$EPOCHREALTIME
		if [ "$c" = skopeo ]; then
			skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$work/pull:latest"
		else
			"$work/ib-$c" pull --root "$work/pull" --ref "$ref" >/dev/null
		fi
		t1=$EPOCHREALTIME
		rm -rf "$work/pull"
		res[$c]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b-a}') "
	done
done
for c in "$@" skopeo; do
	m=$(echo ${res[$c]} | tr ' ' '\n' | sort -n | awk '{x[NR]=$1} END {print x[int((NR+1)/2)]}')
	printf "%-12s median %s s  (runs: %s)\n" "$c" "$m" "${res[$c]% }"
done
