package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	mevents "github.com/moby/moby/api/types/events"
	imagetypes "github.com/moby/moby/api/types/image"
	registrytypes "github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/storage"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/image"
)

// The image endpoints (/images/..., POST /images/create) over the image
// service in Config.Images. Image names may hold slashes
// ("127.0.0.1:5000/busybox:1"), which ServeMux's {name} cannot match, so
// /images/{name...}/<verb> is split here from its end.

func (s *Server) routeImages(mux *http.ServeMux) {
	mux.HandleFunc("GET /images/json", s.imagesList)
	mux.HandleFunc("GET /images/get", s.imagesSave)
	mux.HandleFunc("POST /images/create", s.imagesCreate)
	mux.HandleFunc("POST /images/load", s.imagesLoad)
	mux.HandleFunc("POST /images/prune", s.imagesPrune)
	mux.HandleFunc("GET /images/search", s.imagesSearch)
	mux.HandleFunc("GET /images/{rest...}", s.imagesGetByName)
	mux.HandleFunc("POST /images/{rest...}", s.imagesPostByName)
	mux.HandleFunc("DELETE /images/{rest...}", s.imagesDelete)
	mux.HandleFunc("POST /auth", s.login) // auth.go
}

// images returns the image service, or an Unavailable error for a server
// built without one.
func (s *Server) images() (*image.Service, error) {
	if s.cfg.Images == nil {
		return nil, errdefs.ErrUnavailable.WithMessage("the image service is not available in this daemon")
	}
	return s.cfg.Images, nil
}

// splitVerb splits "NAME/verb" for the verbs given; ok is false when rest
// does not end in one of them or NAME is empty.
func splitVerb(rest string, verbs ...string) (name, verb string, ok bool) {
	i := strings.LastIndex(rest, "/")
	if i <= 0 {
		return "", "", false
	}
	for _, v := range verbs {
		if rest[i+1:] == v {
			return rest[:i], v, true
		}
	}
	return "", "", false
}

func (s *Server) imagesGetByName(w http.ResponseWriter, r *http.Request) {
	name, verb, ok := splitVerb(r.PathValue("rest"), "json", "history", "get")
	if !ok {
		writeError(w, r, errNotFound)
		return
	}
	switch verb {
	case "json":
		s.imageInspect(w, r, name)
	case "history":
		s.imageHistory(w, r, name)
	case "get":
		s.saveImages(w, r, []string{name})
	}
}

func (s *Server) imagesPostByName(w http.ResponseWriter, r *http.Request) {
	name, verb, ok := splitVerb(r.PathValue("rest"), "tag", "push")
	if !ok {
		writeError(w, r, errNotFound)
		return
	}
	switch verb {
	case "tag":
		s.imageTag(w, r, name)
	case "push":
		s.imagePush(w, r, name)
	}
}

// noSuchImage is dockerd's 404 for a name or ID it does not know: "No such
// image: busybox:latest" (a name gets its default tag, an ID stays as
// given).
func noSuchImage(ref string) error {
	shown := ref
	if !looksLikeID(ref) {
		if n, err := reference.ParseNormalizedNamed(ref); err == nil {
			shown = reference.FamiliarString(reference.TagNameOnly(n))
		}
	}
	return errdefs.ErrNotFound.WithMessage("No such image: " + shown)
}

// looksLikeID reports whether ref is an image ID or ID prefix
// ("sha256:..." or bare hex).
func looksLikeID(ref string) bool {
	h := strings.TrimPrefix(ref, "sha256:")
	if h == "" || len(h) > 64 {
		return false
	}
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return strings.HasPrefix(ref, "sha256:") || len(h) == 64 || len(h) >= 1 && !strings.ContainsAny(ref, ":/@")
}

// getImage looks ref up, with dockerd's 404 message.
func (s *Server) getImage(ctx context.Context, ref string) (image.Image, error) {
	svc, err := s.images()
	if err != nil {
		return image.Image{}, err
	}
	img, err := svc.Get(ctx, ref)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return image.Image{}, noSuchImage(ref)
		}
		return image.Image{}, messageError(err, innerMessage(err))
	}
	return img, nil
}

