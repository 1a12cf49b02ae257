// Package network owns the docker-compatible `network` command group
// (create, ls, inspect, rm, prune, connect, disconnect): docker's flags,
// table and --format output, filters and exit codes, talking to the daemon
// only through internal/client.
package network
