#!/bin/sh
# install-deps.sh installs the Debian packages Berth's build, tests and
# benchmarks need. It is idempotent: packages already present are skipped,
# and apt is only consulted when something is missing.
set -eu

PKGS="busybox-static runc crun skopeo docker-registry iptables iproute2 debootstrap
 qemu-system-x86 linux-image-cloud-amd64 cpio kmod procps psmisc util-linux e2fsprogs
 ca-certificates git gcc libc6-dev musl-tools jq python3-seccomp curl unzip docker.io xz-utils
 docker-compose systemd bzip2 zstd"

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

# Go: the version go.mod names, at /usr/local/go. Debian 12's own golang is
# too old; the Go module proxy serves every release as the module
# golang.org/toolchain, which is what `go` itself downloads with GOTOOLCHAIN.
want=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$(dirname "$0")/../go.mod")
have=$(/usr/local/go/bin/go env GOVERSION 2>/dev/null || true)
if [ -z "$have" ] || [ "$(printf '%s\n' "go$want" "$have" | sort -V | head -1)" != "go$want" ]; then
	echo "install-deps: installing Go $want into /usr/local/go (have: ${have:-none})" >&2
	command -v curl >/dev/null || apt-get install -y -qq curl unzip >/dev/null
	command -v unzip >/dev/null || apt-get install -y -qq unzip >/dev/null
	proxy=$(printf '%s' "${GOPROXY:-https://proxy.golang.org}" | cut -d, -f1)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	curl -fsSL -o "$tmp/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-go$want.linux-amd64.zip"
	unzip -q "$tmp/go.zip" -d "$tmp"
	rm -rf /usr/local/go
	mv "$tmp/golang.org/toolchain@v0.0.1-go$want.linux-amd64" /usr/local/go
fi
