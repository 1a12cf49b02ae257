// Package registry owns the `berth registry` commands: `serve`, which runs
// the OCI distribution server of internal/registry, and `gc`, which collects
// unreferenced blobs of a registry root.
package registry
