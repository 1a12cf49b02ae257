#!/usr/bin/env bash
# cgroup2-vm.sh runs a command inside a throwaway qemu VM whose kernel has a
# pure cgroup v2 hierarchy with controllers (cpuset cpu io memory hugetlb pids),
# which this machine's hybrid cgroup layout cannot offer.
#
# Usage:
#   hack/cgroup2-vm.sh [options] -- COMMAND [ARGS...]
#
# Options:
#   --file HOST[:GUEST]  copy a file or directory into the guest (repeatable).
#                        GUEST defaults to /work/<basename of HOST>; a GUEST
#                        ending in / receives <basename of HOST> inside it.
#                        Dynamically linked ELF files bring their shared
#                        libraries (from ldd) along at the same paths.
#   --timeout SECONDS    kill the VM after this long (default 300); exit 124.
#   --memory MIB         guest RAM (default 512).
#   --cpus N             guest vCPUs (default 2).
#   --module NAME        load one more kernel module (with its dependencies)
#                        before COMMAND runs (repeatable); overlay, veth and
#                        bridge are always loaded.
#   --env NAME=VALUE     set an environment variable for COMMAND (repeatable).
#   --kernel PATH        kernel image (default: newest /boot/vmlinuz-*-cloud-amd64,
#                        or $BERTH_VM_KERNEL); modules come from
#                        /lib/modules/<version>.
#   --keep               keep the temporary directory (initramfs, logs) and
#                        print its path, for debugging.
#   --timing             print a last line on stderr with the initramfs size,
#                        the time to build it, the guest's boot time (guest
#                        clock, until COMMAND starts) and the VM's run time.
#   -v, --verbose        show the kernel's messages on the console (slows the
#                        boot by about a second) and imply --timing.
#
# COMMAND runs as root in /work, in the root cgroup, with
# PATH=/work:/usr/sbin:/usr/bin:/sbin:/bin and TMPDIR=/tmp, under a shell
# that leads a session whose controlling terminal is the guest's ttyS0,
# which qemu connects to this script's stdin and stdout (so
# `hack/cgroup2-vm.sh -- sh` gives an interactive shell; Ctrl-C kills the
# VM). Its output streams as it is written (stdout and stderr merged).
# After COMMAND ends the guest prints
#   BERTH-VM-RESULT: exit=N
# and powers off; the script then exits with N.
#
# Exit status: COMMAND's (also when the guest then fails to power off before
# the timeout, with a warning); 124 if the VM timed out; 125 if the guest ended
# without a result (boot failure, kernel panic: the last kernel messages are
# printed) or the VM could not be prepared; 2 for a usage error. The script's
# own messages go to stderr and start with "cgroup2-vm:".
#
# The guest: Debian's cloud kernel under qemu-system-x86_64 with software
# emulation (TCG; -enable-kvm hangs guests on this machine), no display
# (-display none: -nographic without SeaBIOS's serial console, which would
# write terminal reset codes), no network device (-nic none), no disk.
# Serial ports: ttyS0 = COMMAND's stdio; ttyS1 = status lines ("booted S",
# "exit N") to a file on the host; ttyS2 = kernel console to a log file on
# the host (with --verbose the kernel console is ttyS0).
#
# Boot: the initramfs (uncompressed cpio newc: the payload, then busybox-static
# with every applet linked, the init scripts and the modules; inflating large
# Go binaries under emulation costs more than loading them) is unpacked into
# the kernel's rootfs. Stage 1 (/init) moves everything onto a tmpfs and
# switch_roots there, because pivot_root, which container runtimes need,
# cannot leave an initramfs. Stage 2 (/lib/berth-vm/init) mounts proc, sysfs,
# devtmpfs, devpts, /dev/shm, mqueue, /run, and cgroup2 at /sys/fs/cgroup with
# nsdelegate,memory_recursiveprot (as systemd does), enables +cpuset +cpu +io
# +memory +hugetlb +pids in the root's cgroup.subtree_control, loads the
# modules (resolved on the host with `modinfo -F depends`, decompressed if
# packaged .ko.xz/.zst/.gz: this kernel cannot load compressed ones), brings
# lo up and runs COMMAND. /init, /bin/busybox, /etc/berth-vm and
# /lib/berth-vm are the VM's own: --file must not write there.
#
# Memory: the payload is in guest RAM about twice while booting, and the root
# tmpfs may hold at most half of the RAM, so give --memory more than twice the
# payload plus what COMMAND needs.
#
# Environment: BERTH_VM_KERNEL (as --kernel), BERTH_VM_APPEND (extra kernel
# command line words, for debugging). The script touches nothing of the host
# but its own temporary directory (under $TMPDIR), which it removes on exit.
# See docs/cgroup2-vm.md.
set -euo pipefail

