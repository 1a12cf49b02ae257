#!/bin/bash
# build.sh measures Berth's builder against Debian's docker.io daemon
# (dockerd 20.10) in one run, with the same docker CLI 28
# (DOCKER_BUILDKIT=0, the legacy POST /build) against both daemons, and
# dockerd's BuildKit through Debian's 20.10 CLI (/usr/bin/docker with
# DOCKER_BUILDKIT=1, its built-in BuildKit client) when that CLI exists:
#
#   - cold build (--no-cache: every step runs, RUN containers start, COPY
#     copies) of a small multi-stage Dockerfile: busybox base, two RUN
#     steps, a 10 MB COPY, a COPY --from another stage
#   - fully cached rebuild of the same context (the 10 MB file re-sent
#     and re-hashed, every step a cache hit)
#   - the floor of that rebuild: the docker CLI sending the same context
#     to a server that only reads it (then also SHA-256s it) and answers
#     at once; and Berth's own CLI against Berth, which offers the daemon
#     its context directory to read in place (docs/build.md), so its
#     cached rebuild sends no context at all
#
# Times are wall-clock medians of N rounds of the whole CLI command, as
# a user sees them; each round runs every target once, in turn, so the
# load of a shared machine falls on all alike; a ratio is the median of
# the rounds' ratios of Berth's time over the peer's.
#
# Usage: bench/build.sh [--runs N] [--no-peer]
#
# Each daemon gets its own socket, data root and exec root in a temporary
# directory; both run without a bridge (dockerd --bridge=none
# --iptables=false, berth --bridge none) and the builds use --network
# none, so nothing touches the host's network. busybox:latest comes from
# hack/mkimage-busybox.sh through skopeo (docker-archive) and `docker
# load` into both. Must run as root. Everything it makes is removed at
# exit; the daemons are stopped by PID.
set -euo pipefail

runs=9
peer=1
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs="$2"; shift 2 ;;
	--no-peer) peer=0; shift ;;
	*) echo "usage: $0 [--runs N] [--no-peer]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "build.sh: must run as root" >&2; exit 1; }
export PATH=$PATH:/usr/local/go/bin
docker=/usr/local/bin/docker
bkdocker=/usr/bin/docker
[ -x $docker ] || { echo "build.sh: the docker CLI is missing at $docker" >&2; exit 1; }
command -v skopeo >/dev/null || { echo "build.sh: skopeo not found (hack/install-deps.sh)" >&2; exit 1; }
if [ $peer = 1 ] && ! command -v dockerd >/dev/null; then
	echo "build.sh: dockerd not found (Debian's docker.io): peer skipped" >&2
	peer=0
fi
cd "$(dirname "$0")/.."

work=$(mktemp -d /var/tmp/berth-build-bench.XXXXXX)
berth_pid="" docker_pid=""
cleanup() {
	set +e
	for p in $berth_pid $docker_pid $drain_pid; do kill "$p" 2>/dev/null || true; done
	for p in $berth_pid $docker_pid $drain_pid; do
		for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	{ grep " $work/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

hack/build.sh "$work/berth"
sh hack/mkimage-busybox.sh "$work/busybox-oci" >/dev/null
skopeo copy -q "oci:$work/busybox-oci:latest" "docker-archive:$work/busybox.tar:busybox:latest" >/dev/null

# The context: the issue's small multi-stage Dockerfile and 10 MB of
# random bytes.
ctx="$work/ctx"
mkdir -p "$ctx"
head -c $((10 << 20)) /dev/urandom >"$ctx/big.bin"
cat >"$ctx/Dockerfile" <<'EOF'
FROM busybox AS tools
RUN echo tool > /tool
FROM busybox
COPY big.bin /big.bin
RUN wc -c /big.bin > /size
COPY --from=tools /tool /tool
CMD ["cat", "/size"]
EOF

# The floor of a cached rebuild through the legacy API: the same docker
# CLI sending the same context to a server that only reads the body
# (and, second, also hashes it with SHA-256) and answers with an image ID.
mkdir -p "$work/drain"
cat >"$work/drain/main.go" <<'EOF'
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	l, err := net.Listen("unix", os.Args[1])
	if err != nil {
		panic(err)
	}
	hash := len(os.Args) > 2
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		if r.URL.Path == "/_ping" {
			w.Write([]byte("OK"))
			return
		}
		var dst io.Writer = io.Discard
		if hash {
			dst = sha256.New()
		}
		n, _ := io.Copy(dst, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"stream\":\"read %d bytes\\n\"}\n{\"aux\":{\"ID\":\"sha256:%064d\"}}\n", n, 0)
	}))
}
EOF
(cd "$work/drain" && printf 'module drain\ngo 1.22\n' >go.mod && go build -o drain .)
drain_pid=""

