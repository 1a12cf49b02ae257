// Package testutil owns the fixtures Berth's tests build for themselves: root
// checks, a busybox root filesystem and OCI bundle made from the host's static
// busybox, the runc-like default runtime spec, and the in-container checker
// (test/runtimetest) built and copied into a bundle; and for the integration
// suites under test/, the berth binary (BerthBinary), busybox:latest as an
// OCI layout and docker-archive (MakeBusyboxImage), and a `berth daemon` on
// roots and a socket of its own with a cleanup that leaves nothing behind
// (Daemon, StartDaemon). Nothing here touches the network beyond loopback
// and unix sockets; everything is created under temp directories the
// calling test removes.
package testutil
