#!/bin/bash
# runtime.sh times one container lifecycle (`<runtime> --root R run --bundle B
# ID`: create, start, wait, delete, with a fresh ID each time) for Berth's
# runtime, runc and crun in one run, interleaved, plus the floor of a bare
# `unshare --pid --fork --mount --uts --ipc --net true`.
#
# Usage: bench/runtime.sh [--count N] [--timeout SECS] [--berth PATH]
#                         [--also NAME=PATH]...
#
#   --count N      iterations per runtime (default 50)
#   --timeout SECS a run still going after SECS is killed and its runtime
#                  reported failed (default 30)
#   --berth PATH   berth binary (default: build ./cmd/berth from this checkout
#                  into the work dir)
#   --also NAME=PATH  another berth binary (an older build, a prototype) timed
#                  as NAME in the same interleaved rounds; repeatable. NAME is
#                  lower-case letters, digits, - and _.
#
# The bundle is a busybox-static rootfs with the default `runc spec` config,
# changed only to process.terminal=false, process.args=["true"] and
# linux.cgroupsPath=/berth-bench-<pid>/ctr (one bench parent cgroup, removed at
# exit). Berth and runc run on the machine's cgroup layout as it is. crun 1.8
# refuses the hybrid layout ("cgroups in hybrid mode not supported"), so its
# runs happen in a helper inside `unshare --mount --propagation private` that
# first unmounts /sys/fs/cgroup/unified; the helper times each run itself, so
# the unshare is not in crun's figures. Times come from bash's $EPOCHREALTIME
# around each command (no extra process per sample), every runtime's run
# started and waited for the same way (in the background, its pid written
# for the watchdog).
#
# Before timing, each runtime must run a bundle whose process exits 7 and
# exit 7 itself, so a runtime that returns without running the process is not
# timed. Output: min/median/max in ms per runtime and each median's ratio to
# crun's; a berth row's note says how much of that binary's code and
# read-only data its processes map in 2 MB pages (its page cache's folios:
# hack/build.sh writes the binary so; a plain cp does not; see
# docs/runtime.md, "The binary's page cache"). A runtime that fails that check or any run is reported as
# "<name>: failed (<reason>)", and the others are still measured. Must run as
# root. Everything it creates (work dir, bundles, state roots, containers,
# cgroups, the crun helper) is removed on exit.
set -euo pipefail
export LC_ALL=C

count=50
run_timeout=30
berth=""
also_names=()
declare -A also_bin=()
repo=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "bench/runtime: $*" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--count) count=${2:?--count needs a number}; shift 2 ;;
	--count=*) count=${1#*=}; shift ;;
	--timeout) run_timeout=${2:?--timeout needs seconds}; shift 2 ;;
	--timeout=*) run_timeout=${1#*=}; shift ;;
	--berth) berth=${2:?--berth needs a path}; shift 2 ;;
	--berth=*) berth=${1#*=}; shift ;;
	--also | --also=*)
		if [ "$1" = --also ]; then v=${2:?--also needs NAME=PATH}; shift 2; else v=${1#*=}; shift; fi
		n=${v%%=*} b=${v#*=}
		[ "$n" != "$v" ] || die "--also $v: want NAME=PATH"
		case "$n" in '' | *[!a-z0-9_-]* | berth | runc | crun | floor) die "--also $v: bad name $n" ;; esac
		[ -x "$b" ] || die "--also $v: $b is not an executable"
		[ -z "${also_bin[$n]:-}" ] || die "--also $v: $n given twice"
		also_names+=("$n")
		also_bin[$n]=$(cd "$(dirname "$b")" && pwd)/$(basename "$b")
		;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
case "$count" in '' | *[!0-9]* | 0) die "--count: $count is not a positive number" ;; esac
case "$run_timeout" in '' | *[!0-9]* | 0) die "--timeout: $run_timeout is not a positive number" ;; esac
[ "$(id -u)" = 0 ] || die "must run as root"
for t in runc crun unshare jq busybox; do
	command -v "$t" >/dev/null || die "$t not found (hack/install-deps.sh installs it)"
done
case "$(file -L "$(command -v busybox)")" in
*"statically linked"*) ;;
*) die "busybox is not statically linked: install busybox-static" ;;
esac
export PATH=$PATH:/usr/local/go/bin