wait_sock() {
	for _ in $(seq 300); do $docker -H "unix://$1" version >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "build.sh: daemon on $1 did not come up" >&2; exit 1
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f\n", (b-a)*1000}'; }

# once NAME SOCK CLI ENV ARGS...: runs one build of the CLI against the
# daemon on SOCK and prints its wall time in ms; a failed build stops the
# benchmark, and a "cached" build of berth (either CLI) or dockerd's legacy
# builder must show every step from the cache.
once() {
	local name=$1 sock=$2 cli=$3 env=$4 t0
	shift 4
	t0=$EPOCHREALTIME
	if ! env $env "$cli" -H "unix://$sock" "$@" >"$work/out-$name.log" 2>&1; then
		echo "build.sh: $name: $cli $* failed:" >&2
		cat "$work/out-$name.log" >&2
		exit 1
	fi
	ms "$t0" "$EPOCHREALTIME"
}

mkdir -p "$work/berth-data" "$work/berth-exec"
"$work/berth" daemon --data-root "$work/berth-data" --exec-root "$work/berth-exec" --bridge none \
	-H "unix://$work/berth.sock" --pidfile "$work/berth.pid" >"$work/berth.log" 2>&1 &
berth_pid=$!
wait_sock "$work/berth.sock"
$docker -H "unix://$work/berth.sock" load -q -i "$work/busybox.tar" >/dev/null

if [ $peer = 1 ]; then
	mkdir -p "$work/docker-data" "$work/docker-exec"
	dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" -H "unix://$work/docker.sock" \
		--pidfile "$work/docker.pid" --bridge=none --iptables=false --ip6tables=false \
		>"$work/dockerd.log" 2>&1 &
	docker_pid=$!
	wait_sock "$work/docker.sock"
	$docker -H "unix://$work/docker.sock" load -q -i "$work/busybox.tar" >/dev/null
fi

# The targets, "name sock cli env": the same docker CLI against Berth and
# dockerd's legacy builder, Berth's own CLI, BuildKit through Debian's
# 20.10 CLI; the floor servers take part in the cached rounds only.
targets=("berth $work/berth.sock $docker DOCKER_BUILDKIT=0" "berth-cli $work/berth.sock $work/berth DOCKER_BUILDKIT=0")
if [ $peer = 1 ]; then
	targets+=("legacy $work/docker.sock $docker DOCKER_BUILDKIT=0")
	if [ -x $bkdocker ]; then
		targets+=("buildkit $work/docker.sock $bkdocker DOCKER_BUILDKIT=1")
	fi
fi
"$work/drain/drain" "$work/drain.sock" &
drain_pid=$!
"$work/drain/drain" "$work/drain-hash.sock" hash &
drain_pid="$drain_pid $!"
wait_sock "$work/drain.sock"
wait_sock "$work/drain-hash.sock"
floors=("floor $work/drain.sock $docker DOCKER_BUILDKIT=0" "floor-hash $work/drain-hash.sock $docker DOCKER_BUILDKIT=0")

echo "$(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $runs rounds; times are medians in ms"
mkdir -p "$work/times"
# Prime each cache once.
for t in "${targets[@]}"; do
	read -r name sock cli env <<<"$t"
	once "$name" "$sock" "$cli" "$env" build --network none -t "bench-$name:cached" "$ctx" >/dev/null
done
# Rounds interleave the targets, so the load of a shared machine falls on
# all of them alike; the ratios are medians of each round's ratio.
for _ in $(seq "$runs"); do
	for t in "${targets[@]}"; do
		read -r name sock cli env <<<"$t"
		once "$name" "$sock" "$cli" "$env" build --network none --no-cache -t "bench-$name:cold" "$ctx" >>"$work/times/$name.cold"
	done
	for t in "${targets[@]}" "${floors[@]}"; do
		read -r name sock cli env <<<"$t"
		once "$name" "$sock" "$cli" "$env" build --network none -t "bench-$name:cached" "$ctx" >>"$work/times/$name.cached"
		if [ "$name" = berth ] || [ "$name" = berth-cli ] || [ "$name" = legacy ]; then
			if [ "$(grep -c 'Using cache' "$work/out-$name.log")" -lt 4 ]; then
				echo "build.sh: $name's rebuild was not fully cached:" >&2
				cat "$work/out-$name.log" >&2
				exit 1
			fi
		fi
	done
done
med() { median <"$work/times/$1"; }
ratio() { paste "$work/times/$1" "$work/times/$2" | awk '{print $1/$2}' | median; }
label() {
	case $1 in
	berth) echo "berth (docker CLI 28)" ;; berth-cli) echo "berth (berth CLI)" ;;
	legacy) echo "dockerd 20.10 legacy" ;; buildkit) echo "dockerd 20.10 BuildKit" ;;
	esac
}
for t in "${targets[@]}"; do
	read -r name _ <<<"$t"
	printf '%-28s cold %7.1f ms | cached %6.1f ms\n' "$(label "$name")" "$(med "$name.cold")" "$(med "$name.cached")"
done
printf 'floor of a cached rebuild: the docker CLI sends the context to a server that only reads it %.1f ms, reads and SHA-256s it %.1f ms\n' \
	"$(med floor.cached)" "$(med floor-hash.cached)"
if [ $peer = 1 ]; then
	printf 'berth/legacy:   cold %.2fx (target <= 0.33) | cached %.2fx (target <= 0.20)   docker CLI\n' \
		"$(ratio berth.cold legacy.cold)" "$(ratio berth.cached legacy.cached)"
	printf 'berth/legacy:   cold %.2fx (target <= 0.33) | cached %.2fx (target <= 0.20)   berth CLI\n' \
		"$(ratio berth-cli.cold legacy.cold)" "$(ratio berth-cli.cached legacy.cached)"
	if [ -x $bkdocker ]; then
		printf 'berth/BuildKit: cold %.2fx (target < 1) | cached %.2fx (target < 1)   docker CLI\n' \
			"$(ratio berth.cold buildkit.cold)" "$(ratio berth.cached buildkit.cached)"
		printf 'berth/BuildKit: cold %.2fx (target < 1) | cached %.2fx (target < 1)   berth CLI\n' \
			"$(ratio berth-cli.cold buildkit.cold)" "$(ratio berth-cli.cached buildkit.cached)"
	else
		echo "BuildKit: skipped ($bkdocker, Debian's 20.10 CLI with its BuildKit client, is missing)"
	fi
fi