prog=cgroup2-vm
die() {
	echo "$prog: $*" >&2
	exit 125
}
usage() {
	echo "$prog: $* (see --help)" >&2
	exit 2
}

timeout_s=300
memory=512
cpus=2
kernel=${BERTH_VM_KERNEL:-}
keep=0
verbose=0
timing=0
files=()
modules=(overlay veth bridge)
envs=()

while [ $# -gt 0 ]; do
	case $1 in
	--file) [ $# -ge 2 ] || usage "--file needs HOST[:GUEST]"; files+=("$2"); shift 2 ;;
	--file=*) files+=("${1#*=}"); shift ;;
	--timeout) [ $# -ge 2 ] || usage "--timeout needs SECONDS"; timeout_s=$2; shift 2 ;;
	--timeout=*) timeout_s=${1#*=}; shift ;;
	--memory) [ $# -ge 2 ] || usage "--memory needs MIB"; memory=$2; shift 2 ;;
	--memory=*) memory=${1#*=}; shift ;;
	--cpus) [ $# -ge 2 ] || usage "--cpus needs N"; cpus=$2; shift 2 ;;
	--cpus=*) cpus=${1#*=}; shift ;;
	--module) [ $# -ge 2 ] || usage "--module needs NAME"; modules+=("$2"); shift 2 ;;
	--module=*) modules+=("${1#*=}"); shift ;;
	--env) [ $# -ge 2 ] || usage "--env needs NAME=VALUE"; envs+=("$2"); shift 2 ;;
	--env=*) envs+=("${1#*=}"); shift ;;
	--kernel) [ $# -ge 2 ] || usage "--kernel needs PATH"; kernel=$2; shift 2 ;;
	--kernel=*) kernel=${1#*=}; shift ;;
	--keep) keep=1; shift ;;
	--timing) timing=1; shift ;;
	-v | --verbose) verbose=1; timing=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	--) shift; break ;;
	*) usage "unknown option $1 (the command follows --)" ;;
	esac
done
[ $# -gt 0 ] || usage "no command given: hack/cgroup2-vm.sh [options] -- COMMAND [ARGS...]"

for n in "$timeout_s" "$memory" "$cpus"; do
	case $n in '' | *[!0-9]*) usage "not a number: $n" ;; esac
done
[ "$memory" -ge 128 ] || usage "--memory $memory: the guest needs at least 128 MiB"
[ "$cpus" -ge 1 ] || usage "--cpus $cpus: want at least 1"
for e in ${envs[@]+"${envs[@]}"}; do
	case $e in [A-Za-z_]*=*) ;; *) usage "--env $e: want NAME=VALUE" ;; esac
done

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (run hack/install-deps.sh)"
command -v cpio >/dev/null || die "cpio not found (run hack/install-deps.sh)"
busybox=/bin/busybox
[ -x "$busybox" ] && "$busybox" --list >/dev/null 2>&1 || die "$busybox (busybox-static) not found (run hack/install-deps.sh)"
if ldd "$busybox" >/dev/null 2>&1; then die "$busybox is not static: install busybox-static"; fi

if [ -z "$kernel" ]; then
	kernel=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1)
	[ -n "$kernel" ] || die "no /boot/vmlinuz-*-cloud-amd64 (install linux-image-cloud-amd64 with hack/install-deps.sh)"
