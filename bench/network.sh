#!/bin/bash
# network.sh measures Berth's container networking, in one run:
#
#   - `run --rm busybox true` latency on the default bridge network (median
#     of N runs), against Debian's docker.io dockerd when it is installed,
#     and Berth's with --network none (what networking adds); the runs
#     alternate, so all see the same load
#   - container-to-container TCP throughput over a user-defined network:
#     bench/tools/tcpthru (static Go, 256 KiB writes) serving in one
#     container, named by the embedded DNS, and sending for S seconds from
#     another; the same tool run by the host (its root cgroup, no seccomp)
#     inside two Berth containers' network namespaces, which is Berth's
#     network path alone ("berth netns"); the same tool in two network
#     namespaces joined by a bare veth pair made here; and two dockerd
#     containers on a dockerd user network. Containers share their engine's
#     cgroup (berth/, docker/), which gets one task's CPU share against the
#     other sessions' processes: under load that, not the network, is most
#     of what separates "user net" from "bare veth". Transfers of the three alternate; medians are printed with
#     the ratio to the bare pair: MB/s, and the CPU time sender and receiver
#     spent per GB (getrusage; the kernel's veth and bridge work runs in
#     their context), which the other sessions' load disturbs less.
#
# Usage: bench/network.sh [--runs N] [--secs S] [--transfers N] [--no-peer]
#
# Each daemon gets its own socket, data and exec roots in a temporary
# directory. Berth runs with its own default bridge (bnb<pid>) and
# iptables chain prefix (BNB<pid>), so it never touches berth0 or another
# daemon's chains; dockerd gets a bridge made here (-b) with
# --iptables=false, so it installs no chains either: its figures are bridge
# networking without firewall rules (Berth's include its rules). Traffic
# stays between the namespaces made here. Must run as root. Everything it
# makes is removed at exit, also on failure.
set -euo pipefail

runs=20
secs=3
transfers=5
peer=1
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs="$2"; shift 2 ;;
	--secs) secs="$2"; shift 2 ;;
	--transfers) transfers="$2"; shift 2 ;;
	--no-peer) peer=0; shift ;;
	*) echo "usage: $0 [--runs N] [--secs S] [--transfers N] [--no-peer]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "network.sh: must run as root" >&2; exit 1; }
export PATH=$PATH:/usr/local/go/bin
docker=/usr/local/bin/docker
[ -x $docker ] || { echo "network.sh: the docker CLI is missing at $docker" >&2; exit 1; }
command -v skopeo >/dev/null || { echo "network.sh: skopeo not found (hack/install-deps.sh)" >&2; exit 1; }
if [ $peer = 1 ] && ! command -v dockerd >/dev/null; then
	echo "network.sh: dockerd not found (Debian's docker.io): peer skipped" >&2
	peer=0
fi
cd "$(dirname "$0")/.."