work=$(mktemp -d /tmp/berth-bench.XXXXXX)
cg_parent=berth-bench-$$
crun_pid=""
watchdog_pid=""

# kill_tree PID kills PID and its descendants (only ever processes this
# script started: a hung run or the crun helper).
kill_tree() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		kill_tree "$c"
	done
	kill -KILL "$1" 2>/dev/null || true
}

cleanup() {
	local r id c i wpid
	set +e
	[ -n "$watchdog_pid" ] && kill "$watchdog_pid" 2>/dev/null
	# A run interrupted by a signal is still going: stop it first.
	read -r wpid _ <"$work/watch" 2>/dev/null && [ "${wpid:-0}" -gt 0 ] && kill_tree "$wpid"
	if [ -n "$crun_pid" ]; then
		exec {crun_in}>&- 2>/dev/null
		for i in $(seq 50); do
			kill -0 "$crun_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$crun_pid" 2>/dev/null && kill_tree "$crun_pid"
		wait "$crun_pid" 2>/dev/null
	fi
	for r in berth runc crun "${also_names[@]}"; do
		for id in $(ls "$work/state-$r" 2>/dev/null); do
			[ -d "$work/state-$r/$id" ] || continue
			echo "bench/runtime: removing leftover $r container $id" >&2
			case $r in
			berth) timeout 20 "$berth" runtime --root "$work/state-$r" delete --force "$id" ;;
			runc) timeout 20 runc --root "$work/state-$r" delete --force "$id" ;;
			crun) timeout 20 unshare --mount --propagation private sh -c \
				'umount /sys/fs/cgroup/unified; exec crun --root "$1" delete --force "$2"' sh "$work/state-$r" "$id" ;;
			*) timeout 20 "${also_bin[$r]}" runtime --root "$work/state-$r" delete --force "$id" ;;
			esac
		done
	done >/dev/null 2>&1
	for c in /sys/fs/cgroup/*/"$cg_parent" /sys/fs/cgroup/"$cg_parent"; do
		[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$c" ] && echo "bench/runtime: could not remove cgroup $c" >&2
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- bundle ------------------------------------------------------------------

bundle=$work/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/dev" "$bundle/rootfs/sys"
cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
ln -s busybox "$bundle/rootfs/bin/true"
ln -s busybox "$bundle/rootfs/bin/sh"
(cd "$bundle" && runc spec)
jq --arg cg "/$cg_parent/ctr" \
	'.process.terminal = false | .process.args = ["true"] | .linux.cgroupsPath = $cg' \
	"$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"
mkdir -p "$work/state-berth" "$work/state-runc" "$work/state-crun" "$work/samples"
for n in "${also_names[@]}"; do mkdir -p "$work/state-$n"; done

declare -A failed=()

# first_line and last_line print a file's first or last non-blank line (or
# nothing), and never fail, so they are safe in assignments under set -e.
first_line() { awk 'NF { print; exit }' "$1" 2>/dev/null || true; }
last_line() { awk 'NF { l = $0 } END { print l }' "$1" 2>/dev/null || true; }

# A berth that cannot be built or found is reported as failed; the peers are
# still measured.
if [ -z "$berth" ]; then
	berth=$work/berth
	if ! "$repo/hack/build.sh" "$berth" 2>"$work/berth-build.err"; then
		failed[berth]="hack/build.sh: $(last_line "$work/berth-build.err")"
	fi
elif [ -x "$berth" ]; then
	berth=$(cd "$(dirname "$berth")" && pwd)/$(basename "$berth")
else
	failed[berth]="--berth $berth: not an executable"
fi

# The watchdog kills a run that outlives --timeout. Each timed run tells it
# the run's pid and deadline through a file, so no extra process is started
# per sample.
watch=$work/watch
echo "0 0" >"$watch"

# ---- crun helper in its own mount namespace -----------------------------------

# It reads "<container ID> <bundle>" lines and answers each with
# "<microseconds> <exit code>".
coproc CRUN {
	exec unshare --mount --propagation private bash -c '
		export LC_ALL=C
		umount /sys/fs/cgroup/unified || exit 1
		while read -r id b; do
			# Timed as time_one times the others (started in the
			# background, its pid given to the watchdog, waited for):
			# the same work for bash around each runtime.
			t0=${EPOCHREALTIME/./}
			rc=0
			crun --root "$1" run --bundle "$b" "$id" </dev/null >/dev/null 2>>"$2" &
			pid=$!
			echo "$pid $((t0 / 1000000 + $4))" >"$3"
			wait "$pid" || rc=$?
			t1=${EPOCHREALTIME/./}
			echo "0 0" >"$3"
			echo "$((t1 - t0)) $rc"
		done' crun-bench "$work/state-crun" "$work/crun.err" "$watch" "$run_timeout"
}
crun_pid=$CRUN_PID
crun_in=${CRUN[1]}
crun_out=${CRUN[0]}

# ---- measure -----------------------------------------------------------------

(
	while sleep 1; do
		read -r wpid wdeadline <"$watch" || continue
		if [ "$wpid" -gt 0 ] && [ "$(date +%s)" -ge "$wdeadline" ]; then
			kill_tree "$wpid"
		fi
	done
) &
watchdog_pid=$!

# time_one NAME CMD... runs CMD once and appends its time in µs to NAME's
# samples; a failure marks NAME failed (and keeps its first error).
time_one() {
	local name=$1 t0 t1 pid rc=0
	shift
	t0=${EPOCHREALTIME/./}
	"$@" </dev/null >/dev/null 2>>"$work/$name.err" &
	pid=$!
	echo "$pid $((t0 / 1000000 + run_timeout))" >"$watch"
	wait "$pid" || rc=$?
	t1=${EPOCHREALTIME/./}
	echo "0 0" >"$watch"
	if [ $((t1 - t0)) -ge $((run_timeout * 1000000)) ]; then
		failed[$name]="run of $* did not finish in ${run_timeout}s (killed)"
		return
	fi
	if [ "$rc" != 0 ]; then
		failed[$name]="exit $rc: $(first_line "$work/$name.err")"
		return
	fi
	echo "$((t1 - t0))" >>"$work/samples/$name"
}

# crun_run ID BUNDLE has the helper run one container; it sets us and rc,
# or marks crun failed and returns 1 if the helper does not answer.
crun_run() {
	echo "$1 $2" >&"$crun_in"
	if ! read -r -t "$run_timeout" us rc <&"$crun_out"; then
		if kill -0 "$crun_pid" 2>/dev/null; then
			failed[crun]="crun run did not finish in ${run_timeout}s (killed) $(first_line "$work/crun.err")"
		else
			failed[crun]="the crun helper (unshare, umount /sys/fs/cgroup/unified) exited $(first_line "$work/crun.err")"
		fi
		kill_tree "$crun_pid"
		wait "$crun_pid" 2>/dev/null || true
		crun_pid=""
		return 1
	fi
}

time_crun() {
	local us rc
	crun_run "$1" "$bundle" || return 0
	if [ "$rc" != 0 ]; then
		failed[crun]="exit $rc: $(first_line "$work/crun.err")"
		return
	fi
	echo "$us" >>"$work/samples/crun"
}

# First, each runtime must really run the process: a bundle whose process
# exits 7 must make `run` exit 7.
check=$work/check
mkdir -p "$check"
jq --arg root "$bundle/rootfs" '.root.path = $root | .process.args = ["sh", "-c", "exit 7"]' \
	"$bundle/config.json" >"$check/config.json"
for name in berth "${also_names[@]}" runc; do
	[ -z "${failed[$name]:-}" ] || continue
	rc=0
	case $name in
	berth) timeout -k 5 "$run_timeout" "$berth" runtime --root "$work/state-berth" run --bundle "$check" check-berth ;;
	runc) timeout -k 5 "$run_timeout" runc --root "$work/state-runc" run --bundle "$check" check-runc ;;
	*) timeout -k 5 "$run_timeout" "${also_bin[$name]}" runtime --root "$work/state-$name" run --bundle "$check" "check-$name" ;;
	esac </dev/null >/dev/null 2>>"$work/$name.err" || rc=$?
	[ "$rc" = 7 ] || failed[$name]="run of a process that exits 7 returned $rc: $(first_line "$work/$name.err")"
done
# How much of each berth binary's code and read-only data its processes map
# in 2 MB pages (the binary's page cache holds 2 MB folios when it was
# written in large writes, as hack/build.sh does; see docs/runtime.md, "The
# binary's page cache"): read from a run whose process sleeps a second.
hold=$work/hold
mkdir -p "$hold"
jq --arg root "$bundle/rootfs" '.root.path = $root | .process.args = ["busybox", "sleep", "1"]' \
	"$bundle/config.json" >"$hold/config.json"
declare -A hugemap=()
for name in berth "${also_names[@]}"; do
	[ -z "${failed[$name]:-}" ] || continue
	bin=$berth
	[ "$name" = berth ] || bin=${also_bin[$name]}
	timeout -k 5 "$run_timeout" "$bin" runtime --root "$work/state-$name" run --bundle "$hold" "hold-$name" </dev/null >/dev/null 2>&1 &
	pid=$!
	sleep 0.5
	# timeout's child is the berth process.
	child=$(cat /proc/"$pid"/task/*/children 2>/dev/null | awk '{print $1; exit}')
	hugemap[$name]=$(awk -v bin="$bin" '
		/^[0-9a-f]+-[0-9a-f]+ / { ours = ($6 == bin && $2 !~ /w/) }
		ours && /^Size:/ { size += $2 }
		ours && /^FilePmdMapped:/ { pmd += $2 }
		END { if (size) printf "code+rodata in 2 MB pages: %.1f of %.1f MiB", pmd / 1024, size / 1024 }' \
		"/proc/${child:-0}/smaps" 2>/dev/null || true)
	wait "$pid" 2>/dev/null || true
done

us=0 rc=0
if crun_run check-crun "$check" && [ "$rc" != 7 ]; then
	failed[crun]="run of a process that exits 7 returned $rc: $(first_line "$work/crun.err")"
fi

echo "bench/runtime: $count x run of 'true' per runtime, interleaved; bundle $bundle" >&2
for i in $(seq 1 "$count"); do
	[ -n "${failed[berth]:-}" ] || time_one berth "$berth" runtime --root "$work/state-berth" run --bundle "$bundle" "bench-berth-$i"
	for n in "${also_names[@]}"; do
		[ -n "${failed[$n]:-}" ] || time_one "$n" "${also_bin[$n]}" runtime --root "$work/state-$n" run --bundle "$bundle" "bench-$n-$i"
	done
	[ -n "${failed[runc]:-}" ] || time_one runc runc --root "$work/state-runc" run --bundle "$bundle" "bench-runc-$i"
	[ -n "${failed[crun]:-}" ] || time_crun "bench-crun-$i"
	[ -n "${failed[floor]:-}" ] || time_one floor unshare --pid --fork --mount --uts --ipc --net true
done

# ---- report ------------------------------------------------------------------

# stats NAME prints "min median max" in ms for NAME's samples.
stats() {
	sort -n "$work/samples/$1" | awk '
		{ v[NR] = $1 }
		END {
			med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.2f %.2f %.2f\n", v[1] / 1000, med / 1000, v[NR] / 1000
		}'
}

crun_median=""
if [ -z "${failed[crun]:-}" ] && [ -s "$work/samples/crun" ]; then
	read -r _ crun_median _ < <(stats crun)
fi

echo "kernel $(uname -r), $(nproc) CPUs, load $(cut -d" " -f1-3 /proc/loadavg); runc $(runc --version | awk 'NR==1 {print $3}'), crun $(crun --version | awk 'NR==1 {print $3}')"
printf '%-8s %5s %9s %9s %9s %9s  %s\n' runtime runs min_ms median_ms max_ms vs_crun note
for name in berth "${also_names[@]}" runc crun floor; do
	note=""
	case $name in
	crun) note="private mount ns, /sys/fs/cgroup/unified unmounted" ;;
	floor) note="unshare --pid --fork --mount --uts --ipc --net true" ;;
	runc) ;;
	*) note=${hugemap[$name]:-} ;;
	esac
	if [ -n "${failed[$name]:-}" ]; then
		echo "$name: failed (${failed[$name]})"
		continue
	fi
	read -r mn md mx < <(stats "$name")
	ratio=-
	[ -n "$crun_median" ] && ratio=$(awk -v a="$md" -v b="$crun_median" 'BEGIN { printf "%.2fx", a / b }')
	printf '%-8s %5d %9s %9s %9s %9s  %s\n' "$name" "$(wc -l <"$work/samples/$name")" "$mn" "$md" "$mx" "$ratio" "$note"
done
