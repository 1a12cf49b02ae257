// Package cli owns berth's command tree: it parses flags into option structs,
// calls one product package per command, formats the output and maps errors to
// exit codes exactly once.
package cli
