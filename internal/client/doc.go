// Package client owns how Berth's own programs reach a daemon: it picks the
// daemon address (-H, then BERTH_HOST, then DOCKER_HOST, then
// unix:///run/berth/berth.sock), sets up TLS, negotiates the API version,
// and turns "nothing listens there" into one clear error that says how to
// start a daemon. The requests themselves are github.com/moby/moby/client's,
// which Client embeds, so every Engine API call is available unchanged.
package client
