#!/bin/bash
# engine.sh measures Berth's daemon against Debian's docker.io (dockerd
# 20.10 + containerd + runc) with the same docker CLI, in one run:
#
#   - `run --rm --network none busybox true` latency (median of N runs,
#     the two daemons in turn so both see the same load)
#   - 50 detached `sleep` containers: total time, and the memory added per
#     running container (the growth of the shims' and the daemons' RSS and
#     PSS, divided by 50; berth's spare shim is there before as after)
#   - idle daemon RSS (berth daemon; dockerd plus containerd)
#   - `ps -a` latency with the 50 containers
#
# Usage: bench/engine.sh [--runs N] [--containers N] [--no-peer]
#
# Each daemon gets its own socket, data root and exec root in a temporary
# directory; berth runs with --bridge none and dockerd with --bridge=none
# --iptables=false --ip6tables=false, so neither touches the host's
# network set-up. The last lines are the ratios berth/dockerd. busybox:latest comes from hack/mkimage-busybox.sh
# through skopeo (docker-archive) and `docker load`. Must run as root.
# Everything it makes is removed at exit.
set -euo pipefail

runs=20
n=50
peer=1
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs="$2"; shift 2 ;;
	--containers) n="$2"; shift 2 ;;
	--no-peer) peer=0; shift ;;
	*) echo "usage: $0 [--runs N] [--containers N] [--no-peer]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "engine.sh: must run as root" >&2; exit 1; }
export PATH=$PATH:/usr/local/go/bin
docker=/usr/local/bin/docker
[ -x $docker ] || { echo "engine.sh: the docker CLI is missing at $docker" >&2; exit 1; }
command -v skopeo >/dev/null || { echo "engine.sh: skopeo not found (hack/install-deps.sh)" >&2; exit 1; }
if [ $peer = 1 ] && ! command -v dockerd >/dev/null; then
	echo "engine.sh: dockerd not found (Debian's docker.io): peer skipped" >&2
	peer=0
fi
cd "$(dirname "$0")/.."

