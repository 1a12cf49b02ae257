// Package system owns berth's docker-compatible system commands: `version`,
// `info`, `system info`, `system events` (and `events`) and `system df`.
// Like every docker-compatible group, it reaches the daemon only through
// internal/client, formats output as the docker CLI does (tables, --format
// Go templates, `json`), and reports failures as a StatusError carrying
// docker's exit code: 125 for bad flags or arguments, 1 when the daemon
// fails or cannot be reached.
package system
