package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"

	"github.com/berth/berth/internal/engine"
)

// maxCommitConfig bounds the container config a commit request may carry.
const maxCommitConfig = 1 << 20

// containerCommit answers POST /commit?container=&repo=&tag=&comment=
// &author=&pause=&changes=... with an optional container config as the
// body: 201 {"Id":"sha256:..."}. pause defaults to true, as dockerd's
// since API 1.13.
func (s *Server) containerCommit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// The body first, as dockerd reads it.
	cfg, err := decodeCommitConfig(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctr := q.Get("container")
	if ctr == "" {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("no container name or ID given (container)"))
		return
	}
	named, err := repoTagReference(q.Get("repo"), q.Get("tag"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	pause := true
	if q.Get("pause") != "" {
		pause = boolValue(r, "pause")
	}
	o := engine.CommitOptions{
		Author:  q.Get("author"),
		Comment: q.Get("comment"),
		Changes: q["changes"],
		Config:  cfg,
		Pause:   pause,
	}
	if named != nil {
		o.Ref, o.ShownRef = named.String(), reference.FamiliarString(named)
	}
	img, err := s.cfg.Engine.Commit(r.Context(), ctr, o)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, container.CommitResponse{ID: img.ID.String()})
}

// decodeCommitConfig reads the optional config of a commit: no body (or
// JSON null) means the container's own.
func decodeCommitConfig(w http.ResponseWriter, r *http.Request) (*container.Config, error) {
	if r.Body == nil || r.ContentLength == 0 {
		return nil, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unsupported Content-Type header (%s): must be 'application/json'", ct))
		}
	}
	var cfg *container.Config
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCommitConfig))
	err := dec.Decode(&cfg)
	var tooBig *http.MaxBytesError
	switch {
	case err == nil && dec.More():
		return nil, errdefs.ErrInvalidArgument.WithMessage("unexpected content after JSON")
	case err == nil || errors.Is(err, io.EOF):
		return cfg, nil
	case errors.As(err, &tooBig):
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("commit config: larger than %d bytes", maxCommitConfig))
	default:
		return nil, errdefs.ErrInvalidArgument.WithMessage("commit config: invalid JSON: " + strings.TrimPrefix(err.Error(), "json: "))
	}
}