tag=$$
bridge=bnb$tag prefix=BNB$tag dbridge=dnb$tag nsA=bnbA$tag nsB=bnbB$tag
work=$(mktemp -d /var/tmp/berth-network-bench.XXXXXX)
berth_pid="" docker_pid="" srv_pid="" nsrv_pid=""
cleanup() {
	set +e
	for h in berth docker; do
		[ -S "$work/$h.sock" ] || continue
		ids=$($docker -H "unix://$work/$h.sock" ps -aq 2>/dev/null || true)
		[ -z "$ids" ] || $docker -H "unix://$work/$h.sock" rm -f $ids >/dev/null 2>&1 || true
		$docker -H "unix://$work/$h.sock" network prune -f >/dev/null 2>&1 || true
	done
	[ -z "$srv_pid" ] || kill "$srv_pid" 2>/dev/null
	[ -z "$nsrv_pid" ] || kill "$nsrv_pid" 2>/dev/null
	for p in $berth_pid $docker_pid; do kill "$p" 2>/dev/null || true; done
	for p in $berth_pid $docker_pid; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	ip netns del "$nsA" 2>/dev/null
	ip netns del "$nsB" 2>/dev/null
	ip link del "$dbridge" 2>/dev/null
	{ grep " $work/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hack/build.sh "$work/berth"
mkdir -p "$work/tcpthru-root"
CGO_ENABLED=0 go build -o "$work/tcpthru-root/tcpthru" ./bench/tools/tcpthru
tar -C "$work/tcpthru-root" -cf "$work/tcpthru.tar" tcpthru
sh hack/mkimage-busybox.sh "$work/busybox-oci" >/dev/null
skopeo copy -q "oci:$work/busybox-oci:latest" "docker-archive:$work/busybox.tar:busybox:latest" >/dev/null
tcpthru=$work/tcpthru-root/tcpthru

wait_sock() {
	for _ in $(seq 300); do $docker -H "unix://$1" version >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "network.sh: daemon on $1 did not come up" >&2; exit 1
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f\n", (b-a)*1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f\n", a/b}'; }

# free_subnet: a 10.213.Y.0/24 no route of the host uses
free_subnet() {
	for y in $(seq 200 250); do
		ip route | grep -q "^10\.213\.$y\." || { echo "10.213.$y"; return; }
	done
	echo "network.sh: no free 10.213.x.0/24" >&2; exit 1
}

# run_ms DAEMON [NETWORK]: the time of one `run --rm busybox true`
run_ms() {
	local t0=$EPOCHREALTIME
	$docker -H "unix://$work/$1.sock" run --rm --network "${2:-bridge}" busybox true >/dev/null
	ms "$t0" "$EPOCHREALTIME"
}

# start_daemon_net DAEMON: user network nbench with the server container
# sink (tcpthru serve :5001) on it
start_daemon_net() {
	local D="$docker -H unix://$work/$1.sock"
	$D import "$work/tcpthru.tar" tcpthru:latest >/dev/null
	$D network create nbench >/dev/null
	$D run -d --name sink --network nbench tcpthru:latest /tcpthru serve :5001 >/dev/null
}

# daemon_tp DAEMON: "MB/s CPU-ms/GB" of one transfer between two
# containers on nbench
daemon_tp() {
	$docker -H "unix://$work/$1.sock" run --rm --network nbench tcpthru:latest /tcpthru send sink:5001 "$secs"
}

veth_setup() {
	local net
	net=$(free_subnet)
	ip netns add "$nsA"
	ip netns add "$nsB"
	ip link add "vA$tag" netns "$nsA" type veth peer name "vB$tag" netns "$nsB"
	ip -n "$nsA" addr add "$net.1/24" dev "vA$tag"
	ip -n "$nsB" addr add "$net.2/24" dev "vB$tag"
	ip -n "$nsA" link set lo up
	ip -n "$nsB" link set lo up
	ip -n "$nsA" link set "vA$tag" up
	ip -n "$nsB" link set "vB$tag" up
	ip netns exec "$nsA" "$tcpthru" serve :5001 &
	srv_pid=$!
	veth_ip=$net.1
}

veth_tp() { ip netns exec "$nsB" "$tcpthru" send "$veth_ip:5001" "$secs"; }

# netns_setup: a host tcpthru serving :5003 in berth's sink container's
# network namespace, and a second container (src) whose namespace sends
netns_setup() {
	local B="$docker -H unix://$work/berth.sock"
	$B run -d --name src --network nbench tcpthru:latest /tcpthru serve :5002 >/dev/null
	src_ns=$($B inspect -f '{{.NetworkSettings.SandboxKey}}' src)
	sink_ip=$($B inspect -f '{{.NetworkSettings.Networks.nbench.IPAddress}}' sink)
	nsenter --net="$($B inspect -f '{{.NetworkSettings.SandboxKey}}' sink)" "$tcpthru" serve :5003 &
	nsrv_pid=$!
}

netns_tp() { nsenter --net="$src_ns" "$tcpthru" send "$sink_ip:5003" "$secs"; }

mkdir -p "$work/berth-data" "$work/berth-exec"
"$work/berth" daemon --data-root "$work/berth-data" --exec-root "$work/berth-exec" \
	-H "unix://$work/berth.sock" --pidfile "$work/berth.pid" \
	--bridge "$bridge" --iptables-chain-prefix "$prefix" >"$work/berth.log" 2>&1 &
berth_pid=$!
wait_sock "$work/berth.sock"
$docker -H "unix://$work/berth.sock" load -q -i "$work/busybox.tar" >/dev/null
daemons=berth
if [ $peer = 1 ]; then
	mkdir -p "$work/docker-data" "$work/docker-exec"
	dnet=$(free_subnet)
	ip link add "$dbridge" type bridge
	ip addr add "$dnet.1/24" dev "$dbridge"
	ip link set "$dbridge" up
	dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" -H "unix://$work/docker.sock" \
		--pidfile "$work/docker.pid" -b "$dbridge" --iptables=false --ip6tables=false --ip-masq=false \
		>"$work/dockerd.log" 2>&1 &
	docker_pid=$!
	wait_sock "$work/docker.sock"
	$docker -H "unix://$work/docker.sock" load -q -i "$work/busybox.tar" >/dev/null
	daemons="berth docker"
fi
echo "$(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg); $runs runs, $transfers transfers of ${secs}s; figures are medians"

declare -A lat tp cpu
for d in $daemons; do run_ms "$d" >/dev/null; done # warm caches
for _ in $(seq "$runs"); do # alternated, so both see the same load
	for d in $daemons; do lat[$d]+="$(run_ms "$d") "; done
	lat[none]+="$(run_ms berth none) " # what networking adds to Berth's run
done

for d in $daemons; do start_daemon_net "$d"; done
veth_setup
netns_setup
for _ in $(seq "$transfers"); do # alternated, so all see the same load
	for k in veth netns $daemons; do
		case $k in
		veth) r=$(veth_tp) ;;
		netns) r=$(netns_tp) ;;
		*) r=$(daemon_tp "$k") ;;
		esac
		tp[$k]+="${r% *} " cpu[$k]+="${r#* } "
	done