work=$(mktemp -d /var/tmp/berth-engine-bench.XXXXXX)
berth_pid="" docker_pid=""
cleanup() {
	set +e
	for h in berth docker; do
		[ -S "$work/$h.sock" ] || continue
		ids=$($docker -H "unix://$work/$h.sock" ps -aq 2>/dev/null || true)
		[ -z "$ids" ] || $docker -H "unix://$work/$h.sock" rm -f $ids >/dev/null 2>&1 || true
	done
	for p in $berth_pid $docker_pid; do kill "$p" 2>/dev/null || true; done
	for p in $berth_pid $docker_pid; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	{ grep " $work/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

hack/build.sh "$work/berth"
sh hack/mkimage-busybox.sh "$work/busybox-oci" >/dev/null
skopeo copy -q "oci:$work/busybox-oci:latest" "docker-archive:$work/busybox.tar:busybox:latest" >/dev/null

wait_sock() {
	for _ in $(seq 300); do $docker -H "unix://$1" version >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "engine.sh: daemon on $1 did not come up" >&2; exit 1
}
rss_kb() { awk '/^Rss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f\n", (b-a)*1000}'; }

# daemon_pids NAME: the daemon's own processes (berth: the daemon; docker:
# dockerd and its containerd).
daemon_pids() {
	if [ "$1" = berth ]; then echo "$berth_pid"; else echo "$docker_pid $(pgrep -f "containerd --config $work/docker-exec" || true)"; fi
}
shim_pids() {
	# berth: the daemon's shim children, the spare among them (a shim
	# waiting for the next container, `berth shim -`).
	if [ "$1" = berth ]; then pgrep -P "$berth_pid" -f "^berth(-shim serve| shim) " || true; else pgrep -f "containerd-shim.*$work/docker-exec" || true; fi
}

# prepare NAME: busybox loaded, caches warm; idle daemon RSS recorded.
prepare() {
	local h=$1 D="$docker -H unix://$work/$1.sock"
	$D load -q -i "$work/busybox.tar" >/dev/null
	$D run --rm --network none busybox true >/dev/null # warm caches
}

# run_latency: `run --rm` timed on each daemon in turn, so both see the
# same load; medians into res_run.
run_latency() {
	local -A times
	local h t0
	for _ in $(seq "$runs"); do
		for h in "${hosts[@]}"; do
			t0=$EPOCHREALTIME
			$docker -H "unix://$work/$h.sock" run --rm --network none busybox true >/dev/null
			times[$h]+="$(ms "$t0" "$EPOCHREALTIME") "
		done
	done
	for h in "${hosts[@]}"; do res_run[$h]=$(printf '%s\n' ${times[$h]} | median); done
}

# many NAME: n detached containers (total time, memory they add), ps -a
# with them, then their removal.
many() {
	local h=$1 D="$docker -H unix://$work/$1.sock"
	local d_rss0=0 d_pss0=0 s_rss0=0 s_pss0=0
	sleep 1 # the spare that the last start used is replaced meanwhile
	for p in $(daemon_pids "$h"); do d_rss0=$((d_rss0 + $(rss_kb "$p"))); d_pss0=$((d_pss0 + $(pss_kb "$p"))); done
	# Berth's spare shim, there before as after (one, whatever the
	# number of containers), is not memory the containers add.
	for p in $(shim_pids "$h"); do s_rss0=$((s_rss0 + $(rss_kb "$p"))); s_pss0=$((s_pss0 + $(pss_kb "$p"))); done
	local t0=$EPOCHREALTIME
	for _ in $(seq "$n"); do $D run -d --network none busybox sleep 600 >/dev/null; done
	res_many[$h]=$(ms "$t0" "$EPOCHREALTIME")
	sleep 2
	local s_rss=0 s_pss=0 d_rss1=0 d_pss1=0 shims=0
	for p in $(shim_pids "$h"); do s_rss=$((s_rss + $(rss_kb "$p"))); s_pss=$((s_pss + $(pss_kb "$p"))); shims=$((shims + 1)); done
	for p in $(daemon_pids "$h"); do d_rss1=$((d_rss1 + $(rss_kb "$p"))); d_pss1=$((d_pss1 + $(pss_kb "$p"))); done
	local ps_times=()
	for _ in $(seq 10); do
		t0=$EPOCHREALTIME
		$D ps -a >/dev/null
		ps_times+=("$(ms "$t0" "$EPOCHREALTIME")")
	done
	res_ps[$h]=$(printf '%s\n' "${ps_times[@]}" | median)
	$D rm -f $($D ps -aq) >/dev/null
	res_srss[$h]=$(((s_rss - s_rss0) / n)) res_spss[$h]=$(((s_pss - s_pss0) / n)) res_shims[$h]=$shims
	res_rss[$h]=$(((s_rss - s_rss0 + d_rss1 - d_rss0) / n)) res_pss[$h]=$(((s_pss - s_pss0 + d_pss1 - d_pss0) / n))
}

report() {
	local h=$1
	awk -v h="$h" -v run="${res_run[$h]}" -v many="${res_many[$h]}" -v n="$n" -v shims="${res_shims[$h]}" \
		-v srss="${res_srss[$h]}" -v spss="${res_spss[$h]}" -v rss="${res_rss[$h]}" -v pss="${res_pss[$h]}" \
		-v idle="${res_idle[$h]}" -v ps="${res_ps[$h]}" -v sprss="${res_spare_rss[$h]}" -v sppss="${res_spare_pss[$h]}" 'BEGIN {
		spare = ""
		if (sprss > 0) spare = sprintf(" (spare shim beside it: RSS %.1f PSS %.1f MiB)", sprss/1024, sppss/1024)
		printf "%-7s run --rm %7.1f ms | %d x run -d %6.2f s | per container: shim RSS %5.2f MiB PSS %5.2f MiB, with daemon growth RSS %5.2f MiB PSS %5.2f MiB (%d shims) | idle daemon RSS %6.1f MiB%s | ps -a %6.1f ms\n",
			h, run, n, many/1000, srss/1024, spss/1024, rss/1024, pss/1024, shims, idle/1024, spare, ps
	}'
}

declare -A res_run res_many res_ps res_idle res_rss res_pss res_srss res_spss res_shims res_spare_rss res_spare_pss
hosts=(berth)
mkdir -p "$work/berth-data" "$work/berth-exec"
"$work/berth" daemon --data-root "$work/berth-data" --exec-root "$work/berth-exec" \
	-H "unix://$work/berth.sock" --pidfile "$work/berth.pid" --bridge none >"$work/berth.log" 2>&1 &
berth_pid=$!
wait_sock "$work/berth.sock"
if [ $peer = 1 ]; then
	mkdir -p "$work/docker-data" "$work/docker-exec"
	dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" -H "unix://$work/docker.sock" \
		--pidfile "$work/docker.pid" --bridge=none --iptables=false --ip6tables=false \
		>"$work/dockerd.log" 2>&1 &
	docker_pid=$!
	wait_sock "$work/docker.sock"
	hosts+=(docker)
fi
echo "$(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $runs runs (interleaved), $n containers; times are medians"
for h in "${hosts[@]}"; do prepare "$h"; done
sleep 1
for h in "${hosts[@]}"; do
	res_idle[$h]=0
	for p in $(daemon_pids "$h"); do res_idle[$h]=$((res_idle[$h] + $(rss_kb "$p"))); done
	# No container runs now: a shim is berth's spare, kept for a minute
	# after a start; reported beside the daemon, not in its figure.
	res_spare_rss[$h]=0 res_spare_pss[$h]=0
	for p in $(shim_pids "$h"); do
		res_spare_rss[$h]=$((res_spare_rss[$h] + $(rss_kb "$p"))) res_spare_pss[$h]=$((res_spare_pss[$h] + $(pss_kb "$p")))
	done
done
run_latency
for h in "${hosts[@]}"; do many "$h"; done
for h in "${hosts[@]}"; do report "$h"; done
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"

if [ $peer = 1 ]; then
	awk -v br="${res_run[berth]}" -v dr="${res_run[docker]}" -v bm="${res_many[berth]}" -v dm="${res_many[docker]}" \
		-v bp="${res_ps[berth]}" -v dp="${res_ps[docker]}" -v bi="${res_idle[berth]}" -v di="${res_idle[docker]}" \
		-v brss="${res_rss[berth]}" -v drss="${res_rss[docker]}" -v bpss="${res_pss[berth]}" -v dpss="${res_pss[docker]}" \
		-v n="$n" 'function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
	BEGIN {
		printf "berth/dockerd: run --rm %s (target <= 0.20) | %d x run -d %s | memory per container RSS %s PSS %s (target <= 0.33) | idle daemon RSS %s (berth %.1f MiB, target < 28.6) | ps -a %s\n",
			ratio(br, dr), n, ratio(bm, dm), ratio(brss, drss), ratio(bpss, dpss), ratio(bi, di), bi / 1024, ratio(bp, dp)
	}'
fi
