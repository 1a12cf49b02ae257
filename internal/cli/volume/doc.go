// Package volume owns the `berth volume` command group (create, ls,
// inspect, rm, prune) with docker's flags, messages, table output and
// --format, talking to the daemon only through internal/client.
package volume