// publishImage sends an image event (pull, push, tag, untag, delete,
// import, load, save) on the bus, as dockerd does.
func (s *Server) publishImage(action mevents.Action, id string, attrs map[string]string) {
	if attrs == nil {
		attrs = map[string]string{}
	}
	// As dockerd's LogImageEvent: the image's labels, then the name.
	if svc, err := s.images(); err == nil && action != mevents.ActionDelete {
		if img, err := svc.Get(context.Background(), id); err == nil {
			for k, v := range img.Config.Config.Labels {
				if _, ok := attrs[k]; !ok {
					attrs[k] = v
				}
			}
		}
	}
	if _, ok := attrs["name"]; !ok {
		attrs["name"] = id
	}
	s.cfg.Events.Publish(mevents.Message{Type: mevents.ImageEventType, Action: action, Actor: mevents.Actor{ID: id, Attributes: attrs}})
}

// imageFilters parses the `filters` query for /images/json and
// /images/prune (both encodings the CLI has used) and rejects keys not in
// valid with dockerd's "invalid filter 'KEY'".
func imageFilters(q url.Values, valid ...string) (map[string][]string, error) {
	out := map[string][]string{}
	s := q.Get("filters")
	if s == "" {
		return out, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter: %v", err))
	}
	for k, v := range raw {
		ok := false
		for _, x := range valid {
			ok = ok || x == k
		}
		if !ok {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
		set := map[string]bool{}
		if err := json.Unmarshal(v, &set); err != nil {
			var list []string
			if err2 := json.Unmarshal(v, &list); err2 != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter %q: values must be a list or a set of strings", k))
			}
			for _, e := range list {
				set[e] = true
			}
		}
		for e, on := range set {
			if on {
				out[k] = append(out[k], e)
			}
		}
		sort.Strings(out[k])
	}
	for _, v := range out["dangling"] {
		switch strings.ToLower(v) {
		case "true", "1", "false", "0":
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'dangling=%s'", v))
		}
	}
	return out, nil
}

// legacySummary is an image list item before API 1.44, with VirtualSize.
type legacySummary struct {
	imagetypes.Summary
	VirtualSize int64 `json:"VirtualSize"`
}

