package api

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
)

// Container filesystem endpoints: changes (docker diff), export, and the
// archive GET/HEAD/PUT of docker cp.
func (s *Server) routeContainerFiles(mux *http.ServeMux) {
	mux.HandleFunc("GET /containers/{id}/changes", s.containerChanges)
	mux.HandleFunc("GET /containers/{id}/export", s.containerExport)
	mux.HandleFunc("HEAD /containers/{id}/archive", s.containerArchiveHead)
	mux.HandleFunc("GET /containers/{id}/archive", s.containerArchiveGet)
	mux.HandleFunc("PUT /containers/{id}/archive", s.containerArchivePut)
}

func (s *Server) containerChanges(w http.ResponseWriter, r *http.Request) {
	ch, err := s.cfg.Engine.Changes(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ch)
}

func (s *Server) containerExport(w http.ResponseWriter, r *http.Request) {
	started := false
	err := s.cfg.Engine.Export(r.Context(), r.PathValue("id"), writerFunc(func(p []byte) (int, error) {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-tar")
			w.WriteHeader(http.StatusOK)
		}
		return w.Write(p)
	}))
	if err != nil && !started {
		writeError(w, r, err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func archivePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", errdefs.ErrInvalidArgument.WithMessage("path is required")
	}
	return p, nil
}

func setPathStat(w http.ResponseWriter, st container.PathStat) {
	b, _ := json.Marshal(st)
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(b))
}

func (s *Server) containerArchiveHead(w http.ResponseWriter, r *http.Request) {
	p, err := archivePath(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	st, err := s.cfg.Engine.StatPath(r.Context(), r.PathValue("id"), p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	setPathStat(w, st)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) containerArchiveGet(w http.ResponseWriter, r *http.Request) {
	p, err := archivePath(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	started := false
	err = s.cfg.Engine.ArchivePath(r.Context(), r.PathValue("id"), p, func(st container.PathStat) io.Writer {
		setPathStat(w, st)
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		started = true
		return w
	})
	if err != nil && !started {
		writeError(w, r, err)
	}
}

func (s *Server) containerArchivePut(w http.ResponseWriter, r *http.Request) {
	p, err := archivePath(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cfg.Engine.ExtractTo(r.Context(), r.PathValue("id"), p, r.Body, boolValue(r, "noOverwriteDirNonDir")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
