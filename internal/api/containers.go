package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	"github.com/moby/term"
	"golang.org/x/net/websocket"

	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/image"
)

func (s *Server) routeContainers(mux *http.ServeMux) {
	if s.cfg.Engine == nil {
		return
	}
	mux.HandleFunc("POST /containers/create", s.containerCreate)
	mux.HandleFunc("GET /containers/json", s.containerList)
	mux.HandleFunc("POST /containers/prune", s.containerPrune)
	mux.HandleFunc("GET /containers/{id}/json", s.containerInspect)
	// A legacy link's name, /<container>/<alias>, names the linked one.
	mux.HandleFunc("GET /containers/{linker}/{alias}/json", func(w http.ResponseWriter, r *http.Request) {
		r.SetPathValue("id", r.PathValue("linker")+"/"+r.PathValue("alias"))
		s.containerInspect(w, r)
	})
	mux.HandleFunc("POST /containers/{id}/start", s.containerStart)
	mux.HandleFunc("POST /containers/{id}/stop", s.containerStop)
	mux.HandleFunc("POST /containers/{id}/restart", s.containerRestart)
	mux.HandleFunc("POST /containers/{id}/kill", s.containerKill)
	mux.HandleFunc("POST /containers/{id}/wait", s.containerWait)
	mux.HandleFunc("POST /containers/{id}/attach", s.containerAttach)
	mux.HandleFunc("GET /containers/{id}/attach/ws", s.containerAttachWS)
	mux.HandleFunc("POST /containers/{id}/resize", s.containerResize)
	mux.HandleFunc("POST /containers/{id}/rename", s.containerRename)
	mux.HandleFunc("GET /containers/{id}/logs", s.containerLogs)
	mux.HandleFunc("DELETE /containers/{id}", s.containerRemove)
	mux.HandleFunc("DELETE /containers/{linker}/{alias}", s.containerRemove) // a legacy link name
	mux.HandleFunc("POST /commit", s.containerCommit)
	s.routeExec(mux)
	s.routeContainerOps(mux)
	s.routeContainerFiles(mux)
}

