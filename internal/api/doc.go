// Package api owns Berth's Engine API server: the HTTP router the docker CLI,
// Compose and the SDKs talk to, one file per resource (system.go for
// /_ping, /version, /info and /system/df; events.go for /events; images.go
// and auth.go for /images and /auth; containers*.go and exec*.go), the
// version middleware (paths with and without a /vX.Y prefix, the Api-Version,
// Docker-Experimental, Ostype and Server headers on every response), the one
// place where errors become HTTP statuses (errors.go, through
// containerd/errdefs and its errhttp mapping, body {"message": ...}), and
// the stream helpers later resources share: the hijack upgrade (hijack.go)
// and the 8-byte multiplexed stdout/stderr framing (stdmux.go).
//
// Request and response bodies are the types of github.com/moby/moby/api, so
// nothing drifts from what clients decode. Responses take the shape of the
// request's API version, as dockerd's do, with one exception for an old
// client: docker-compose 1.x (Debian 12's 1.29) is answered at API 1.44 at
// most (composeV1Version in version.go), since it negotiates the highest
// version and then reads image inspect's ContainerConfig, gone in 1.45. The server holds no engine state
// itself: the daemon (internal/cli/daemon) hands it the event bus, the data
// root and providers, and reloads what is reloadable through its setters.
package api
