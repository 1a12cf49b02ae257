#!/bin/bash
# network.sh measures Berth's container networking, in one run:
#
#   - `run --rm busybox true` latency on the default bridge network (median
#     of N runs), against Debian's docker.io dockerd when it is installed
#   - container-to-container TCP throughput over a user-defined network
#     (a busybox nc listening in one container; the host's busybox dd | nc
#     sending from inside the other container's network namespace), against
#     a bare veth pair between two network namespaces made here, with the
#     same busybox binary and the same timing
#
# Usage: bench/network.sh [--runs N] [--mb N] [--transfers N] [--no-peer]
#
# Each daemon gets its own socket, data and exec roots in a temporary
# directory. Berth runs with its own default bridge (bnb<pid>) and
# iptables chain prefix (BNB<pid>), so it never touches berth0 or another
# daemon's chains; dockerd gets a bridge made here (-b) with
# --iptables=false, so it installs no chains either: its figure is bridge
# networking without firewall rules (Berth's includes its rules). Traffic
# stays between the namespaces made here. Must run as root. Everything it
# makes is removed at exit.
set -euo pipefail

runs=20
mb=200
transfers=5
peer=1
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs="$2"; shift 2 ;;
	--mb) mb="$2"; shift 2 ;;
	--transfers) transfers="$2"; shift 2 ;;
	--no-peer) peer=0; shift ;;
	*) echo "usage: $0 [--runs N] [--mb N] [--transfers N] [--no-peer]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "network.sh: must run as root" >&2; exit 1; }
export PATH=$PATH:/usr/local/go/bin
docker=/usr/local/bin/docker
[ -x $docker ] || { echo "network.sh: the docker CLI is missing at $docker" >&2; exit 1; }
command -v skopeo >/dev/null || { echo "network.sh: skopeo not found (hack/install-deps.sh)" >&2; exit 1; }
bb=$(command -v busybox) || { echo "network.sh: busybox not found (busybox-static)" >&2; exit 1; }
if [ $peer = 1 ] && ! command -v dockerd >/dev/null; then
	echo "network.sh: dockerd not found (Debian's docker.io): peer skipped" >&2
	peer=0
fi
cd "$(dirname "$0")/.."

