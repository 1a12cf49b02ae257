// Package initsock holds the two pieces of the runtime's protocol with a
// container's init that a process other than the runtime uses: receiving
// the pty master the init sends to a console socket, and starting a
// created init through its exec socket. The shim's serving process, which
// does not carry the runtime, starts a built-in container with it.
//
// It imports nothing of Berth, so that it stays small.
package initsock
