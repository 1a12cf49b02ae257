// Package command owns the framework the docker-compatible command groups
// (internal/cli/system, and container, image, network, volume as they land)
// share: connecting to the daemon from the global -H/TLS flags, errors that
// carry docker's exit codes (125 usage, 1 daemon, 126/127 or the
// container's own code), --format templates with docker's functions, table
// output, and docker-shaped help text. Commands stay thin: flags -> an
// options struct -> one client call -> format.
package command
