// Package compose runs Docker Compose v1 (Debian's docker-compose 1.29,
// built on the Python docker SDK) and that SDK against a berth daemon of
// its own: the root-only end-to-end check that Compose and the SDKs work
// unchanged. Each test starts `berth daemon` on temporary roots with a
// bridge and iptables chain prefix of its own, loads busybox, drives
// docker-compose or python3 through the daemon's socket, and at cleanup
// asserts that the stopped daemon left no link, mount or firewall rule
// (removing them anyway if it did). Nothing reaches a registry: the only
// images are the loaded busybox and what the tests build from it. Without
// root, docker-compose, the docker CLI or skopeo the tests skip.
package compose