done
echo "load at the end $(cut -d' ' -f1 /proc/loadavg)"
med() { printf '%s\n' $1 | median; }
v=$(med "${tp[veth]}") vc=$(med "${cpu[veth]}")
printf '%-34s %10s %10s %s\n' case median ratio "all runs"
b_lat=$(med "${lat[berth]}")
if [ $peer = 1 ]; then
	d_lat=$(med "${lat[docker]}")
	printf '%-34s %10s %10s %s\n' "run --rm, bridge, berth (ms)" "$b_lat" "$(ratio "$b_lat" "$d_lat")" "${lat[berth]}"
	printf '%-34s %10s %10s %s\n' "run --rm, bridge, dockerd (ms)" "$d_lat" 1.00 "${lat[docker]}"
	n_lat=$(med "${lat[none]}")
	printf '%-34s %10s %10s %s\n' "run --rm, none, berth (ms)" "$n_lat" "$(ratio "$n_lat" "$d_lat")" "${lat[none]}"
else
	printf '%-34s %10s %10s %s\n' "run --rm, bridge, berth (ms)" "$b_lat" - "${lat[berth]}"
	printf '%-34s %10s %10s %s\n' "run --rm, none, berth (ms)" "$(med "${lat[none]}")" - "${lat[none]}"
fi
printf '%-34s %10s %10s %s\n' "c2c TCP, bare veth pair (MB/s)" "$v" 1.00 "${tp[veth]}"
t=$(med "${tp[netns]}")
printf '%-34s %10s %10s %s\n' "c2c TCP, berth netns (MB/s)" "$t" "$(ratio "$t" "$v")" "${tp[netns]}"
for d in $daemons; do
	t=$(med "${tp[$d]}")
	printf '%-34s %10s %10s %s\n' "c2c TCP, $d user net (MB/s)" "$t" "$(ratio "$t" "$v")" "${tp[$d]}"
done
printf '%-34s %10s %10s %s\n' "c2c CPU, bare veth pair (ms/GB)" "$vc" 1.00 "${cpu[veth]}"
c=$(med "${cpu[netns]}")
printf '%-34s %10s %10s %s\n' "c2c CPU, berth netns (ms/GB)" "$c" "$(ratio "$c" "$vc")" "${cpu[netns]}"
for d in $daemons; do
	c=$(med "${cpu[$d]}")
	printf '%-34s %10s %10s %s\n' "c2c CPU, $d user net (ms/GB)" "$c" "$(ratio "$c" "$vc")" "${cpu[$d]}"
done
