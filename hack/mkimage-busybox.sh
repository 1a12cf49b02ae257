#!/bin/sh
# mkimage-busybox.sh writes the image `busybox:latest` as an OCI image layout
# into DIR, made offline from Debian's busybox-static (/bin/busybox):
#
#   DIR/oci-layout, DIR/index.json (one manifest, ref name "latest"),
#   DIR/blobs/sha256/{manifest, config, one gzip layer}
#
# The layer holds /bin/busybox, every applet of `busybox --list-full` as a hard
# link to it, /etc/passwd, /etc/group, /etc/hosts, and the empty directories
# /dev /home /proc /root (0700) /sys /tmp (1777) /var. The config has
# Cmd ["sh"], Env PATH, amd64/linux.
#
# Output is deterministic: entries sorted, uid/gid 0, every mtime and the
# config's "created" set to SOURCE_DATE_EPOCH (default: the mtime of
# /bin/busybox), gzip without name or timestamp. The same busybox gives the
# same digests.
#
# Usage:
#   hack/mkimage-busybox.sh DIR
#   hack/mkimage-busybox.sh --pack ROOTDIR --cmd CMD [--name NAME] DIR
#       pack an existing root directory instead (used by mkimage-debian.sh);
#       CMD is the image's single Cmd word, NAME goes into the history entry.
set -eu

die() { echo "mkimage-busybox: $*" >&2; exit 1; }

pack=""
cmd="sh"
name="busybox"
while [ $# -gt 1 ]; do
	case "$1" in
	--pack) pack="$2"; shift 2 ;;
	--cmd) cmd="$2"; shift 2 ;;
	--name) name="$2"; shift 2 ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || die "usage: $0 [--pack ROOTDIR --cmd CMD [--name NAME]] DIR"
out="$1"
case "$out" in -*) die "usage: $0 [--pack ROOTDIR --cmd CMD [--name NAME]] DIR" ;; esac
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
	die "$out: exists and is not empty"
fi

busybox=/bin/busybox
if [ -z "$pack" ]; then
	[ -x "$busybox" ] || die "$busybox: missing (install Debian's busybox-static)"
	"$busybox" --list-full >/dev/null 2>&1 || die "$busybox: not a busybox with --list-full"
fi

: "${SOURCE_DATE_EPOCH:=$(stat -c %Y "${pack:-$busybox}")}"
export SOURCE_DATE_EPOCH
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
umask 022

if [ -z "$pack" ]; then
	root="$work/rootfs"
	mkdir -p "$root"
	for d in bin dev etc home proc root sys tmp usr usr/bin usr/sbin sbin var var/spool var/spool/mail var/www; do
		mkdir -p "$root/$d"
	done
	chmod 0700 "$root/root"
	chmod 1777 "$root/tmp"
	chmod 0555 "$root/proc" "$root/sys"
	cp "$busybox" "$root/bin/busybox"
	chmod 0755 "$root/bin/busybox"
	"$busybox" --list-full | while read -r applet; do
		applet=${applet#/}
		[ "$applet" = bin/busybox ] && continue
		mkdir -p "$root/$(dirname "$applet")"
		ln "$root/bin/busybox" "$root/$applet"
	done
	cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
	cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
staff:x:50:
users:x:100:
nogroup:x:65534:
EOF
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
	chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/hosts"
	version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || "$busybox" | head -n1)
	history="hack/mkimage-busybox.sh: busybox-static $version"
else
	[ -d "$pack" ] || die "$pack: not a directory"
	root="$pack"
	history="hack/mkimage-busybox.sh --pack: $name"
fi

# The layer: sorted, numeric root ownership, fixed mtimes, no atime/ctime pax
# records, member names without "./".
layer="$work/layer.tar"
(
	cd "$root"
	# shellcheck disable=SC2046
	LC_ALL=C tar --create --file "$layer" --sort=name --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		--mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
		--owner=0 --group=0 --numeric-owner \
		--xattrs --xattrs-include='security.capability' \
		$(LC_ALL=C ls -A | LC_ALL=C sort)
)
diffid=$(sha256sum "$layer" | cut -d' ' -f1)
gzip -n -9 -c "$layer" >"$work/layer.tar.gz"

mkdir -p "$out/blobs/sha256"

# put FILE: stores FILE as a blob, prints "DIGEST SIZE".
put() {
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	cp "$1" "$out/blobs/sha256/$d"
	chmod 0644 "$out/blobs/sha256/$d"
	echo "$d $s"
}

set -- $(put "$work/layer.tar.gz")
layer_digest=$1 layer_size=$2

json_escape() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

printf '{"architecture":"amd64","os":"linux","created":"%s","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["%s"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"%s"}]}' \
	"$created" "$(json_escape "$cmd")" "$diffid" "$created" "$(json_escape "$history")" >"$work/config.json"
set -- $(put "$work/config.json")
config_digest=$1 config_size=$2

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
	"$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
set -- $(put "$work/manifest.json")
manifest_digest=$1 manifest_size=$2

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
	"$manifest_digest" "$manifest_size" >"$out/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
chmod 0644 "$out/index.json" "$out/oci-layout"

echo "sha256:$manifest_digest"
