package api

import (
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/registry"
)

func (s *Server) routeDistribution(mux *http.ServeMux) {
	mux.HandleFunc("GET /distribution/{rest...}", s.distributionInspect)
}

// distributionInspect answers GET /distribution/{name}/json as dockerd:
// the registry's descriptor of the image's manifest or index, and the
// platforms it offers, without pulling (Compose and buildx ask it).
// Credentials come in X-Registry-Auth.
func (s *Server) distributionInspect(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("rest"), "/json")
	if !ok || name == "" {
		writeError(w, r, errNotFound)
		return
	}
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	ref, err := pullReference(name, "")
	if err != nil {
		writeError(w, r, err)
		return
	}
	auth, err := registryAuth(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	d, err := svc.DistributionInspect(r.Context(), ref.String(), auth)
	if err != nil {
		if errdefs.IsNotFound(err) || errdefs.IsUnauthorized(err) || errdefs.IsPermissionDenied(err) {
			err = errdefs.ErrNotFound.WithMessage(pullMessage(ref, err))
		}
		writeError(w, r, err)
		return
	}
	d.Descriptor.Annotations, d.Descriptor.URLs = nil, nil
	writeJSON(w, http.StatusOK, registry.DistributionInspect{Descriptor: d.Descriptor, Platforms: d.Platforms})
}
