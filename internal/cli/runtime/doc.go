// Package runtime is `berth runtime`: a command line compatible with runc's
// over Berth's own OCI runtime (internal/runtime).
package runtime