fi
[ -r "$kernel" ] || die "kernel $kernel: not readable"
kver=${kernel##*/vmlinuz-}
moddir=/lib/modules/$kver
[ -d "$moddir" ] || die "kernel $kernel: no module directory $moddir"

t_start=$(date +%s.%N)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/berth-cgroup2-vm.XXXXXX")
term_state=""
if [ -t 0 ]; then term_state=$(stty -g 2>/dev/null || true); fi
cleanup() {
	if [ -n "$term_state" ]; then stty "$term_state" 2>/dev/null || true; fi
	if [ "$keep" = 1 ]; then
		echo "$prog: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- base archive: busybox, init scripts, modules ---------------------------
base=$tmp/base
mkdir -p "$base"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,etc/berth-vm,lib/berth-vm/modules,root,tmp,run,work}
cp "$busybox" "$base/bin/busybox"
# Link every applet here, cheaper than `busybox --install` under emulation
# (perl, which Debian always has, makes the ~270 links in one process).
"$busybox" --list-full | (cd "$base" && perl -ne 'chomp; symlink("/bin/busybox", $_) or $!{EEXIST} or die "symlink $_: $!\n"') ||
	die "cannot link busybox applets"
mknod "$base/dev/console" c 5 1

# Resolve modules with their dependencies, dependencies first.
declare -A mod_seen=()
mod_order=()
add_module() {
	local name=$1 dep deps
	[ -z "${mod_seen[$name]:-}" ] || return 0
	mod_seen[$name]=1
	local path
	path=$(modinfo -k "$kver" -n "$name" 2>/dev/null) || die "module $name: not found for kernel $kver"
	case $path in
	builtin | "(builtin)" | "") return 0 ;;
	esac
	deps=$(modinfo -k "$kver" -F depends "$name")
	for dep in ${deps//,/ }; do add_module "$dep"; done
	mod_order+=("$path")
}
for m in "${modules[@]}"; do add_module "$m"; done
i=0
for path in ${mod_order[@]+"${mod_order[@]}"}; do
	i=$((i + 1))
	name=${path##*/}
	out=$base/lib/berth-vm/modules/$(printf %02d "$i")-${name%%.ko*}.ko
	# This kernel loads only uncompressed modules (CONFIG_MODULE_COMPRESS_NONE,
	# no in-kernel decompression): decompress here whatever the packaging did.
	case $path in
	*.ko) cp "$path" "$out" ;;
	*.ko.xz) xz -dc "$path" >"$out" ;;
	*.ko.zst) zstd -qdc "$path" >"$out" ;;
	*.ko.gz) gzip -dc "$path" >"$out" ;;
	*) die "module $path: unknown compression" ;;
	esac
done

# COMMAND, shell-quoted, with its environment.
{
	echo 'cd /work || exit 125'
	for e in ${envs[@]+"${envs[@]}"}; do
		printf 'export %s\n' "${e%%=*}=$(printf '%s' "${e#*=}" | sed "s/'/'\\\\''/g; 1s/^/'/; \$s/\$/'/")"
	done
	for a in "$@"; do
		printf "'%s' " "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")"
	done
	printf '\n'
	# This shell leads the session whose controlling terminal is ttyS0; its
	# exit hangs the terminal up, which discards output the UART has not sent
	# yet. So wait until it is sent (stty sets with TCSADRAIN) before exiting.
	echo 'rc=$?'
	echo 'stty "$(stty -g)" 2>/dev/null'
	echo 'exit $rc'
} >"$base/etc/berth-vm/command"

