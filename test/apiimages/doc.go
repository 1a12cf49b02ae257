// Package apiimages holds the integration tests of the Engine API's image
// endpoints: they build the berth binary, start `berth daemon` on a
// temporary data root, exec root and socket (never /run/berth or
// /var/lib/berth), start Debian's docker-registry (distribution) on
// 127.0.0.1 with its own temporary root, push a busybox image made by
// hack/mkimage-busybox.sh into it with skopeo, and drive the daemon with the
// real docker CLI (/usr/local/bin/docker) and raw HTTP over the socket:
// pull, images, inspect, tag, push, save and load, import, history, rmi,
// prune and login, and dockerd's errors. Without root the daemon uses the
// native snapshotter; the cases are the same.
package apiimages