// imagesList answers GET /images/json: every image matching the filters
// (dangling, reference, label, before, since, until), newest first, with
// RepoDigests for --digests and, when shared-size is set, the bytes each
// shares with other images (-1 otherwise, as Containers is until the
// engine counts them).
func (s *Server) imagesList(w http.ResponseWriter, r *http.Request) {
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	f, err := imageFilters(q, "dangling", "label", "before", "since", "reference", "until")
	if err != nil {
		writeError(w, r, err)
		return
	}
	version := VersionFrom(r.Context())
	if p := q.Get("filter"); p != "" && CompareVersions(version, "1.41") < 0 {
		f["reference"] = append(f["reference"], p)
	}
	for k, vs := range f {
		if k == "dangling" {
			for i, v := range vs {
				vs[i] = strings.ToLower(v)
			}
		}
	}
	imgs, err := svc.List(r.Context(), image.ListOptions{Filters: f, All: boolValue(r, "all")})
	if err != nil {
		writeError(w, r, messageError(err, innerMessage(err)))
		return
	}
	shared := boolValue(r, "shared-size") && CompareVersions(version, "1.42") >= 0
	var layerUse map[digest.Digest]int
	if shared {
		all, err := svc.List(r.Context(), image.ListOptions{})
		if err != nil {
			writeError(w, r, messageError(err, innerMessage(err)))
			return
		}
		layerUse = map[digest.Digest]int{}
		for _, img := range all {
			for _, l := range img.Manifest.Layers {
				layerUse[l.Digest]++
			}
		}
	}
	legacy := CompareVersions(version, "1.44") < 0
	useNone := CompareVersions(version, "1.43") < 0
	out := make([]any, 0, len(imgs))
	for _, img := range imgs {
		if pats := f["reference"]; len(pats) > 0 {
			// As dockerd: only the names that match are shown.
			img.RepoTags = matchingRefs(img.RepoTags, pats)
			img.RepoDigests = matchingRefs(img.RepoDigests, pats)
			if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
				continue
			}
		}
		sum := imagetypes.Summary{
			Containers:  -1,
			Created:     img.Created.Unix(),
			ID:          img.ID.String(),
			Labels:      img.Labels,
			RepoTags:    nonNil(img.RepoTags),
			RepoDigests: nonNil(img.RepoDigests),
			SharedSize:  -1,
			Size:        img.Size,
		}
		if shared {
			sum.SharedSize = 0
			for i, l := range img.Manifest.Layers {
				if layerUse[l.Digest] > 1 && i < len(img.LayerSizes) {
					sum.SharedSize += img.LayerSizes[i] // unpacked, as Size
				}
			}
		}
		if useNone && len(sum.RepoTags) == 0 && len(sum.RepoDigests) == 0 {
			sum.RepoTags = []string{"<none>:<none>"}
			sum.RepoDigests = []string{"<none>@<none>"}
		}
		if legacy {
			out = append(out, legacySummary{Summary: sum, VirtualSize: sum.Size})
		} else {
			out = append(out, sum)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// matchingRefs keeps the familiar names that one of the patterns matches,
// as the name with its tag or digest or as the repository alone
// (reference.FamiliarMatch).
func matchingRefs(refs, patterns []string) []string {
	var out []string
	for _, r := range refs {
		n, err := reference.ParseNormalizedNamed(r)
		if err != nil {
			continue
		}
		for _, p := range patterns {
			if ok, _ := reference.FamiliarMatch(p, n); ok {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// inspectResponse is GET /images/{name}/json: the upstream type plus the
// fields dockerd still sends to older clients.
type inspectResponse struct {
	imagetypes.InspectResponse
	// Before API 1.52 dockerd always sent these (empty when unset); from
	// it on, only when set. They shadow the embedded omitempty fields.
	Parent        *string `json:"Parent,omitempty"`
	Comment       *string `json:"Comment,omitempty"`
	DockerVersion *string `json:"DockerVersion,omitempty"`
	Author        *string `json:"Author,omitempty"`
	// Config as the API version has it (legacyImageConfig).
	Config      json.RawMessage `json:"Config,omitempty"`
	VirtualSize *int64          `json:"VirtualSize,omitempty"`
	// Container and ContainerConfig went away in API 1.45; dockerd sent
	// them before (empty for images without them), and Compose v1 reads
	// ContainerConfig.Volumes of every image it recreates a container of.
	Container       *string          `json:"Container,omitempty"`
	ContainerConfig *json.RawMessage `json:"ContainerConfig,omitempty"`
}

// legacyImageConfig is an image's Config as dockerd sends it at API
// version: before 1.52 with Cmd, Entrypoint, Env, Labels, OnBuild, User,
// Volumes and WorkingDir even when unset (null or ""), before 1.50 also
// with the container fields it carried (Hostname, Tty, Image, ...), so that
// a client's template naming one of them finds it.
func legacyImageConfig(cfg *dockerspec.DockerOCIImageConfig, version string) json.RawMessage {
	b, err := marshalJSON(cfg)
	if err != nil || CompareVersions(version, "1.52") >= 0 {
		return b
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return b
	}
	fill := func(k string, v any) {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	for _, k := range []string{"Cmd", "Entrypoint", "Env", "Labels", "OnBuild", "Volumes"} {
		fill(k, nil)
	}
	fill("User", "")
	fill("WorkingDir", "")
	if CompareVersions(version, "1.50") < 0 {
		for _, k := range []string{"Hostname", "Domainname", "Image"} {
			fill(k, "")
		}
		for _, k := range []string{"AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"} {
			fill(k, false)
		}
	}
	if out, err := marshalJSON(m); err == nil {
		return out
	}
	return b
}

// rawConfig holds the docker fields of an image config that OCI's type
// lacks.
type rawConfig struct {
	Author        string                           `json:"author"`
	Comment       string                           `json:"comment"`
	DockerVersion string                           `json:"docker_version"`
	Parent        string                           `json:"parent"`
	Container     string                           `json:"container"`
	ContainerCfg  json.RawMessage                  `json:"container_config"`
	OSVersion     string                           `json:"os.version"`
	Config        *dockerspec.DockerOCIImageConfig `json:"config"`
}

// emptyContainerConfig is the ContainerConfig dockerd 20.10 shows for an
// image whose config has none: a zero container config.
var emptyContainerConfig = json.RawMessage(`{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}`)

// inspectImage builds dockerd's inspect answer for img at API version.
func inspectImage(img image.Image, version string) inspectResponse {
	var rc rawConfig
	_ = json.Unmarshal(img.ConfigRaw, &rc)
	cfg := rc.Config
	if cfg == nil {
		cfg = &dockerspec.DockerOCIImageConfig{ImageConfig: img.Config.Config}
	}
	layers := make([]string, 0, len(img.Config.RootFS.DiffIDs))
	for _, d := range img.Config.RootFS.DiffIDs {
		layers = append(layers, d.String())
	}
	created := ""
	if !img.Created.IsZero() {
		created = img.Created.UTC().Format(time.RFC3339Nano)
	}
	resp := inspectResponse{InspectResponse: imagetypes.InspectResponse{
		ID:           img.ID.String(),
		RepoTags:     nonNil(img.RepoTags),
		RepoDigests:  nonNil(img.RepoDigests),
		Comment:      rc.Comment,
		Created:      created,
		Author:       rc.Author,
		Config:       cfg,
		Architecture: img.Config.Architecture,
		Variant:      img.Config.Variant,
		Os:           img.Config.OS,
		OsVersion:    rc.OSVersion,
		Size:         img.Size,
		GraphDriver:  &storage.DriverData{Name: "overlay2", Data: map[string]string{}},
		RootFS:       imagetypes.RootFS{Type: "layers", Layers: layers},
		Metadata:     imagetypes.Metadata{LastTagTime: img.LastTagTime},
	}}
	if CompareVersions(version, "1.44") < 0 {
		size := img.Size
		resp.VirtualSize = &size
	}
	for _, f := range []struct {
		dst **string
		v   *string
	}{{&resp.Parent, &rc.Parent}, {&resp.Comment, &rc.Comment}, {&resp.DockerVersion, &rc.DockerVersion}, {&resp.Author, &rc.Author}} {
		if *f.v != "" || CompareVersions(version, "1.52") < 0 {
			*f.dst = f.v
		}
	}
	resp.Config = legacyImageConfig(cfg, version)
	if CompareVersions(version, "1.45") < 0 {
		cc := emptyContainerConfig
		if len(rc.ContainerCfg) > 0 && rc.ContainerCfg[0] == '{' {
			cc = rc.ContainerCfg
		}
		resp.Container, resp.ContainerConfig = &rc.Container, &cc
	}
	return resp
}

func (s *Server) imageInspect(w http.ResponseWriter, r *http.Request, name string) {
	img, err := s.getImage(r.Context(), name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// API 1.49's platform (a JSON platform): an image of another one is
	// not found, as dockerd says (berth keeps one platform per image).
	if p := r.URL.Query().Get("platform"); p != "" && CompareVersions(VersionFrom(r.Context()), "1.49") >= 0 {
		var want ocispec.Platform
		if err := json.Unmarshal([]byte(p), &want); err != nil {
			writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid platform: %v", err)))
			return
		}
		have := ocispec.Platform{OS: img.Config.OS, Architecture: img.Config.Architecture, Variant: img.Config.Variant}
		if !content.MatchPlatform(want, have) {
			writeError(w, r, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("image with reference %s was found but its platform (%s) does not match the specified platform (%s)",
				name, content.FormatPlatform(have), content.FormatPlatform(want))))
			return
		}
	}
	writeJSON(w, http.StatusOK, inspectImage(img, VersionFrom(r.Context())))
}

func (s *Server) imageHistory(w http.ResponseWriter, r *http.Request, name string) {
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := s.getImage(r.Context(), name); err != nil {
		writeError(w, r, err)
		return
	}
	hist, err := svc.History(r.Context(), name)
	if err != nil {
		writeError(w, r, messageError(err, innerMessage(err)))
		return
	}
	out := make([]imagetypes.HistoryResponseItem, 0, len(hist))
	for _, h := range hist {
		out = append(out, imagetypes.HistoryResponseItem{
			ID: h.ID, Created: h.Created.Unix(), CreatedBy: h.CreatedBy, Tags: h.Tags, Size: h.Size, Comment: h.Comment,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// repoTagReference builds the reference of repo and tag as dockerd's
// RepoTagReference: "" repo is nil; a digest is refused; the tag defaults
// to latest.
func repoTagReference(repo, tag string) (reference.Named, error) {
	if repo == "" {
		return nil, nil
	}
	ref, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	if _, ok := ref.(reference.Digested); ok {
		return nil, errdefs.ErrInvalidArgument.WithMessage("cannot import digest reference")
	}
	if tag != "" {
		if ref, err = reference.WithTag(ref, tag); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
	}
	return reference.TagNameOnly(ref), nil
}

// imageTag answers POST /images/{name}/tag?repo=&tag=: 201, no body.
func (s *Server) imageTag(w http.ResponseWriter, r *http.Request, name string) {
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	if q.Get("repo") == "" {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("repository name (repo) must not be empty"))
		return
	}
	ref, err := repoTagReference(q.Get("repo"), q.Get("tag"))
	if err != nil {
		if strings.Contains(err.Error(), "digest") {
			err = errdefs.ErrInvalidArgument.WithMessage("refusing to create a tag with a digest reference")
		}
		writeError(w, r, err)
		return
	}
	if reference.FamiliarName(ref) == string(digest.Canonical) {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("refusing to create an ambiguous tag using digest algorithm as name"))
		return
	}
	img, err := s.getImage(r.Context(), name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := svc.Tag(r.Context(), img.ID.String(), ref.String()); err != nil {
		writeError(w, r, messageError(err, innerMessage(err)))
		return
	}
	s.publishImage(mevents.ActionTag, img.ID.String(), map[string]string{"name": reference.FamiliarString(ref)})
	w.WriteHeader(http.StatusCreated)
}

// imagesDelete answers DELETE /images/{name}?force=&noprune= with
// [{"Untagged":...},{"Deleted":...}]. A conflict (several repositories
// name the ID, or a container uses the image: Config.ImageInUse) is 409.
func (s *Server) imagesDelete(w http.ResponseWriter, r *http.Request) {
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	name := r.PathValue("rest")
	if strings.TrimSpace(name) == "" {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("image name cannot be blank"))
		return
	}
	img, err := s.getImage(r.Context(), name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	del, err := svc.Remove(r.Context(), name, image.RemoveOptions{
		Force: boolValue(r, "force"), NoPrune: boolValue(r, "noprune"), InUse: s.cfg.ImageInUse,
	})
	if err != nil {
		if errdefs.IsNotFound(err) {
			err = noSuchImage(name)
		}
		writeError(w, r, messageError(err, innerMessage(err)))
		return
	}
	del = append(del, s.untagRepoDigests(r.Context(), svc, img, del)...)
	out := make([]imagetypes.DeleteResponse, 0, len(del))
	for _, d := range del {
		out = append(out, imagetypes.DeleteResponse{Untagged: d.Untagged, Deleted: d.Deleted})
		if d.Untagged != "" {
			s.publishImage(mevents.ActionUnTag, img.ID.String(), map[string]string{"name": d.Untagged})
		}
		if d.Deleted != "" {
			s.publishImage(mevents.ActionDelete, d.Deleted, nil)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// untagRepoDigests does what dockerd does after untagging the last tag of
// a repository while the image keeps other names: it untags the image's
// digest references in that repository too ("repo@sha256:...").
func (s *Server) untagRepoDigests(ctx context.Context, svc *image.Service, img image.Image, del []image.DeleteResponse) []image.DeleteResponse {
	if len(del) != 1 || del[0].Untagged == "" {
		return nil
	}
	gone, err := reference.ParseNormalizedNamed(del[0].Untagged)
	if err != nil {
		return nil
	}
	if _, digested := gone.(reference.Digested); digested {
		return nil
	}
	now, err := svc.Get(ctx, img.ID.String())
	if err != nil {
		return nil
	}
	for _, t := range now.RepoTags {
		if n, err := reference.ParseNormalizedNamed(t); err == nil && n.Name() == gone.Name() {
			return nil
		}
	}
	var out []image.DeleteResponse
	for _, d := range now.RepoDigests {
		n, err := reference.ParseNormalizedNamed(d)
		if err != nil || n.Name() != gone.Name() || len(now.RepoTags) == 0 {
			continue
		}
		more, err := svc.Remove(ctx, d, image.RemoveOptions{})
		if err != nil {
			slog.WarnContext(ctx, "untag digest reference", "name", d, "err", err)
			continue
		}
		out = append(out, more...)
	}
	return out
}

// imagesPrune answers POST /images/prune: dangling images, or with
// filters dangling=false every image no container uses; filters until,
// label and label! as well.
func (s *Server) imagesPrune(w http.ResponseWriter, r *http.Request) {
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	f, err := imageFilters(r.URL.Query(), "dangling", "until", "label", "label!")
	if err != nil {
		writeError(w, r, err)
		return
	}
	all := false
	for _, v := range f["dangling"] {
		all = all || v == "false" || v == "0"
	}
	delete(f, "dangling")
	rep, err := svc.Prune(r.Context(), image.PruneOptions{All: all, Filters: f, InUse: s.cfg.ImageInUse})
	if err != nil {
		writeError(w, r, messageError(err, innerMessage(err)))
		return
	}
	var out imagetypes.PruneReport
	for _, d := range rep.Deleted {
		out.ImagesDeleted = append(out.ImagesDeleted, imagetypes.DeleteResponse{Untagged: d.Untagged, Deleted: d.Deleted})
		if d.Deleted != "" {
			s.publishImage(mevents.ActionDelete, d.Deleted, nil)
		}
	}
	if rep.SpaceReclaimed > 0 {
		out.SpaceReclaimed = uint64(rep.SpaceReclaimed)
	}
	s.cfg.Events.Publish(mevents.Message{Type: mevents.ImageEventType, Action: mevents.ActionPrune,
		Actor: mevents.Actor{Attributes: map[string]string{"reclaimed": fmt.Sprint(out.SpaceReclaimed)}}})
	writeJSON(w, http.StatusOK, out)
}

// imagesSave answers GET /images/get?names=a&names=b.
func (s *Server) imagesSave(w http.ResponseWriter, r *http.Request) {
	s.saveImages(w, r, r.URL.Query()["names"])
}

// saveImages streams a docker-archive tar of names. Unknown names are a
// 404 before anything is sent; an error after the first byte can only cut
// the tar short, as with dockerd.
func (s *Server) saveImages(w http.ResponseWriter, r *http.Request, names []string) {
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Each image has one platform here: one platform parameter at most,
	// and a valid one, as dockerd checks.
	if ps := r.URL.Query()["platform"]; len(ps) > 1 {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("multiple platform parameters not supported"))
		return
	} else if len(ps) == 1 && ps[0] != "" {
		var p ocispec.Platform
		if err := json.Unmarshal([]byte(ps[0]), &p); err != nil {
			if _, perr := content.ParsePlatform(ps[0]); perr != nil {
				writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid platform: %v", perr)))
				return
			}
		}
	}
	if len(names) == 0 {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("no images to save: names is empty"))
		return
	}
	var ids []string
	for _, n := range names {
		// A repository without a tag saves all its tags, as docker's.
		refs := svc.RepoTags(r.Context(), n)
		if len(refs) == 0 {
			refs = []string{n}
		}
		for _, ref := range refs {
			img, err := s.getImage(r.Context(), ref)
			if err != nil {
				writeError(w, r, err)
				return
			}
			ids = append(ids, img.ID.String())
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	fw := &firstWrite{w: w}
	// From API 1.44 (Docker 25) a save is an OCI image layout with
	// docker's manifest.json beside it; older clients get the classic
	// docker archive, as dockerd gives them.
	format := image.FormatDockerArchive
	if CompareVersions(VersionFrom(r.Context()), "1.44") >= 0 {
		format = image.FormatOCIArchive
	}
	if err := svc.Save(r.Context(), names, fw, format); err != nil {
		if !fw.wrote {
			writeError(w, r, messageError(err, innerMessage(err)))
			return
		}
		_, _ = w.Write([]byte(innerMessage(err)))
		return
	}
	for _, id := range ids {
		s.publishImage(mevents.ActionSave, id, nil)
	}
}

// firstWrite records whether anything was written.
type firstWrite struct {
	w     http.ResponseWriter
	wrote bool
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.wrote = true
	return f.w.Write(p)
}

// imagesLoad answers POST /images/load with a JSON stream of
// {"stream":"Loaded image: NAME\n"} lines (quiet or not: the archive is
// spooled before anything is unpacked, so there is no per-layer progress
// to show); an error is the stream's last line.
func (s *Server) imagesLoad(w http.ResponseWriter, r *http.Request) {
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Nothing is written before the body is read: an HTTP/1 response
	// that has started may cut the request body short.
	ps := newProgressStream(w, r, nil)
	// docker load takes an archive compressed with gzip, zstd (the image
	// service's), bzip2 or xz (here) as well.
	body, closeBody, err := decompressedBody(r, "load")
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer closeBody()
	if body == nil {
		body = http.NoBody
	}
	lines, err := svc.Load(r.Context(), body)
	loaded := map[string]bool{}
	for _, l := range lines {
		ps.send(streamMessage{Stream: l + "\n"})
		// dockerd's: one load event per image, by its ID.
		id, ok := strings.CutPrefix(l, "Loaded image ID: ")
		if n, named := strings.CutPrefix(l, "Loaded image: "); named {
			img, gerr := svc.Get(r.Context(), n)
			if gerr != nil {
				continue
			}
			id, ok = img.ID.String(), true
		}
		if ok && !loaded[id] {
			loaded[id] = true
			s.publishImage(mevents.ActionLoad, id, nil)
		}
	}
	if err != nil {
		// dockerd answers 200 and puts a load error in the stream.
		ps.finish()
		ps.fail(err, innerMessage(err))
		return
	}
	ps.finish()
}

// imagesSearch answers GET /images/search: the registry's v1 search for
// term (image.Service.Search), filtered by stars, is-official and
// is-automated, as dockerd's.
func (s *Server) imagesSearch(w http.ResponseWriter, r *http.Request) {
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	term := q.Get("term")
	if term == "" {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("term is required"))
		return
	}
	limit, err := int64Value(r, "limit", 0)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if limit < 0 || limit > 100 {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("limit %d is outside the range of [1, 100]", limit)))
		return
	}
	f, err := imageFilters(q, "stars", "is-official", "is-automated")
	if err != nil {
		writeError(w, r, err)
		return
	}
	minStars := 0
	for _, v := range f["stars"] {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'stars=%s'", v)))
			return
		}
		minStars = max(minStars, n)
	}
	wantBool := func(key string) (bool, bool, error) {
		vs := f[key]
		if len(vs) == 0 {
			return false, false, nil
		}
		b, err := strconv.ParseBool(vs[0])
		if err != nil {
			return false, false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s=%s'", key, vs[0]))
		}
		return b, true, nil
	}
	official, byOfficial, err := wantBool("is-official")
	if err != nil {
		writeError(w, r, err)
		return
	}
	automated, byAutomated, err := wantBool("is-automated")
	if err != nil {
		writeError(w, r, err)
		return
	}
	results, err := svc.Search(r.Context(), term, int(limit))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := []registrytypes.SearchResult{}
	for _, res := range results {
		if res.StarCount < minStars || (byOfficial && res.IsOfficial != official) || (byAutomated && res.IsAutomated != automated) {
			continue
		}
		out = append(out, res)
	}
	writeJSON(w, http.StatusOK, out)
}