func (s *Server) containerCreate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		container.CreateRequest
		// MacAddress is the container-wide MAC address of clients before
		// API 1.52 (deprecated from 1.44): the primary network's.
		MacAddress string
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	req := body.CreateRequest
	var mac string
	if CompareVersions(VersionFrom(r.Context()), "1.52") < 0 {
		mac = body.MacAddress
	}
	// Before API 1.44, read-only binds were read-only at their top only,
	// and the bind options that choose otherwise did not exist.
	legacyRO := CompareVersions(VersionFrom(r.Context()), "1.44") < 0
	if legacyRO && req.HostConfig != nil {
		for i := range req.HostConfig.Mounts {
			if b := req.HostConfig.Mounts[i].BindOptions; b != nil {
				if b.ReadOnlyForceRecursive {
					writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer"))
					return
				}
				b.ReadOnlyNonRecursive = false
			}
		}
	}
	// Before API 1.44 a create joins one network at most, as dockerd
	// checks.
	if CompareVersions(VersionFrom(r.Context()), "1.44") < 0 && req.NetworkingConfig != nil && len(req.NetworkingConfig.EndpointsConfig) > 1 {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("Container cannot be created with multiple network endpoints"))
		return
	}
	// Clients before API 1.40 expect a shareable IPC namespace by
	// default, as dockerd gives them.
	if CompareVersions(VersionFrom(r.Context()), "1.40") < 0 {
		if req.HostConfig == nil {
			req.HostConfig = &container.HostConfig{}
		}
		if req.HostConfig.IpcMode == "" {
			req.HostConfig.IpcMode = container.IPCModeShareable
		}
	}
	id, warnings, err := s.cfg.Engine.Create(r.Context(), engine.CreateRequest{
		Name:                 r.URL.Query().Get("name"),
		Config:               req.Config,
		HostConfig:           req.HostConfig,
		NetworkingConfig:     req.NetworkingConfig,
		Platform:             r.URL.Query().Get("platform"),
		NonRecursiveReadOnly: legacyRO,
		MacAddress:           mac,
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if mac != "" && CompareVersions(VersionFrom(r.Context()), "1.44") >= 0 {
		warnings = append(warnings, "The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig instead.")
	}
	if warnings == nil {
		warnings = []string{}
	}
	writeJSON(w, http.StatusCreated, container.CreateResponse{ID: id, Warnings: warnings})
}

func (s *Server) containerInspect(w http.ResponseWriter, r *http.Request) {
	resp, err := s.cfg.Engine.Inspect(r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if boolValue(r, "size") {
		rw, rootfs, err := s.cfg.Engine.Sizes(r.Context(), resp.ID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		resp.SizeRw, resp.SizeRootFs = &rw, &rootfs
	}
	if CompareVersions(VersionFrom(r.Context()), "1.45") < 0 {
		addShortIDAliases(&resp)
	}
	if CompareVersions(VersionFrom(r.Context()), "1.52") < 0 {
		writeJSON(w, http.StatusOK, legacyInspectOf(resp))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) containerList(w http.ResponseWriter, r *http.Request) {
	f, err := parseListFilters(r.URL.Query().Get("filters"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	limit, err := int64Value(r, "limit", -1)
	if err != nil {
		writeError(w, r, err)
		return
	}
	all := boolValue(r, "all") || limit > 0
	if err := s.checkListFilters(f); err != nil {
		writeError(w, r, err)
		return
	}
	out := []container.Summary{}
	resolved := map[string]string{} // image reference -> image ID now
	ancestors := s.resolveAncestors(r.Context(), f)
	linkNames := s.cfg.Engine.LinkNames()
	for _, c := range s.cfg.Engine.List() {
		sum := c.Summary()
		sum.Names = append(sum.Names, linkNames[sum.ID]...) // /LINKER/ALIAS, as dockerd lists them
		// As dockerd: a reference that no longer names the container's
		// image (untagged, or moved to another) is shown as the image ID.
		if s.cfg.Images != nil && sum.Image != sum.ImageID {
			id, ok := resolved[sum.Image]
			if !ok {
				if img, err := s.cfg.Images.Get(r.Context(), sum.Image); err == nil {
					id = img.ID.String()
				}
				resolved[sum.Image] = id
			}
			if id != sum.ImageID {
				sum.Image = sum.ImageID
			}
		}
		if !all && sum.State != container.StateRunning && sum.State != container.StatePaused && sum.State != container.StateRestarting {
			if _, ok := f["status"]; !ok {
				continue
			}
		}
		ok, err := s.matchContainer(f, sum, ancestors)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if !ok {
			continue
		}
		if CompareVersions(VersionFrom(r.Context()), "1.46") < 0 {
			sum.HostConfig.Annotations = nil // in the list from API 1.46, as dockerd's
		}
		if boolValue(r, "size") {
			if rw, rootfs, err := s.cfg.Engine.Sizes(r.Context(), sum.ID); err == nil {
				sum.SizeRw, sum.SizeRootFs = rw, rootfs
			}
		}
		out = append(out, sum)
		if limit > 0 && int64(len(out)) >= limit {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// checkListFilters refuses the ps filter values dockerd refuses, with its
// words, whether or not a container would be compared with them.
func (s *Server) checkListFilters(f listFilters) error {
	for key, vals := range f {
		for v := range vals {
			switch key {
			case "status":
				switch container.ContainerState(v) {
				case container.StateCreated, container.StateRestarting, container.StateRunning, container.StateRemoving,
					container.StatePaused, container.StateExited, container.StateDead:
				default:
					return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'status=%s'", v))
				}
			case "exited":
				if _, err := strconv.Atoi(v); err != nil {
					return errdefs.ErrInvalidArgument.WithMessage(err.Error())
				}
			case "health":
				switch container.HealthStatus(v) {
				case container.Starting, container.Healthy, container.Unhealthy, container.NoHealthcheck:
				default:
					return errdefs.ErrInvalidArgument.WithMessage("Unrecognised filter value for health: " + v)
				}
			case "before", "since":
				if _, err := s.cfg.Engine.Get(v); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// matchContainer applies ps filters: id, name, label, status, exited,
// ancestor, health, network, before, since, volume, publish, expose and
// is-task.
func (s *Server) matchContainer(f listFilters, c container.Summary, ancestors map[string]string) (bool, error) {
	for key, vals := range f {
		any := false
		for v := range vals {
			switch key {
			case "health":
				h := container.NoHealthcheck
				if c.Health != nil {
					h = c.Health.Status
				}
				any = any || string(h) == v
			case "network":
				// a network's name, or its ID (a prefix of it), as dockerd
				for n, ep := range c.NetworkSettings.Networks {
					any = any || n == v || ancestors["net:"+v] == n || ep != nil && ep.NetworkID != "" && strings.HasPrefix(ep.NetworkID, v)
				}
			case "before", "since":
				ref, err := s.cfg.Engine.Get(v)
				if err != nil {
					return false, err
				}
				this, err := s.cfg.Engine.Get(c.ID)
				if err != nil {
					continue
				}
				a, b := this.Snapshot().Created, ref.Snapshot().Created
				if key == "before" {
					any = any || a.Before(b)
				} else {
					any = any || a.After(b)
				}
			case "id":
				any = any || strings.HasPrefix(c.ID, v)
			case "name":
				for _, n := range c.Names {
					any = any || nameFilterMatches(v, n)
				}
			case "label":
				k, val, hasVal := strings.Cut(v, "=")
				got, has := c.Labels[k]
				any = any || has && (!hasVal || got == val)
			case "status":
				any = any || string(c.State) == v
			case "exited":
				code, _ := strconv.Atoi(v)
				any = any || c.State == container.StateExited && strings.HasPrefix(c.Status, fmt.Sprintf("Exited (%d)", code))
			case "ancestor":
				// dockerd resolves the value to an image: a name in any
				// form (busybox, busybox:latest, docker.io/library/...)
				// or an ID prefix.
				any = any || c.Image == v || strings.HasPrefix(c.ImageID, v) || strings.HasPrefix(strings.TrimPrefix(c.ImageID, "sha256:"), v) ||
					(ancestors[v] != "" && ancestors[v] == c.ImageID) || ancestors["desc:"+c.ImageID] != ""
			case "volume":
				// a volume's name, a bind's host path or any mount's
				// destination, as dockerd
				for _, m := range c.Mounts {
					any = any || (m.Name != "" && m.Name == v) || (m.Name == "" && m.Source == v) || m.Destination == v
				}
			case "publish", "expose":
				// dockerd's: a host port the container has published
				// (its Ports' PublicPort), or a container port it exposes
				// (Config.ExposedPorts).
				lo, hi, proto, err := parsePortFilter(v)
				if err != nil {
					return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s=%s': %v", key, v, err))
				}
				if key == "publish" {
					for _, p := range c.Ports {
						any = any || p.PublicPort != 0 && p.PublicPort >= lo && p.PublicPort <= hi && p.Type == proto
					}
					continue
				}
				ctr, err := s.cfg.Engine.Get(c.ID)
				if err != nil {
					continue
				}
				snap := ctr.Snapshot()
				var ports []string
				if snap.Config != nil {
					for p := range snap.Config.ExposedPorts {
						ports = append(ports, p.String())
					}
				}
				for _, p := range ports {
					num, pr, _ := strings.Cut(p, "/")
					n, err := strconv.ParseUint(num, 10, 16)
					any = any || err == nil && uint16(n) >= lo && uint16(n) <= hi && pr == proto
				}
			case "is-task":
				// no container here is a swarm task
				any = any || v == "false"
			default:
				return false, errdefs.ErrInvalidArgument.WithMessage("invalid filter '" + key + "'")
			}
		}
		if key == "label" {
			// dockerd requires every label term, not one of them
			// (Compose filters by project, service and one-off at once).
			any = labelsMatch(slices.Collect(maps.Keys(vals)), c.Labels)
		}
		if !any {
			return false, nil
		}
	}
	return true, nil
}

func (s *Server) containerStart(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Engine.Start(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func stopTimeout(r *http.Request) (*int, error) {
	if r.URL.Query().Get("t") == "" {
		return nil, nil
	}
	t, err := int64Value(r, "t", 0)
	if err != nil {
		return nil, err
	}
	v := int(t)
	return &v, nil
}

func (s *Server) containerStop(w http.ResponseWriter, r *http.Request) {
	t, err := stopTimeout(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cfg.Engine.Stop(r.Context(), r.PathValue("id"), r.URL.Query().Get("signal"), t); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerRestart(w http.ResponseWriter, r *http.Request) {
	t, err := stopTimeout(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cfg.Engine.Restart(r.Context(), r.PathValue("id"), r.URL.Query().Get("signal"), t); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerKill(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Engine.Kill(r.Context(), r.PathValue("id"), r.URL.Query().Get("signal")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerRename(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Engine.Rename(r.PathValue("id"), r.URL.Query().Get("name")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerRemove(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	if ref == "" {
		ref = "/" + r.PathValue("linker") + "/" + r.PathValue("alias")
	}
	var err error
	if boolValue(r, "link") { // docker rm --link: the link, not a container
		err = s.cfg.Engine.RemoveLink(r.Context(), ref)
	} else {
		err = s.cfg.Engine.Remove(r.Context(), ref, engine.RemoveOptions{Force: boolValue(r, "force"), Volumes: boolValue(r, "v")})
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerPrune(w http.ResponseWriter, r *http.Request) {
	f, err := parseListFilters(r.URL.Query().Get("filters"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	rep := container.PruneReport{ContainersDeleted: []string{}}
	for _, c := range s.cfg.Engine.List() {
		sum := c.Summary()
		if sum.State == container.StateRunning || sum.State == container.StatePaused || sum.State == container.StateRestarting {
			continue
		}
		ok, err := matchPrune(f, sum, c.Created)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if !ok {
			continue
		}
		if err := s.cfg.Engine.Remove(r.Context(), sum.ID, engine.RemoveOptions{}); err == nil {
			rep.ContainersDeleted = append(rep.ContainersDeleted, sum.ID)
		}
	}
	s.cfg.Events.Publish(mevents.Message{Type: mevents.ContainerEventType, Action: mevents.ActionPrune,
		Actor: mevents.Actor{Attributes: map[string]string{"reclaimed": fmt.Sprint(rep.SpaceReclaimed)}}})
	writeJSON(w, http.StatusOK, rep)
}

func matchPrune(f listFilters, c container.Summary, created time.Time) (bool, error) {
	for key, vals := range f {
		switch key {
		case "label", "label!":
			for v := range vals {
				k, val, hasVal := strings.Cut(v, "=")
				got, has := c.Labels[k]
				m := has && (!hasVal || got == val)
				if m == (key == "label!") {
					return false, nil
				}
			}
		case "until":
			for v := range vals {
				// A duration, a date or time, or Unix seconds, as the
				// other prunes take it.
				t, err := parseUntil(v, time.Now())
				if err != nil {
					return false, err
				}
				if created.After(t) { // to the nanosecond: Summary's Created is seconds
					return false, nil
				}
			}
		default:
			return false, errdefs.ErrInvalidArgument.WithMessage("invalid filter '" + key + "'")
		}
	}
	return true, nil
}

func (s *Server) containerResize(w http.ResponseWriter, r *http.Request) {
	h, wd, err := resizeDims(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cfg.Engine.Resize(r.Context(), r.PathValue("id"), h, wd); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// resizeDims reads a resize's h and w as dockerd does: both required,
// unsigned 32-bit numbers (a terminal keeps 16 bits of them).
func resizeDims(r *http.Request) (h, w uint16, err error) {
	var dims [2]uint16
	for i, k := range []string{"h", "w"} {
		v := r.URL.Query().Get(k)
		what := map[string]string{"h": "height", "w": "width"}[k]
		// dockerd's words: "invalid syntax", or "value out of range" for
		// a negative number or one above 32 bits.
		digits, neg := strings.CutPrefix(v, "-")
		n, perr := strconv.ParseUint(digits, 10, 32)
		switch {
		case digits == "" || digits[0] == '+':
			perr = strconv.ErrSyntax
		case perr != nil:
			perr = errors.Unwrap(perr)
		case neg:
			perr = strconv.ErrRange
		}
		if perr != nil {
			return 0, 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid resize %s %q: %v", what, v, perr))
		}
		dims[i] = uint16(min(n, 65535))
	}
	return dims[0], dims[1], nil
}

// containerWait sends 200 and its headers at once (the docker CLI waits
// for them before it starts the container), then the body when the
// condition is met.
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) {
	wait, err := s.cfg.Engine.Wait(r.PathValue("id"), engine.WaitCondition(r.URL.Query().Get("condition")))
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	code, err := wait(ctx)
	resp := container.WaitResponse{StatusCode: int64(code)}
	if err != nil {
		resp.Error = &container.WaitExitError{Message: err.Error()}
	}
	writeJSONBody(w, resp)
}

func writeJSONBody(w io.Writer, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		return
	}
	_, _ = w.Write(append(b, '\n'))
}

func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	tty, err := s.cfg.Engine.Tty(ref)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Neither stream nor logs (the Go SDK's default options): the
	// connection is upgraded and ended at once, as dockerd does.
	media := types.MediaTypeMultiplexedStream
	if tty {
		media = types.MediaTypeRawStream
	}
	opts := engine.AttachOptions{Stdin: boolValue(r, "stdin"), Stdout: boolValue(r, "stdout"), Stderr: boolValue(r, "stderr")}
	if opts.DetachKeys, err = detachKeys(r); err != nil {
		// dockerd's answer to a failed attach: the status, a raw-stream
		// Content-Type and the message as the body (older docker CLIs
		// print it).
		w.Header().Set("Content-Type", types.MediaTypeRawStream)
		w.WriteHeader(StatusOf(err))
		_, _ = io.WriteString(w, err.Error()+"\r\n")
		return
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	var conn *HijackedConn
	var streams engine.AttachStreams
	open := func() (engine.AttachStreams, error) {
		var err error
		if conn, err = Hijack(w, r, media); err != nil {
			return engine.AttachStreams{}, err
		}
		streams = streamsFor(conn, tty)
		if boolValue(r, "logs") {
			_ = s.cfg.Engine.Logs(ctx, ref, engine.LogOptions{Stdout: opts.Stdout, Stderr: opts.Stderr, Tail: -1}, func(en engine.LogEntry) error {
				if en.Stream == "stderr" {
					_, err := streams.Stderr.Write(en.Line)
					return err
				}
				_, err := streams.Stdout.Write(en.Line)
				return err
			})
		}
		if !boolValue(r, "stream") {
			return streams, errAttachDone
		}
		return streams, nil
	}
	err = s.cfg.Engine.Attach(ctx, ref, opts, open)
	if conn == nil {
		writeError(w, r, err)
		return
	}
	if err != nil && err != errAttachDone {
		fmt.Fprintf(streams.Stderr, "Error attaching: %s\n", err)
	}
	finishStreams(streams, conn)
}

// containerAttachWS attaches to a container over a WebSocket, as dockerd
// does: the container's stdin is what the client sends, its stdout and
// stderr are sent unmultiplexed (the frames keep them apart from the
// client's input), as binary frames from API 1.28 on and text frames
// before. Before API 1.42 all three streams are attached whatever the
// query says. An error found before the WebSocket handshake (no such
// container, bad detach keys) is an HTTP error.
func (s *Server) containerAttachWS(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	version := VersionFrom(r.Context())
	opts := engine.AttachOptions{Stdin: true, Stdout: true, Stderr: true}
	if CompareVersions(version, "1.42") >= 0 {
		opts = engine.AttachOptions{Stdin: boolValue(r, "stdin"), Stdout: boolValue(r, "stdout"), Stderr: boolValue(r, "stderr")}
	}
	var err error
	if opts.DetachKeys, err = detachKeys(r); err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	done := make(chan struct{})
	var served chan struct{}
	open := func() (engine.AttachStreams, error) {
		conns := make(chan *websocket.Conn, 1)
		srv := websocket.Server{Handler: func(c *websocket.Conn) {
			conns <- c
			<-done
		}}
		served = make(chan struct{})
		go func() {
			defer close(served)
			srv.ServeHTTP(w, r)
		}()
		var ws *websocket.Conn
		select {
		case ws = <-conns:
		case <-served:
			// The handshake failed; the server answered the client.
			return engine.AttachStreams{}, errWSHandshake
		}
		if CompareVersions(version, "1.28") >= 0 {
			ws.PayloadType = websocket.BinaryFrame
		}
		streams := engine.AttachStreams{Stdin: ws, Stdout: ws, Stderr: ws}
		if boolValue(r, "logs") {
			_ = s.cfg.Engine.Logs(ctx, ref, engine.LogOptions{Stdout: opts.Stdout, Stderr: opts.Stderr, Tail: -1}, func(en engine.LogEntry) error {
				_, err := ws.Write(en.Line)
				return err
			})
		}
		if !boolValue(r, "stream") {
			return streams, errAttachDone
		}
		return streams, nil
	}
	err = s.cfg.Engine.Attach(ctx, ref, opts, open)
	close(done)
	if served == nil {
		writeError(w, r, err)
		return
	}
	<-served
}

// errWSHandshake ends an attach whose WebSocket handshake failed.
var errWSHandshake = errors.New("websocket handshake failed")

// streamContext is the context of a hijacked stream (attach, exec): not
// ended by the request's, which the hijack ends, but by the server's stop.
func (s *Server) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	go func() {
		select {
		case <-s.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// detachKeys reads an attach's detachKeys query value (nil: the default).
func detachKeys(r *http.Request) ([]byte, error) {
	k := r.URL.Query().Get("detachKeys")
	if k == "" {
		return nil, nil
	}
	keys, err := term.ToBytes(k)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid detach keys (%s) provided", k))
	}
	return keys, nil
}

// errAttachDone ends an attach that only wanted the logs.
var errAttachDone = engine.ErrLogsOnly

// streamsFor frames the output on conn (multiplexed without a TTY, raw
// with one) and reads stdin from it through a pipe, so that the
// connection's read side keeps being drained after the stream ended.
func streamsFor(conn *HijackedConn, tty bool) engine.AttachStreams {
	stdin := newDrainedStdin(conn)
	if tty {
		return engine.AttachStreams{Stdin: stdin, Stdout: conn, Stderr: conn}
	}
	mux := NewMuxWriter(conn)
	return engine.AttachStreams{Stdin: stdin, Stdout: mux.Stream(Stdout), Stderr: mux.Stream(Stderr)}
}

// drainedStdin is a client's stdin read from a hijacked connection by one
// goroutine. Closing the connection while the client's bytes sit unread
// (keystrokes, a terminal's answers) makes the kernel reset it, and the
// docker CLI then fails with "connection reset by peer" instead of
// reporting the exit code; so after the output ended the goroutine goes on
// reading and discarding until the client closes its side (or a deadline).
type drainedStdin struct {
	*io.PipeReader
	conn *HijackedConn
	done chan struct{}
}

func newDrainedStdin(conn *HijackedConn) *drainedStdin {
	pr, pw := io.Pipe()
	d := &drainedStdin{PipeReader: pr, conn: conn, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		_, err := io.Copy(pw, conn)
		pw.CloseWithError(err)
		_, _ = io.Copy(io.Discard, conn) // after the pipe's reader left
	}()
	return d
}

// finish ends the exchange: it half-closes our side, lets the client
// close its side (at most two seconds), then closes the connection.
func (d *drainedStdin) finish() {
	_ = d.conn.CloseWrite()
	_ = d.PipeReader.Close()
	_ = d.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	<-d.done
	_ = d.conn.Close()
}

// finishStreams ends the exchange of streams made by streamsFor.
func finishStreams(s engine.AttachStreams, conn *HijackedConn) {
	if d, ok := s.Stdin.(*drainedStdin); ok {
		d.finish()
		return
	}
	_ = conn.CloseWrite()
	_ = conn.Close()
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref := r.PathValue("id")
	o := engine.LogOptions{Stdout: boolValue(r, "stdout"), Stderr: boolValue(r, "stderr"), Follow: boolValue(r, "follow"), Tail: -1}
	if !o.Stdout && !o.Stderr {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("Bad parameters: you must choose at least one stream"))
		return
	}
	var err error
	if o.Since, err = parseTimestamp("since", q.Get("since")); err != nil {
		writeError(w, r, err)
		return
	}
	if u := q.Get("until"); u != "0" { // dockerd's: until=0 is no limit
		if o.Until, err = parseTimestamp("until", u); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if n, err := strconv.Atoi(q.Get("tail")); err == nil {
		o.Tail = n // anything else ("all", "abc") is every line, as dockerd's
	}
	tty, err := s.cfg.Engine.Tty(ref)
	if err != nil {
		writeError(w, r, err)
		return
	}
	stamps := boolValue(r, "timestamps")
	details := boolValue(r, "details")
	flusher, _ := w.(http.Flusher)
	started := false
	var mux *MuxWriter
	begin := func() {
		if started {
			return
		}
		started = true
		if tty {
			w.Header().Set("Content-Type", types.MediaTypeRawStream)
		} else {
			w.Header().Set("Content-Type", types.MediaTypeMultiplexedStream)
			mux = NewMuxWriter(w)
		}
		w.WriteHeader(http.StatusOK)
	}
	if o.Follow {
		begin()
		if flusher != nil {
			flusher.Flush()
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	err = s.cfg.Engine.Logs(ctx, ref, o, func(en engine.LogEntry) error {
		begin()
		line := en.Line
		if details {
			// dockerd's: the entry's attributes (the labels and env
			// log-opts), k=v sorted by key and query-escaped, then a
			// space.
			line = append(append(logAttrsPrefix(en.Attrs), ' '), line...)
		}
		if stamps {
			// Fixed width, nine digits, as dockerd's RFC3339NanoFixed.
			line = append([]byte(en.Time.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")+" "), line...)
		}
		var werr error
		switch {
		case tty:
			_, werr = w.Write(line)
		case en.Stream == "stderr":
			_, werr = mux.Stream(Stderr).Write(line)
		default:
			_, werr = mux.Stream(Stdout).Write(line)
		}
		if o.Follow && flusher != nil {
			flusher.Flush()
		}
		return werr
	})
	if err != nil && !started {
		writeError(w, r, err)
		return
	}
	begin()
}

// listFilters are the filters of list and prune requests: key -> values.
type listFilters map[string]map[string]bool

// resolveAncestors maps each ancestor filter value that names an image to
// its ID, and each network filter value that names a network (by name,
// ID or ID prefix) to "net:" + value -> its name, once per list.
func (s *Server) resolveAncestors(ctx context.Context, f listFilters) map[string]string {
	out := map[string]string{}
	if s.cfg.Networks != nil {
		for v := range f["network"] {
			if n, err := s.cfg.Networks.Get(ctx, v); err == nil {
				out["net:"+v] = n.Name
			}
		}
	}
	if s.cfg.Images == nil {
		return out
	}
	var bases []image.Image
	for v := range f["ancestor"] {
		if img, err := s.cfg.Images.Get(ctx, v); err == nil {
			out[v] = img.ID.String()
			bases = append(bases, img)
		}
	}
	// Images built on an ancestor descend from it: its layers and its
	// history come first in theirs, and they have history of their own
	// (a LABEL step adds an entry, not a layer), as dockerd's parent
	// chain has them. "desc:<image ID>" marks them.
	if len(bases) > 0 {
		if imgs, err := s.cfg.Images.List(ctx, image.ListOptions{All: true}); err == nil {
			for _, img := range imgs {
				for _, b := range bases {
					if descends(img, b) {
						out["desc:"+img.ID.String()] = "1"
					}
				}
			}
		}
	}
	return out
}

// parseListFilters reads the filters query value: {"key":{"v":true}} or
// the older {"key":["v"]}.
func parseListFilters(s string) (listFilters, error) {
	f := listFilters{}
	if s == "" {
		return f, nil
	}
	if err := json.Unmarshal([]byte(s), (*map[string]map[string]bool)(&f)); err == nil {
		return f, nil
	}
	var old map[string][]string
	if err := json.Unmarshal([]byte(s), &old); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage("invalid filter: " + err.Error())
	}
	for k, vs := range old {
		f[k] = map[string]bool{}
		for _, v := range vs {
			f[k][v] = true
		}
	}
	return f, nil
}

// parsePortFilter parses a publish= or expose= value, PORT[-PORT][/PROTO]
// (tcp when no protocol is given).
func parsePortFilter(v string) (lo, hi uint16, proto string, err error) {
	ports, proto, _ := strings.Cut(v, "/")
	if proto == "" {
		proto = "tcp"
	}
	a, b, isRange := strings.Cut(ports, "-")
	n, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, "", fmt.Errorf("invalid port %q", a)
	}
	lo, hi = uint16(n), uint16(n)
	if isRange {
		m, err := strconv.ParseUint(b, 10, 16)
		if err != nil || uint16(m) < lo {
			return 0, 0, "", fmt.Errorf("invalid port range %q", ports)
		}
		hi = uint16(m)
	}
	return lo, hi, proto, nil
}

// nameFilterMatches is dockerd's name filter: the value is a regular
// expression matched against the name with and without its leading slash
// (so "web" matches any name containing it, "^web$" only web); a value
// that is not a valid expression matches only the name itself.
func nameFilterMatches(filter, name string) bool {
	bare := strings.TrimPrefix(name, "/")
	if filter == name || filter == bare {
		return true
	}
	re, err := regexp.Compile(filter)
	return err == nil && (re.MatchString(name) || re.MatchString(bare))
}

// logAttrsPrefix is dockerd's form of a log entry's attributes for logs
// --details: key=value pairs sorted by key, query-escaped, comma-separated.
func logAttrsPrefix(attrs map[string]string) []byte {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, url.QueryEscape(k)+"="+url.QueryEscape(attrs[k])...)
	}
	return b
}

// descends reports whether child was built on base: base's layers and
// history entries begin child's, and child has more history.
func descends(child, base image.Image) bool {
	cd, bd := child.Config.RootFS.DiffIDs, base.Config.RootFS.DiffIDs
	ch, bh := child.Config.History, base.Config.History
	if len(bh) == 0 || len(ch) <= len(bh) || len(cd) < len(bd) || !slices.Equal(cd[:len(bd)], bd) {
		return false
	}
	for i, h := range bh {
		c := ch[i]
		if c.CreatedBy != h.CreatedBy || c.EmptyLayer != h.EmptyLayer || c.Comment != h.Comment ||
			(c.Created == nil) != (h.Created == nil) || c.Created != nil && !c.Created.Equal(*h.Created) {
			return false
		}
	}
	return true
}
