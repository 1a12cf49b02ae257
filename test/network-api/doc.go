// Package networkapi tests the Engine API's /networks routes end to end
// (needs root): a `berth daemon` on a temp data root, socket, default
// bridge and iptables chain prefix of its own, driven by the real docker
// CLI and by `berth network ...`, whose output and exit codes must be the
// same; afterwards `ip link` and `iptables-save` hold nothing of it.
package networkapi
