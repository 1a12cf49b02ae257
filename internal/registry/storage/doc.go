// Package storage owns the registry's byte storage: the Driver interface a
// registry keeps its blobs, links and uploads in, and its two implementations,
// a filesystem driver (the default, crash-safe through write-then-rename) and
// an in-memory driver for tests.
//
// Paths are slash-separated keys relative to the driver's root, such as
// "blobs/sha256/ab/ab12.../data"; a path never starts with "/" and never holds
// "." or ".." elements. Directories exist implicitly while they hold a file.
package storage