# Stage 1, PID 1 in the initramfs: move everything onto a tmpfs and
# switch_root there, because pivot_root cannot leave an initramfs.
cat >"$base/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /newroot
/bin/busybox mount -t tmpfs -o mode=0755 root /newroot || exec /bin/busybox poweroff -f
set --
for e in /* /.[!.]*; do
	case $e in /newroot | /init | '/.[!.]*') continue ;; esac
	set -- "$@" "$e"
done
# One mv process: each exec is slow under emulation. mv copies and deletes
# entry by entry, so the payload is in RAM at most about twice.
if ! /bin/busybox mv "$@" /newroot/; then
	[ -x /bin/busybox ] && exec /bin/busybox poweroff -f
	exec /newroot/bin/busybox poweroff -f
fi
exec /newroot/bin/busybox switch_root /newroot /lib/berth-vm/init
EOF

# Stage 2, PID 1 on the tmpfs root.
cat >"$base/lib/berth-vm/init" <<'EOF'
#!/bin/sh
export PATH=/work:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp TERM=${TERM:-linux}
fail() {
	echo "berth-vm: $*"
	echo "BERTH-VM-RESULT: exit=125"
	stty "$(stty -g)" 2>/dev/null
	echo "exit 125" >/dev/ttyS1
	poweroff -f
}
mount -t proc proc /proc || fail "mount proc"
read t0 _ </proc/uptime
mount -t sysfs sysfs /sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs /dev || fail "mount devtmpfs"
for w in $(cat /proc/cmdline); do
	case $w in
	berth_vm.onlcr=0) onlcr=0 ;;
	berth_vm.verbose=1) verbose=1 ;;
	esac
done
# COMMAND and this script talk on ttyS0; the kernel's console is ttyS2 (a
# log on the host) unless --verbose made it ttyS0 too. When the host's
# stdout is not a terminal, lines end in \n, not \r\n.
open_tty() {
	exec </dev/ttyS0 >/dev/ttyS0 2>&1
	[ "${onlcr:-}" != 0 ] || stty -onlcr
}
open_tty
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts || fail "mount devpts"
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm || fail "mount /dev/shm"
mount -t mqueue mqueue /dev/mqueue 2>/dev/null
mount -t tmpfs -o mode=0755,nosuid,nodev run /run || fail "mount /run"
chmod 1777 /tmp
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
want="+cpuset +cpu +io +memory +hugetlb +pids"
if ! echo "$want" >/sys/fs/cgroup/cgroup.subtree_control; then
	for c in $want; do
		echo "$c" >/sys/fs/cgroup/cgroup.subtree_control || echo "berth-vm: cannot enable cgroup controller ${c#+}"
	done
fi
for m in /lib/berth-vm/modules/*.ko; do
	[ -e "$m" ] || continue
	insmod "$m" || fail "insmod $m"
done
ln -s /proc/self/fd /dev/fd 2>/dev/null
ln -s /proc/mounts /etc/mtab
[ -e /etc/passwd ] || printf '%s\n' root:x:0:0:root:/root:/bin/sh nobody:x:65534:65534:nobody:/:/bin/false >/etc/passwd
[ -e /etc/group ] || printf '%s\n' root:x:0: nobody:x:65534: >/etc/group
hostname berth-vm
ip link set lo up
read t1 _ </proc/uptime
[ -z "${verbose:-}" ] || echo "berth-vm: stage 2 at $t0 s, booted in $t1 s (guest clock); controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
# ttyS1 is the status channel, a file on the host.
echo "booted $t1" >/dev/ttyS1
# COMMAND leads its own session with ttyS0 as controlling terminal (job
# control for interactive shells); its exit hangs the terminal up, so reopen.
setsid -c sh /etc/berth-vm/command
rc=$?
open_tty
echo "BERTH-VM-RESULT: exit=$rc"
# Wait until the UART has sent everything (stty sets with TCSADRAIN), and
# closing ttyS1 waits likewise, so the host has all before the power goes.
stty "$(stty -g)"
echo "exit $rc" >/dev/ttyS1
poweroff -f
reboot -f # qemu runs with -no-reboot: a reboot ends it too
EOF
chmod 0755 "$base/init" "$base/lib/berth-vm/init"

# --- payload: the --file arguments -------------------------------------------
payload=$tmp/payload
mkdir -p "$payload"
copy_in() { # copy_in HOSTPATH GUESTPATH
	local src=$1 dst=$2
	mkdir -p "$payload$(dirname "$dst")"
	cp -a "$src" "$payload$dst" || die "--file $src: copy failed"
}
for spec in ${files[@]+"${files[@]}"}; do
	src=${spec%%:*}
	if [ "$src" = "$spec" ]; then dst=/work/; else dst=${spec#*:}; fi
	[ -e "$src" ] || die "--file $src: no such file or directory"
	case $dst in /*) ;; *) die "--file $spec: guest path $dst is not absolute" ;; esac
	case $dst in */) dst=$dst$(basename "$src") ;; esac
	case $dst in
	/ | /init | /bin | /bin/ | /bin/busybox | /etc | /etc/ | /etc/berth-vm | /etc/berth-vm/* | /lib | /lib/ | /lib/berth-vm | /lib/berth-vm/*)
		usage "--file $spec: $dst belongs to the VM" ;;
	esac
	copy_in "$src" "$dst"
	# Bring a dynamic executable's shared libraries (and loader) along.
	if [ -f "$src" ] && [ "$(head -c 4 "$src" | od -An -c | tr -d ' ')" = '177ELF' ]; then
		if libs=$(ldd "$src" 2>/dev/null); then
			for lib in $(printf '%s\n' "$libs" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
				[ -e "$payload$lib" ] || copy_in "$(readlink -f "$lib")" "$lib"
			done
		fi
	fi
done

# One uncompressed archive: the kernel unpacks it faster than it inflates
# even the small base, and large Go binaries compress poorly anyway.
initrd=$tmp/initrd
(cd "$payload" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc) >"$initrd"
(cd "$base" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >>"$initrd"
initrd_mib=$(($(stat -c %s "$initrd") / 1048576))
t_built=$(date +%s.%N)

# --- boot -------------------------------------------------------------------
append="edd=off panic=-1 rdinit=/init mitigations=off tsc=reliable no_timer_check i8042.noaux i8042.nokbd i8042.nopnp"
if [ "$verbose" = 1 ]; then
	append="$append console=ttyS0 loglevel=7 berth_vm.verbose=1"
else
	append="$append console=ttyS2 quiet"
fi
append="$append ${BERTH_VM_APPEND:-}"
[ -t 1 ] || append="$append berth_vm.onlcr=0"
status=$tmp/status
klog=$tmp/console.log
: >"$status"

set +e
timeout --foreground -k 5 "$timeout_s" \
	qemu-system-x86_64 \
	-machine pc -accel tcg -cpu max -smp "$cpus" -m "$memory" \
	-nodefaults -no-user-config -display none -no-reboot -nic none \
	-serial stdio -serial "file:$status" -serial "file:$klog" -monitor none \
	-kernel "$kernel" -initrd "$initrd" -append "$append"
qrc=$?
set -e
t_end=$(date +%s.%N)

rc=$(tr -d '\r' <"$status" | sed -n 's/^exit \([0-9]*\)$/\1/p')
booted=$(tr -d '\r' <"$status" | sed -n 's/^booted \([0-9.]*\)$/\1/p')
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
show_klog() {
	if [ -s "$klog" ]; then
		echo "$prog: last kernel messages:" >&2
		tail -n 40 "$klog" | tr -d '\r' | sed 's/^/  /' >&2
	fi
}
if { [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; } && [ -n "$rc" ]; then
	echo "$prog: COMMAND exited $rc but the VM did not power off within the timeout; VM killed" >&2
	show_klog
	exit "$rc"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "$prog: timed out after $timeout_s s (guest booted: ${booted:-no}); VM killed" >&2
	show_klog
	exit 124
fi
if [ -z "$rc" ]; then
	echo "$prog: guest ended without a result (qemu exit $qrc): boot failure or kernel panic" >&2
	show_klog
	exit 125
fi
[ "$timing" = 0 ] || echo "$prog: initramfs ${initrd_mib} MiB built in $(elapsed "$t_start" "$t_built") s; guest booted in ${booted:-?} s; VM ran $(elapsed "$t_built" "$t_end") s; exit $rc" >&2
exit "$rc"
