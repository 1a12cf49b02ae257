package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/container"
)

// Container endpoints over the container's cgroup: pause, unpause, top,
// stats, update.
func (s *Server) routeContainerOps(mux *http.ServeMux) {
	mux.HandleFunc("POST /containers/{id}/pause", s.containerPause)
	mux.HandleFunc("POST /containers/{id}/unpause", s.containerUnpause)
	mux.HandleFunc("GET /containers/{id}/top", s.containerTop)
	mux.HandleFunc("GET /containers/{id}/stats", s.containerStats)
	mux.HandleFunc("POST /containers/{id}/update", s.containerUpdate)
}

func (s *Server) containerPause(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Engine.Pause(r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerUnpause(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Engine.Unpause(r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerTop(w http.ResponseWriter, r *http.Request) {
	resp, err := s.cfg.Engine.Top(r.Context(), r.PathValue("id"), r.URL.Query().Get("ps_args"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) containerUpdate(w http.ResponseWriter, r *http.Request) {
	var u container.UpdateConfig
	if err := decodeJSON(r, &u); err != nil {
		writeError(w, r, err)
		return
	}
	if CompareVersions(VersionFrom(r.Context()), "1.25") < 0 {
		u.PidsLimit = nil // updatable from API 1.25 on, as dockerd's
	}
	warnings, err := s.cfg.Engine.Update(r.PathValue("id"), u)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, container.UpdateResponse{Warnings: warnings})
}

// containerStats answers one sample (stream=0: after a second, so that
// precpu_stats is filled in; one-shot=1: at once) or one per second.
func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	stream := r.URL.Query().Get("stream") == "" || boolValue(r, "stream")
	prev, err := s.cfg.Engine.Stats(ref)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !stream && boolValue(r, "one-shot") {
		writeJSON(w, http.StatusOK, prev)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-s.stopping:
			return
		}
		cur, err := s.cfg.Engine.Stats(ref)
		if err != nil {
			return
		}
		cur.PreCPUStats, cur.PreRead = prev.CPUStats, prev.Read
		if err := enc.Encode(cur); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		if !stream {
			return
		}
		prev = cur
	}
}
