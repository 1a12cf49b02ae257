// Package networkapi tests the Engine API's /networks routes end to end
// (needs root): a `berth daemon` on a temp data root, socket, default
// bridge and iptables chain prefix of its own, driven by the real docker
// CLI and by `berth network ...`, whose output and exit codes must be the
// same. Containers (busybox, made from Debian's busybox-static) check what
// the networks do: --internal networks without a route out (against a
// namespace the test makes, never an outside address), IPv6 networks by
// name and their published ports at [::1], and that removing containers,
// volumes and networks leaves nothing. After each test `ip link`, the
// mounts below the daemon's root, `iptables-save` and `ip6tables-save`
// hold nothing of its daemon.
package networkapi
