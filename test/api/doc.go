// Package api holds the Engine API integration tests: they build the berth
// binary, start `berth daemon` on a temporary data root, exec root and
// socket (never /run/berth or /var/lib/berth; TCP only on 127.0.0.1), and
// drive it with the real docker CLI (/usr/local/bin/docker, skipped with a
// message when missing), with `berth` itself and with the Go client. Root
// is not needed.
package api
