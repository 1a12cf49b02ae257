package api

import (
	"net/http"

	"github.com/containerd/errdefs"
)

// Swarm mode: berth's node is never part of a swarm. Its endpoints answer
// as a dockerd's that is not in one (503 with dockerd's words), so that
// `docker node ls`, `docker service ls`, `docker stack deploy` and tools
// that probe GET /swarm (as Portainer does) get the answer they handle;
// joining or starting a swarm is not implemented (501).
var (
	// swarmError is dockerd's answer to anything that needs swarm mode
	// (also a network of the overlay driver or swarm scope).
	swarmError       = errdefs.ErrUnavailable.WithMessage(`This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`)
	errNoSwarm       = errdefs.ErrUnavailable.WithMessage("This node is not part of a swarm")
	errSwarmNotBuilt = errdefs.ErrNotImplemented.WithMessage("swarm mode is not supported by berth: this node cannot start or join a swarm")
)

func (s *Server) routeSwarm(mux *http.ServeMux) {
	answer := func(err error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { writeError(w, r, err) }
	}
	mux.HandleFunc("POST /swarm/init", answer(errSwarmNotBuilt))
	mux.HandleFunc("POST /swarm/join", answer(errSwarmNotBuilt))
	mux.HandleFunc("POST /swarm/leave", answer(errNoSwarm))
	mux.HandleFunc("PUT /volumes/{name}", answer(errdefs.ErrUnavailable.WithMessage("volume update only valid for cluster volumes, but swarm is unavailable")))
	for _, p := range []string{
		"GET /swarm", "POST /swarm/update", "GET /swarm/unlockkey", "POST /swarm/unlock",
		"GET /nodes", "GET /nodes/{id}", "DELETE /nodes/{id}", "POST /nodes/{id}/update",
		"GET /services", "POST /services/create", "GET /services/{id}", "DELETE /services/{id}",
		"POST /services/{id}/update", "GET /services/{id}/logs",
		"GET /tasks", "GET /tasks/{id}", "GET /tasks/{id}/logs",
		"GET /secrets", "POST /secrets/create", "GET /secrets/{id}", "DELETE /secrets/{id}", "POST /secrets/{id}/update",
		"GET /configs", "POST /configs/create", "GET /configs/{id}", "DELETE /configs/{id}", "POST /configs/{id}/update",
	} {
		mux.HandleFunc(p, answer(swarmError))
	}
}
