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
#     at once; and Berth's own CLI against Berth
#
# Times are wall-clock medians of N runs of the whole CLI command, as a
# user sees them; the ratios are Berth's time over the peer's.
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

go build -o "$work/berth" ./cmd/berth
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

# timed NAME CLI ENV ARGS...: prints the median wall time in ms of runs
# of the CLI's build; a failed build stops the benchmark.
timed() {
	local cli=$1 env=$2
	shift 2
	local times=() t0
	for _ in $(seq "$runs"); do
		t0=$EPOCHREALTIME
		if ! env $env "$cli" "$@" >"$work/out.log" 2>&1; then
			echo "build.sh: $cli $* failed:" >&2
			cat "$work/out.log" >&2
			exit 1
		fi
		times+=("$(ms "$t0" "$EPOCHREALTIME")")
	done
	printf '%s\n' "${times[@]}" | median
}

# bench NAME SOCK CLI ENV: cold and cached medians, "cold cached".
bench() {
	local sock=$2 cli=$3 env=$4
	local H="-H unix://$sock"
	local cold cached
	cold=$(timed "$cli" "$env" $H build --network none --no-cache -t bench:cold "$ctx")
	# Prime the cache once, then rebuild with every step a hit.
	env $env "$cli" $H build --network none -t bench:cached "$ctx" >"$work/out.log" 2>&1 || { cat "$work/out.log" >&2; exit 1; }
	cached=$(timed "$cli" "$env" $H build --network none -t bench:cached "$ctx")
	if [ "$env" = DOCKER_BUILDKIT=0 ] && [ "$(grep -c 'Using cache' "$work/out.log")" -lt 4 ]; then
		echo "build.sh: $1's rebuild was not fully cached:" >&2
		cat "$work/out.log" >&2
		exit 1
	fi
	echo "$cold $cached"
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

# floor VAR [hash]: sets VAR to the median of the docker CLI's build
# against the drain server (started and stopped here, in this shell).
floor() {
	local var=$1
	shift
	"$work/drain/drain" "$work/drain.sock" "$@" &
	drain_pid=$!
	wait_sock "$work/drain.sock"
	printf -v "$var" '%s' "$(timed $docker DOCKER_BUILDKIT=0 -H "unix://$work/drain.sock" build --network none -t bench:floor "$ctx")"
	kill "$drain_pid"
	wait "$drain_pid" 2>/dev/null || true
	drain_pid=""
	rm -f "$work/drain.sock"
	[ -n "${!var}" ] || { echo "build.sh: the floor measurement failed" >&2; exit 1; }
}

echo "$(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $runs runs; times are medians in ms"
read -r b_cold b_cached < <(bench berth "$work/berth.sock" $docker DOCKER_BUILDKIT=0)
printf '%-28s cold %7.1f ms | cached %6.1f ms\n' "berth (docker CLI 28)" "$b_cold" "$b_cached"
read -r bb_cold bb_cached < <(bench berth-cli "$work/berth.sock" "$work/berth" DOCKER_BUILDKIT=0)
printf '%-28s cold %7.1f ms | cached %6.1f ms\n' "berth (berth CLI)" "$bb_cold" "$bb_cached"
floor f_read
floor f_hash hash
printf '%-28s %.1f ms; reading and hashing it %.1f ms\n' "floor: the CLI sends the context, the server reads it" "$f_read" "$f_hash"
if [ $peer = 1 ]; then
	read -r l_cold l_cached < <(bench legacy "$work/docker.sock" $docker DOCKER_BUILDKIT=0)
	printf '%-28s cold %7.1f ms | cached %6.1f ms\n' "dockerd 20.10 legacy" "$l_cold" "$l_cached"
	if [ -x $bkdocker ]; then
		read -r k_cold k_cached < <(bench buildkit "$work/docker.sock" $bkdocker DOCKER_BUILDKIT=1)
		printf '%-28s cold %7.1f ms | cached %6.1f ms\n' "dockerd 20.10 BuildKit" "$k_cold" "$k_cached"
	else
		echo "BuildKit: skipped ($bkdocker, Debian's 20.10 CLI with its BuildKit client, is missing)"
	fi
	awk -v bc="$b_cold" -v bh="$b_cached" -v lc="$l_cold" -v lh="$l_cached" 'BEGIN {
		printf "berth/legacy:   cold %.2fx (target <= 0.33) | cached %.2fx (target <= 0.20)\n", bc/lc, bh/lh }'
	if [ -x $bkdocker ]; then
		awk -v bc="$b_cold" -v bh="$b_cached" -v kc="$k_cold" -v kh="$k_cached" 'BEGIN {
			printf "berth/BuildKit: cold %.2fx (target < 1) | cached %.2fx (target < 1)\n", bc/kc, bh/kh }'
	fi
fi
