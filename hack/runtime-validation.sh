#!/bin/bash
# runtime-validation.sh runs the OCI runtime-tools validation suite
# (github.com/opencontainers/runtime-tools, validation/*) against an OCI
# runtime with a runc-compatible command line, and counts its TAP results.
#
# Usage: hack/runtime-validation.sh [--runtime PATH] [--berth PATH]
#            [--filter REGEX] [--timeout SECONDS] [--failures FILE]
#
#   --runtime PATH   runtime binary with runc's command line (runc, crun, ...).
#                    Default: Berth's own runtime, `berth runtime`.
#   --berth PATH     berth binary used when --runtime is not given. Default:
#                    build ./cmd/berth from this checkout into the work dir.
#   --filter REGEX   run only the validation programs whose name matches
#                    (extended regex, e.g. '^linux_cgroups|^hooks').
#   --timeout SECS   time bound for each validation program (default 120).
#   --failures FILE  where to write the per-test failure list (default
#                    $CACHE/results/<runtime>-failures.txt; CACHE is below).
#   --baseline FILE  a failure list from an earlier run (e.g. runc's): after
#                    the summary, list the tests that fail now but not there.
#
# The suite is fetched through the Go module proxy at the pinned pseudo-version
# below and built, once, outside this repository, into
#   ${XDG_CACHE_HOME:-~/.cache}/berth/runtime-validation/<version>/
#     bin/<name>.t          one validation program per validation/<name>
#     runtimetest           static checker the programs copy into each bundle
#     rootfs-amd64.tar.gz   busybox rootfs made from Debian's busybox-static
#     results/<runtime>/    each program's TAP output (.tap) and stderr (.err)
#
# Every runtime call goes through a wrapper that adds `--root <work>/state`, so
# the suite's containers never mix with anyone else's; the bundles go to
# <work>/tmp (TMPDIR). On exit the wrapper force-deletes any container left in
# that state root, removes the suite's cgroups (/cgrouptest, testdir/...,
# and under berth's default parent /berth, where its relative cgroupsPath
# goes) if this run created them, and removes the work dir.
#
# Output: one line per program (passed, failed, skipped, exit status), then
# "N passed, N failed, N skipped". Exit status 0 when nothing failed, 1 when a
# test failed, 2 when the suite could not be prepared. Must run as root.
set -euo pipefail

RT_TOOLS_MODULE=github.com/opencontainers/runtime-tools
RT_TOOLS_VERSION=v0.9.1-0.20251114084447-edf4cb3d2116

repo=$(cd "$(dirname "$0")/.." && pwd)
runtime=""
berth=""
filter=""
timeout_s=120
failures=""
baseline=""

die() {
	echo "runtime-validation: $*" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--runtime) runtime=${2:?--runtime needs a path}; shift 2 ;;
	--runtime=*) runtime=${1#*=}; shift ;;
	--berth) berth=${2:?--berth needs a path}; shift 2 ;;
	--berth=*) berth=${1#*=}; shift ;;
	--filter) filter=${2:?--filter needs a regex}; shift 2 ;;
	--filter=*) filter=${1#*=}; shift ;;
	--timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
	--timeout=*) timeout_s=${1#*=}; shift ;;
	--failures) failures=${2:?--failures needs a file}; shift 2 ;;
	--failures=*) failures=${1#*=}; shift ;;
	--baseline) baseline=${2:?--baseline needs a file}; shift 2 ;;
	--baseline=*) baseline=${1#*=}; shift ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

[ "$(id -u)" = 0 ] || die "must run as root (the suite creates namespaces, mounts and cgroups)"
case "$timeout_s" in '' | *[!0-9]*) die "--timeout: $timeout_s is not a number of seconds" ;; esac
[ -z "$baseline" ] || [ -r "$baseline" ] || die "--baseline $baseline: not a readable file"
# Read it now: with the default paths it may be the file this run rewrites.
baseline_keys=""
[ -z "$baseline" ] || baseline_keys=$(sed 's/ - .*//' "$baseline" | sort -u)
export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || die "go not found (looked in PATH and /usr/local/go/bin)"

