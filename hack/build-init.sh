#!/bin/sh
# build-init.sh OUT builds the init image (internal/runtime/initimage) into
# OUT: a static C program, with musl where musl-gcc is installed
# (hack/install-deps.sh installs musl-tools; its start is a quarter of a
# millisecond shorter than a static glibc program's), else with the C
# compiler and a static glibc.
set -eu
cd "$(dirname "$0")/.."
out=$1
src=internal/runtime/initimage/src/main.c
if command -v musl-gcc >/dev/null 2>&1; then
	# musl's headers come without the kernel's: add them after its own.
	kh=$(mktemp -d)
	trap 'rm -rf "$kh"' EXIT
	ln -s /usr/include/linux "$kh/linux"
	ln -s /usr/include/asm-generic "$kh/asm-generic"
	ln -s "/usr/include/$(gcc -print-multiarch)/asm" "$kh/asm"
	musl-gcc -static -O2 -Wall -Werror -idirafter "$kh" -o "$out.$$" "$src"
else
	${CC:-gcc} -static -O2 -Wall -Werror -o "$out.$$" "$src"
fi
strip "$out.$$"
mv "$out.$$" "$out"
