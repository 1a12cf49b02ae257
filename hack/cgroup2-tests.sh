#!/usr/bin/env bash
# cgroup2-tests.sh runs Berth's cgroup v2 tests in the cgroup v2 VM
# (hack/cgroup2-vm.sh), in one boot:
#   - the VM smoke test, test/cgroup2 (always);
#   - the cgroup package's tests, ./internal/runtime/cgroups, when that
#     package exists and has tests, with -test.run 'Cgroup2|V2';
#   - the runtime's cgroup cases of ./test/integration (limits seen inside
#     the container, OOM kill, pids limit, update, pause/resume, stats, the
#     cgroup namespace's view), run by a static berth built for the guest.
# Each is compiled on the host with `go test -c` (CGO_ENABLED=0: the guest
# has no libc) and run with -test.v. The script exits non-zero if any
# compile or any test binary fails, or if the tests leave cgroups or mounts
# behind in the guest, and prints a summary line per binary.
#
# Usage:
#   hack/cgroup2-tests.sh [--timeout SECONDS] [--run REGEXP]
#                         [--file HOST[:GUEST]]... [--env NAME=VALUE]...
#                         [PKG[:RUN]]...
#
# With PKG arguments only those packages run (./-relative import paths; an
# optional :RUN overrides the -test.run pattern for that package, default
# '.'). --run sets the pattern for the cgroups package (default
# 'Cgroup2|V2'). --timeout (default 300) bounds the whole VM run; each test
# binary gets an equal share of it, less 30 s, as -test.timeout, so a hung
# test panics with every goroutine's stack before the VM is killed. --file
# passes extra files to the VM (for instance a berth binary or a busybox
# rootfs the tests need; see hack/cgroup2-vm.sh); test binaries run in /work,
# where those files land by default. --env sets a variable for the tests
# (for instance the path of such a file).
set -euo pipefail

prog=cgroup2-tests
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
export PATH=$PATH:/usr/local/go/bin

timeout_s=300
run_cgroups='Cgroup2|V2'
pkgs=()
files=()
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout_s=$2; shift 2 ;;
	--run) run_cgroups=$2; shift 2 ;;
	--file) files+=(--file "$2"); shift 2 ;;
	--env) files+=(--env "$2"); shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	-*) echo "$prog: unknown option $1" >&2; exit 2 ;;
	*) pkgs+=("$1"); shift ;;
	esac
done

cd "$repo"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/berth-cgroup2-tests.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The runtime's own cgroup cases of the integration suite, run by berth in
# the guest: limits seen inside, OOM kill, pids limit, update, pause,
# stats, and the cgroup namespace's view.
run_runtime='TestRuntimeParity/(CgroupLimitsVisible|MemoryLimitOOMKill|PidsLimit|ExitCode|Identity)$|TestRuntimeLifecycle/(PauseResume|UpdateLimits|EventsStats|PsJSON|TightPidsLimit)$'

if [ ${#pkgs[@]} -eq 0 ]; then
	pkgs=("./test/cgroup2:.")
	if ls internal/runtime/cgroups/*_test.go >/dev/null 2>&1; then
		pkgs+=("./internal/runtime/cgroups:$run_cgroups")
	else
		echo "$prog: ./internal/runtime/cgroups has no tests yet; running the VM smoke test only" >&2
	fi
	echo "$prog: building berth and the runtimetest checker for the guest" >&2
	"$repo/hack/build.sh" "$tmp/berth"
	CGO_ENABLED=0 go build -o "$tmp/runtimetest" ./test/runtimetest
	files+=(--file "$tmp/berth:/work/berth" --file "$tmp/runtimetest:/work/runtimetest"
		--env BERTH_TEST_BINARY=/work/berth --env BERTH_TEST_CHECKER=/work/runtimetest
		--env BERTH_TEST_RUNTIMES=berth)
	pkgs+=("./test/integration:$run_runtime")
fi

case $timeout_s in '' | *[!0-9]*) echo "$prog: --timeout $timeout_s: not a number" >&2; exit 2 ;; esac
test_timeout=$(((timeout_s - 30) / ${#pkgs[@]}))
[ "$test_timeout" -ge 10 ] || { echo "$prog: --timeout $timeout_s is too short for ${#pkgs[@]} test binaries" >&2; exit 2; }
vm_args=(--timing --timeout "$timeout_s" ${files[@]+"${files[@]}"})
guest_script='rc=0
mounts0=$(cat /proc/mounts)'
for spec in "${pkgs[@]}"; do
	pkg=${spec%%:*}
	if [ "$pkg" = "$spec" ]; then run=.; else run=${spec#*:}; fi
	name=$(echo "${pkg#./}" | tr / _).test
	echo "$prog: compiling $pkg" >&2
	CGO_ENABLED=0 go test -c -o "$tmp/$name" "$pkg"
	[ -f "$tmp/$name" ] || { echo "$prog: $pkg: go test -c made no binary (no tests?)" >&2; exit 1; }
	vm_args+=(--file "$tmp/$name")
	q=$(printf '%s' "$run" | sed "s/'/'\\\\''/g")
	guest_script+="
echo '=== $name -test.run $q'
if ./$name -test.v -test.count=1 -test.timeout ${test_timeout}s -test.run '$q'; then s=ok; else s=FAIL; rc=1; fi
summary=\"\$summary
\$s $name\""
done
guest_script+='
left=$(find /sys/fs/cgroup -mindepth 1 -type d)
if [ -n "$left" ]; then summary="$summary
FAIL leftover cgroups: $(echo $left)"; rc=1; fi
if [ "$(cat /proc/mounts)" != "$mounts0" ]; then summary="$summary
FAIL leftover mounts: $(cat /proc/mounts | grep -vxF "$mounts0" | cut -d" " -f2 | tr "\n" " ")"; rc=1; fi
echo "=== summary:$summary"
exit $rc'

set +e
"$here/cgroup2-vm.sh" "${vm_args[@]}" -- sh -c "$guest_script"
exit $?
