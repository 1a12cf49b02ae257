package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/containerd/errdefs"
	mevents "github.com/moby/moby/api/types/events"
	mvolume "github.com/moby/moby/api/types/volume"

	"github.com/berth/berth/internal/volume"
)

// routeVolumes serves /volumes/... from cfg.Volumes (the local driver);
// nil leaves the routes out.
func (s *Server) routeVolumes(mux *http.ServeMux) {
	if s.cfg.Volumes == nil {
		return
	}
	mux.HandleFunc("GET /volumes", s.volumeList)
	mux.HandleFunc("POST /volumes/create", s.volumeCreate)
	mux.HandleFunc("POST /volumes/prune", s.volumePrune)
	mux.HandleFunc("GET /volumes/{name}", s.volumeInspect)
	mux.HandleFunc("DELETE /volumes/{name}", s.volumeRemove)
}

// apiVolume is the Engine API shape of v: CreatedAt in RFC 3339 seconds,
// scope local, null Labels and Options when empty (as dockerd).
func apiVolume(v volume.Volume) mvolume.Volume {
	return mvolume.Volume{
		Name:       v.Name,
		Driver:     v.Driver,
		Mountpoint: v.Mountpoint,
		CreatedAt:  v.CreatedAt.Local().Format(time.RFC3339),
		Labels:     v.Labels,
		Options:    v.Options,
		Scope:      "local",
	}
}

func (s *Server) volumeList(w http.ResponseWriter, r *http.Request) {
	f, err := imageFilters(r.URL.Query(), "dangling", "driver", "label", "name")
	if err != nil {
		writeError(w, r, err)
		return
	}
	vs, err := s.cfg.Volumes.List(r.Context(), volume.Filters(f))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := mvolume.ListResponse{Volumes: []mvolume.Volume{}}
	for _, v := range vs {
		out.Volumes = append(out.Volumes, apiVolume(v))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) volumeCreate(w http.ResponseWriter, r *http.Request) {
	var req mvolume.CreateRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.ClusterVolumeSpec != nil {
		writeError(w, r, errdefs.ErrUnavailable.WithMessage("This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again."))
		return
	}
	_, getErr := s.cfg.Volumes.Get(r.Context(), req.Name)
	v, err := s.cfg.Volumes.Create(r.Context(), req.Name, volume.CreateOptions{Driver: req.Driver, Labels: req.Labels, Options: req.DriverOpts})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if getErr != nil { // new: dockerd sends no event for an existing name
		s.volumeEvent(mevents.ActionCreate, v.Name, map[string]string{"driver": v.Driver})
	}
	writeJSON(w, http.StatusCreated, apiVolume(v))
}

func (s *Server) volumeInspect(w http.ResponseWriter, r *http.Request) {
	v, err := s.cfg.Volumes.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiVolume(v))
}

func (s *Server) volumeRemove(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	_, getErr := s.cfg.Volumes.Get(r.Context(), name)
	if err := s.cfg.Volumes.Remove(r.Context(), name, boolValue(r, "force")); err != nil {
		writeError(w, r, err)
		return
	}
	if getErr == nil {
		s.volumeEvent(mevents.ActionDestroy, name, map[string]string{"driver": volume.DriverName})
	}
	w.WriteHeader(http.StatusNoContent)
}

// volumePrune removes unused volumes: anonymous ones only, unless the
// filter all=true is given; before API 1.42 every unused volume, as then.
func (s *Server) volumePrune(w http.ResponseWriter, r *http.Request) {
	f, err := imageFilters(r.URL.Query(), "label", "label!", "all")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if CompareVersions(VersionFrom(r.Context()), "1.42") < 0 {
		f["all"] = []string{"true"}
	}
	rep, err := s.cfg.Volumes.Prune(r.Context(), volume.Filters(f))
	for _, n := range rep.Deleted {
		s.volumeEvent(mevents.ActionDestroy, n, map[string]string{"driver": volume.DriverName})
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.volumeEvent(mevents.ActionPrune, "", map[string]string{"reclaimed": fmt.Sprint(rep.SpaceReclaimed)})
	out := mvolume.PruneReport{VolumesDeleted: rep.Deleted, SpaceReclaimed: rep.SpaceReclaimed}
	if out.VolumesDeleted == nil {
		out.VolumesDeleted = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) volumeEvent(action mevents.Action, name string, attrs map[string]string) {
	s.cfg.Events.Publish(mevents.Message{Type: mevents.VolumeEventType, Action: action, Actor: mevents.Actor{ID: name, Attributes: attrs}})
}

// VolumeUsage is the volume part of /system/df: every volume with its
// size and reference count (Items, the legacy Volumes list), the totals,
// and what unused volumes would free. Without a volume store it is empty.
func (s *Server) VolumeUsage(ctx context.Context) (*mvolume.DiskUsage, error) {
	du := &mvolume.DiskUsage{Items: []mvolume.Volume{}}
	if s.cfg.Volumes == nil {
		return du, nil
	}
	vs, err := s.cfg.Volumes.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		size, refs, err := s.cfg.Volumes.Usage(ctx, v.Name)
		if err != nil {
			return nil, err
		}
		av := apiVolume(v)
		av.UsageData = &mvolume.UsageData{Size: size, RefCount: int64(refs)}
		du.Items = append(du.Items, av)
		du.TotalCount++
		du.TotalSize += size
		if refs > 0 {
			du.ActiveCount++
		} else {
			du.Reclaimable += size
		}
	}
	return du, nil
}
