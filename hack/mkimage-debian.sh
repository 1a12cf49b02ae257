#!/bin/sh
# mkimage-debian.sh writes the image `debian:bookworm` (tag "latest" in the
# layout, like mkimage-busybox.sh) as an OCI image layout into DIR: a minimal
# Debian root made by `debootstrap --variant=minbase bookworm` from the Debian
# mirror apt is configured with (/etc/apt/sources.list or
# /etc/apt/sources.list.d/*.sources), packed as one gzip layer with
# Cmd ["bash"] by `mkimage-busybox.sh --pack`.
#
# It needs root and the mirror, and takes a few minutes, so the default tests
# do not run it (BERTH_TEST_DEBIAN=1 does).
#
# Usage: hack/mkimage-debian.sh DIR
# Environment: MIRROR overrides the mirror; SOURCE_DATE_EPOCH fixes mtimes.
set -eu

die() { echo "mkimage-debian: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR"
out="$1"
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap missing (hack/install-deps.sh)"
here=$(cd "$(dirname "$0")" && pwd)

# The first plain Debian mirror apt knows (not -security, not -updates).
find_mirror() {
	if [ -r /etc/apt/sources.list ]; then
		awk '$1 == "deb" && $2 !~ /^\[/ && $2 !~ /security/ { print $2; exit }
		     $1 == "deb" && $2 ~ /^\[/ && $3 !~ /security/ { print $3; exit }' /etc/apt/sources.list
	fi
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk 'tolower($1) == "uris:" && $2 !~ /security/ && $2 ~ /debian/ { print $2; exit }' "$f"
	done
}
mirror=${MIRROR:-$(find_mirror | head -n1)}
[ -n "$mirror" ] || die "no Debian mirror in /etc/apt/sources.list{,.d}; set MIRROR"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
root="$work/rootfs"

echo "mkimage-debian: debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
	bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }

# Trim what an image does not ship: package caches, apt lists, logs, device
# nodes (the runtime makes /dev), the machine id.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
	"$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/dev/* "$root"/tmp/* \
	"$root"/var/tmp/* "$root"/run/*
: >"$root/etc/machine-id" 2>/dev/null || true
printf 'deb %s bookworm main\n' "$mirror" >"$root/etc/apt/sources.list"
# Fixed mtime for the directory the packer takes its default epoch from.
touch -d "@${SOURCE_DATE_EPOCH:-$(stat -c %Y "$root/etc/debian_version")}" "$root"

"$here/mkimage-busybox.sh" --pack "$root" --cmd bash --name "debian:bookworm (debootstrap minbase)" "$out"