tag=$$
bridge=bnb$tag prefix=BNB$tag dbridge=dnb$tag nsA=bnbA$tag nsB=bnbB$tag
work=$(mktemp -d /var/tmp/berth-network-bench.XXXXXX)
berth_pid="" docker_pid="" srv_pid=""
cleanup() {
	set +e
	for h in berth docker; do
		[ -S "$work/$h.sock" ] || continue
		ids=$($docker -H "unix://$work/$h.sock" ps -aq 2>/dev/null || true)
		[ -z "$ids" ] || $docker -H "unix://$work/$h.sock" rm -f $ids >/dev/null 2>&1 || true
		$docker -H "unix://$work/$h.sock" network prune -f >/dev/null 2>&1 || true
	done
	for p in $berth_pid $docker_pid $srv_pid; do kill "$p" 2>/dev/null || true; done
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

go build -o "$work/berth" ./cmd/berth
sh hack/mkimage-busybox.sh "$work/busybox-oci" >/dev/null
skopeo copy -q "oci:$work/busybox-oci:latest" "docker-archive:$work/busybox.tar:busybox:latest" >/dev/null

wait_sock() {
	for _ in $(seq 300); do $docker -H "unix://$1" version >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "network.sh: daemon on $1 did not come up" >&2; exit 1
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f\n", (b-a)*1000}'; }
# mbps: MB/s of $mb MiB moved in the seconds from $1 to $2
mbps() { awk -v a="$1" -v b="$2" -v mb="$mb" 'BEGIN {printf "%.0f\n", mb*1.048576/(b-a)}'; }

# free_subnet: a 10.X.Y.0/24 no route of the host uses
free_subnet() {
	for y in $(seq 200 250); do
		ip route | grep -q "^10\.213\.$y\." || { echo "10.213.$y"; return; }
	done
	echo "network.sh: no free 10.213.x.0/24" >&2; exit 1
}

# check_bytes CASE COUNT: the receiver must have got every byte (busybox
# nc ends early when its peer goes away); waits for a late count.
check_bytes() {
	local want=$((mb * 1048576)) got=$2
	if [ "$got" != "$want" ]; then
		sleep 1
		[ "$1" = veth ] && got=$(cat "$work/veth.bytes") || got=$($docker -H "unix://$work/$1.sock" logs sink 2>&1)
	fi
	[ "$got" = "$want" ] || { echo "network.sh: $1: receiver got '$got' bytes, want $want" >&2; exit 1; }
}

latency() {
	local D="$docker -H unix://$work/$1.sock" times=()
	$D run --rm busybox true >/dev/null # warm caches
	for _ in $(seq "$runs"); do
		local t0=$EPOCHREALTIME
		$D run --rm busybox true >/dev/null
		times+=("$(ms "$t0" "$EPOCHREALTIME")")
	done
	printf '%s\n' "${times[@]}" | median
}

# throughput NAME: MB/s from one container to another over a user network
throughput() {
	local D="$docker -H unix://$work/$1.sock"
	$D run -d --name sink --network nbench busybox sh -c 'sleep 600 | nc -l -p 5001 | wc -c' >/dev/null
	local ns ip
	ns=$($D inspect -f '{{.NetworkSettings.SandboxKey}}' src)
	ip=$($D inspect -f '{{.NetworkSettings.Networks.nbench.IPAddress}}' sink)
	sleep 0.5
	# The sender runs the host's busybox inside src's network namespace, as
	# the bare veth case does, so both are timed the same way.
	local t0=$EPOCHREALTIME
	nsenter --net="$ns" "$bb" sh -c "$bb dd if=/dev/zero bs=1M count=$mb 2>/dev/null | $bb nc $ip 5001" >/dev/null
	local t1=$EPOCHREALTIME
	check_bytes "$1" "$($D logs sink 2>&1)"
	$D rm -f sink >/dev/null
	mbps "$t0" "$t1"
}

veth_setup() {
	local net
	net=$(free_subnet)
	ip netns add "$nsA"
	ip netns add "$nsB"
	ip link add "vA$tag" netns "$nsA" type veth peer name "vB$tag" netns "$nsB"
	ip -n "$nsA" addr add "$net.1/24" dev "vA$tag"
	ip -n "$nsB" addr add "$net.2/24" dev "vB$tag"
	ip -n "$nsA" link set "vA$tag" up
	ip -n "$nsB" link set "vB$tag" up
	ip -n "$nsA" link set lo up
	veth_ip=$net.1
}

veth_throughput() {
	rm -f "$work/veth.bytes"
	ip netns exec "$nsA" "$bb" sh -c "$bb sleep 600 | $bb nc -l -p 5001 | $bb wc -c >$work/veth.bytes" &
	srv_pid=$!
	sleep 0.5
	local t0=$EPOCHREALTIME
	ip netns exec "$nsB" "$bb" sh -c "$bb dd if=/dev/zero bs=1M count=$mb 2>/dev/null | $bb nc $veth_ip 5001" >/dev/null
	local t1=$EPOCHREALTIME
	check_bytes veth "$(cat "$work/veth.bytes" 2>/dev/null)"
	ip netns pids "$nsA" | xargs -r kill 2>/dev/null || true
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=""
	mbps "$t0" "$t1"
}

mkdir -p "$work/berth-data" "$work/berth-exec"
"$work/berth" daemon --data-root "$work/berth-data" --exec-root "$work/berth-exec" \
	-H "unix://$work/berth.sock" --pidfile "$work/berth.pid" \
	--bridge "$bridge" --iptables-chain-prefix "$prefix" >"$work/berth.log" 2>&1 &
berth_pid=$!
wait_sock "$work/berth.sock"
$docker -H "unix://$work/berth.sock" load -q -i "$work/busybox.tar" >/dev/null
echo "$(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg); $runs runs, $transfers transfers of $mb MiB; figures are medians"
b_lat=$(latency berth)
B="$docker -H unix://$work/berth.sock"
$B network create nbench >/dev/null
$B run -d --name src --network nbench busybox sleep 3600 >/dev/null
veth_setup
b_tps=() v_tps=()
for _ in $(seq "$transfers"); do # alternated, so both see the same load
	b_tps+=("$(throughput berth)")
	v_tps+=("$(veth_throughput)")
done
b_tp=$(printf '%s\n' "${b_tps[@]}" | median)
v_tp=$(printf '%s\n' "${v_tps[@]}" | median)
$B rm -f src >/dev/null
$B network rm nbench >/dev/null
printf '%-28s %10s %10s\n' case berth peer
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
	d_lat=$(latency docker)
	printf '%-28s %10s %10s\n' "run --rm (ms, bridge)" "$b_lat" "$d_lat (dockerd)"
else
	printf '%-28s %10s %10s\n' "run --rm (ms, bridge)" "$b_lat" "-"
fi
printf '%-28s %10s %10s\n' "c2c TCP (MB/s, user net)" "$b_tp" "$v_tp (bare veth)"
