// Package contenttest owns the conformance suite for content.Store: Run
// checks the behaviour every implementation promises (write, commit and
// read back; digest and size verification; resume; ref locking; Walk,
// Delete and labels). Each implementation's tests call Run.
package contenttest
