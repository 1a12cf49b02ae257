#!/bin/sh
# install-deps.sh installs the Debian packages Berth's build, tests and
# benchmarks need. It is idempotent: packages already present are skipped,
# and apt is only consulted when something is missing.
set -eu

PKGS="busybox-static runc crun skopeo docker-registry iptables iproute2 debootstrap
 qemu-system-x86 linux-image-cloud-amd64 cpio kmod procps psmisc util-linux e2fsprogs
 ca-certificates git gcc libc6-dev jq python3-seccomp"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# --no-install-recommends keeps the cloud kernel from pulling in grub, initramfs hooks, etc.
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	echo "install-deps: add /usr/local/go/bin to PATH" >&2
fi