cache=${XDG_CACHE_HOME:-$HOME/.cache}/berth/runtime-validation/$RT_TOOLS_VERSION
mkdir -p "$cache"

# One run at a time: runs share the cache and the suite's fixed cgroup names.
exec {lock_fd}>"$cache/lock"
if ! flock -n "$lock_fd"; then
	echo "runtime-validation: another run holds $cache/lock; waiting" >&2
	flock "$lock_fd"
fi

# ---- build the suite (once per pinned version) -----------------------------

build_suite() {
	local dir tmp name
	echo "runtime-validation: building $RT_TOOLS_MODULE@$RT_TOOLS_VERSION into $cache" >&2
	dir=$(go mod download -json "$RT_TOOLS_MODULE@$RT_TOOLS_VERSION" | jq -r '.Dir // empty')
	[ -n "$dir" ] && [ -d "$dir" ] || die "go mod download $RT_TOOLS_MODULE@$RT_TOOLS_VERSION: no module directory"
	tmp=$(mktemp -d "$cache/bin.XXXXXX")
	# The module zip carries no vendor tree, so build in module mode; the
	# module cache is read-only, which is fine because -o points outside it.
	(
		cd "$dir"
		CGO_ENABLED=0 go build -mod=mod -tags "netgo osusergo" -o "$tmp/runtimetest" ./cmd/runtimetest
		for d in validation/*/; do
			name=$(basename "$d")
			[ "$name" = util ] && continue
			[ -f "$d/$name.go" ] || continue
			go build -mod=mod -o "$tmp/$name.t" "./$d"
		done
	) || { rm -rf "$tmp"; die "building the validation programs failed"; }
	mv "$tmp/runtimetest" "$cache/runtimetest"
	rm -rf "$cache/bin"
	mv "$tmp" "$cache/bin"
	echo "$RT_TOOLS_VERSION" >"$cache/.built"
}

# build_rootfs makes the busybox rootfs the suite untars into every bundle,
# from Debian's busybox-static (the dynamic busybox package would not run in
# an empty root).
build_rootfs() {
	local bb stage applet
	bb=$(command -v busybox || true)
	[ -n "$bb" ] || die "busybox not found: install busybox-static (hack/install-deps.sh)"
	case "$(file -L "$bb")" in
	*"statically linked"*) ;;
	*) die "$bb is not statically linked: install busybox-static" ;;
	esac
	stage=$(mktemp -d "$cache/rootfs.XXXXXX")
	# The tar's "./" entry becomes the bundle (root.path is "."), so it must
	# be traversable by the non-root users some tests run as.
	chmod 755 "$stage"
	mkdir -p "$stage"/{bin,dev,proc,sys,etc,tmp,root}
	chmod 1777 "$stage/tmp"
	cp "$bb" "$stage/bin/busybox"
	for applet in $("$bb" --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$stage/bin/$applet"
	done
	cat >"$stage/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		daemon:x:1:1:daemon:/usr/sbin:/bin/false
		bin:x:2:2:bin:/bin:/bin/false
		nobody:x:65534:65534:nobody:/nonexistent:/bin/false
	EOF
	cat >"$stage/etc/group" <<-'EOF'
		root:x:0:
		daemon:x:1:
		bin:x:2:
		tty:x:5:
		uucp:x:10:
		nogroup:x:65534:
	EOF
	tar -C "$stage" --numeric-owner --owner=0 --group=0 -czf "$cache/rootfs-amd64.tar.gz.new" .
	mv "$cache/rootfs-amd64.tar.gz.new" "$cache/rootfs-amd64.tar.gz"
	rm -rf "$stage"
}

[ "$(cat "$cache/.built" 2>/dev/null)" = "$RT_TOOLS_VERSION" ] && [ -x "$cache/runtimetest" ] || build_suite
[ -s "$cache/rootfs-amd64.tar.gz" ] || build_rootfs

# ---- work dir, runtime wrapper, cleanup --------------------------------------

work=$(mktemp -d /tmp/berth-rtv.XXXXXX)
state=$work/state
mkdir -p "$state" "$work/tmp" "$work/run"
# Bundles live under $work/tmp; containers with a user namespace or a
# non-root user must be able to traverse to them, as they could in /tmp.
chmod 755 "$work" "$work/tmp"

# The suite's fixed cgroup names; removed at exit only if this run made them.
# Its relative cgroupsPath ("testdir/cgrouptest") is relative to the
# runtime's place in the hierarchy: berth's is under its default parent,
# /berth.
cg_names="cgrouptest testdir berth/cgrouptest berth/testdir"
cg_preexisting=""
for c in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
	for n in $cg_names; do
		[ -e "$c$n" ] && cg_preexisting="$cg_preexisting $c$n"
	done
done

if [ -n "$runtime" ]; then
	rt=$(command -v "$runtime") || die "--runtime $runtime: not found"
	rt_label=$(basename "$rt")
	if [ "$rt_label" = crun ] && mountpoint -q /sys/fs/cgroup/unified; then
		# crun refuses the hybrid cgroup layout; give each call a private
		# mount namespace without the cgroup2 mount (the v1 hierarchies stay).
		printf '#!/bin/sh\nexec unshare --mount --propagation private sh -c '\''umount /sys/fs/cgroup/unified && exec "$0" "$@"'\'' %q --root %q "$@"\n' \
			"$rt" "$state" >"$work/runtime"
	else
		printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$rt" "$state" >"$work/runtime"
	fi
else
	if [ -z "$berth" ]; then
		berth=$work/berth
		"$repo/hack/build.sh" "$berth" || die "hack/build.sh failed"
	fi
	berth=$(cd "$(dirname "$berth")" && pwd)/$(basename "$berth")
	[ -x "$berth" ] || die "--berth $berth: not an executable"
	rt_label=berth
	printf '#!/bin/sh\nexec %q runtime --root %q "$@"\n' "$berth" "$state" >"$work/runtime"
fi
chmod 755 "$work/runtime"

cleanup() {
	local id c n pid
	set +e
	for id in $(ls "$state" 2>/dev/null); do
		[ -d "$state/$id" ] || continue
		echo "runtime-validation: removing leftover container $id" >&2
		pid=$(timeout 20 "$work/runtime" state "$id" 2>/dev/null | jq -r '.pid // 0' 2>/dev/null)
		timeout 20 "$work/runtime" delete --force "$id" >/dev/null 2>&1
		# A runtime that cannot delete must not leave the container's
		# init running behind this run.
		if [ "${pid:-0}" -gt 0 ] 2>/dev/null && kill -0 "$pid" 2>/dev/null; then
			echo "runtime-validation: delete --force left pid $pid of $id running; killing it" >&2
			kill -KILL "$pid"
		fi
	done
	# Remove the suite's cgroups, deepest first; rmdir refuses a cgroup with
	# processes, so nothing running is touched.
	for c in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		for n in $cg_names; do
			case " $cg_preexisting " in *" $c$n "*) continue ;; esac
			[ -d "$c$n" ] || continue
			find "$c$n" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$c$n" ] && echo "runtime-validation: could not remove cgroup $c$n" >&2
		done
	done
	# Mounts a failed runtime may have left under the work dir.
	awk -v w="$work" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- run ---------------------------------------------------------------------

cp "$cache/runtimetest" "$cache/rootfs-amd64.tar.gz" "$work/run/"
results=$cache/results/$rt_label
rm -rf "$results"
mkdir -p "$results"
[ -n "$failures" ] || failures=$cache/results/$rt_label-failures.txt
mkdir -p "$(dirname "$failures")"
: >"$failures"

echo "runtime-validation: $RT_TOOLS_MODULE@$RT_TOOLS_VERSION against $rt_label: $(sed -n 2p "$work/runtime" | cut -c6-)" >&2
total_pass=0 total_fail=0 total_skip=0 programs=0
printf '%-40s %6s %6s %6s  %s\n' program passed failed skipped status
for prog in "$cache"/bin/*.t; do
	name=$(basename "$prog" .t)
	if [ -n "$filter" ] && ! [[ $name =~ $filter ]]; then
		continue
	fi
	programs=$((programs + 1))
	rc=0
	(cd "$work/run" && TMPDIR=$work/tmp RUNTIME=$work/runtime \
		timeout --kill-after=10 "$timeout_s" "$prog") \
		>"$results/$name.tap" 2>"$results/$name.err" </dev/null {lock_fd}>&- || rc=$?
	# Count only top-level TAP lines; nested output sits in indented YAML.
	read -r p f s < <(awk '
		/^ok / { if (tolower($0) ~ /# skip/) s++; else p++ }
		/^not ok / { f++ }
		END { printf "%d %d %d\n", p, f, s }' "$results/$name.tap")
	awk -v n="$name" '/^not ok / { print n ": " $0 }' "$results/$name.tap" >>"$failures"
	status=ok
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		status="timeout after ${timeout_s}s"
	elif [ "$rc" != 0 ]; then
		status="exit $rc"
	fi
	# A program that stopped without reporting a failure still failed: count
	# it once, with the runtime's error (the last line of its stderr that is
	# not the bare "exit status N" or a spec reference).
	if [ "$status" != ok ] && [ "$f" = 0 ]; then
		f=1
		why=$(awk 'NF && !/^exit status [0-9]+$/ && !/^Refer to: / { l = $0 } END { print l }' "$results/$name.err")
		echo "$name: not ok - program $status: ${why:-(it printed no error)}" >>"$failures"
	fi
	# The hook programs print no test line (plan 1..0): a failed check shows
	# only as an "error" diagnostic. Count such a program once as failed,
	# with that error; one that exited 0 without an error is shown as
	# "ok (no test line)" but not counted, as TAP counts nothing there.
	if [ $((p + f + s)) = 0 ]; then
		err=$(sed -n 's/^  *"error": "\(.*\)",\{0,1\}$/\1/p; T; q' "$results/$name.tap")
		if [ -n "$err" ]; then
			f=1
			status="error without a test line"
			echo "$name: not ok - ${err%%\\n*}" >>"$failures"
		elif [ "$status" = ok ] && [ ! -s "$results/$name.tap" ] && [[ $name != *_fail ]]; then
			# Programs that run runtimetest print its TAP; nothing at all
			# means the container's output never came back. (The *_fail
			# programs print nothing when the runtime rightly refused.)
			f=1
			status="no output"
			echo "$name: not ok - printed no TAP: runtimetest's output from the container is missing" >>"$failures"
		elif [ "$status" = ok ]; then
			status="ok (no test line)"
		fi
	fi
	printf '%-40s %6d %6d %6d  %s\n' "$name" "$p" "$f" "$s" "$status"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
done

[ "$programs" -gt 0 ] || die "no validation program matches --filter $filter"
echo "runtime-validation: $programs programs; TAP and stderr in $results; failures listed in $failures" >&2
if [ -n "$baseline" ]; then
	# A failure's key is "<program>: not ok [N]", the part before " - ".
	new=$(sed 's/ - .*//' "$failures" | sort -u | grep -vxFf <(printf '%s\n' "$baseline_keys") || true)
	n=0
	[ -z "$new" ] || n=$(printf '%s\n' "$new" | wc -l)
	echo "runtime-validation: $n failing here but not in $baseline" >&2
	[ -z "$new" ] || printf '%s\n' "$new" | sed 's/^/  /' >&2
fi
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ]
