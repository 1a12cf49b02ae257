package api

import (
	"net/http"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/container"

	"github.com/berth/berth/internal/engine"
)

func (s *Server) routeExec(mux *http.ServeMux) {
	mux.HandleFunc("POST /containers/{id}/exec", s.execCreate)
	mux.HandleFunc("POST /exec/{id}/start", s.execStart)
	mux.HandleFunc("POST /exec/{id}/resize", s.execResize)
	mux.HandleFunc("GET /exec/{id}/json", s.execInspect)
}

func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) {
	var req container.ExecCreateRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	id, err := s.cfg.Engine.ExecCreate(r.Context(), r.PathValue("id"), req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: id})
}

func (s *Server) execInspect(w http.ResponseWriter, r *http.Request) {
	resp, err := s.cfg.Engine.ExecInspect(r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) execResize(w http.ResponseWriter, r *http.Request) {
	h, wd, err := resizeDims(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cfg.Engine.ExecResize(r.Context(), r.PathValue("id"), h, wd); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) execStart(w http.ResponseWriter, r *http.Request) {
	var req container.ExecStartRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	x, err := s.cfg.Engine.ExecInspect(id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if x.Running || x.ExitCode != nil {
		writeError(w, r, errdefs.ErrConflict.WithMessage("Error: Exec command "+id+" has already run"))
		return
	}
	if err := s.cfg.Engine.CheckExecStart(id); err != nil {
		writeError(w, r, err)
		return
	}
	// As dockerd: the start's size wins over the create's, for a terminal.
	if req.ConsoleSize != nil && req.Tty {
		if err := s.cfg.Engine.ExecConsoleSize(id, req.ConsoleSize[0], req.ConsoleSize[1]); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if req.Detach {
		if err := s.cfg.Engine.ExecStart(r.Context(), id, true, engineStreamsNone()); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusOK) // dockerd's: no body
		return
	}
	// The start's Tty says how the output is framed, as with dockerd:
	// raw for a terminal, else multiplexed (a terminal's output then comes
	// as stdout frames), whatever the create said; from API 1.42 the
	// Content-Type says which.
	media := types.MediaTypeRawStream
	if !req.Tty && CompareVersions(VersionFrom(r.Context()), "1.42") >= 0 {
		media = types.MediaTypeMultiplexedStream
	}
	conn, err := Hijack(w, r, media)
	if err != nil {
		writeError(w, r, err)
		return
	}
	streams := streamsFor(conn, req.Tty)
	ctx, cancel := s.streamContext(r)
	defer cancel()
	if err := s.cfg.Engine.ExecStart(ctx, id, false, streams); err != nil {
		// On the stdout stream, as dockerd writes it.
		_, _ = streams.Stdout.Write([]byte(err.Error() + "\r\n"))
	}
	finishStreams(streams, conn)
}

func engineStreamsNone() engine.AttachStreams { return engine.AttachStreams{} }
