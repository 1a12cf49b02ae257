package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	mevents "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/image"
)

// imagesCreate answers POST /images/create: a pull (fromImage, tag) or an
// import (fromSrc: a URL or "-" for the request body; repo, tag, message,
// changes), both as a JSON progress stream.
func (s *Server) imagesCreate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("fromImage") != "" {
		s.imagePull(w, r)
		return
	}
	if q.Get("fromSrc") != "" {
		s.imageImport(w, r)
		return
	}
	writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("either fromImage or fromSrc is required"))
}

// pullReference is dockerd's reading of fromImage and tag: a trailing ":"
// is dropped ("pull -a" sends one), a tag that parses as a digest pins
// the digest, and a bare name means :latest.
func pullReference(fromImage, tag string) (reference.Named, error) {
	ref, err := reference.ParseNormalizedNamed(strings.TrimSuffix(fromImage, ":"))
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	if tag != "" {
		if d, derr := digest.Parse(tag); derr == nil {
			ref, err = reference.WithDigest(reference.TrimNamed(ref), d)
		} else {
			ref, err = reference.WithTag(ref, tag)
		}
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
	}
	return reference.TagNameOnly(ref), nil
}

// pullMessage is dockerd's text for a failed pull (its
// translatePullError): the registry's first error code decides between
// "manifest for REF not found: manifest unknown: ...", "repository NAME
// not found: name unknown: ..." and "pull access denied for NAME, ...";
// anything else keeps the service's cause.
func pullMessage(ref reference.Named, err error) string {
	var te *transport.Error
	if errors.As(err, &te) && len(te.Errors) > 0 {
		d := te.Errors[0]
		cause := strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " ")) + ": " + d.Message
		switch d.Code {
		case transport.ManifestUnknownErrorCode:
			return "manifest for " + reference.FamiliarString(ref) + " not found: " + cause
		case transport.NameUnknownErrorCode:
			return "repository " + reference.FamiliarName(ref) + " not found: " + cause
		case transport.DeniedErrorCode:
			return "pull access denied for " + reference.FamiliarName(ref) + ", repository does not exist or may require 'docker login': " + cause
		}
	}
	return innerMessage(err)
}

func (s *Server) imagePull(w http.ResponseWriter, r *http.Request) {
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	ref, err := pullReference(q.Get("fromImage"), q.Get("tag"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	// As dockerd: a pull ignores credentials it cannot decode.
	auth, _ := registryAuth(r)
	if allTags(q.Get("fromImage"), q.Get("tag")) {
		s.pullAllTags(w, r, svc, reference.TrimNamed(ref), auth)
		return
	}
	ps := newProgressStream(w, r, func(m streamMessage) bool {
		return m.ErrorDetail == nil && strings.HasPrefix(m.Status, "Pulling from ")
	})
	progress := func(e image.ProgressEvent) {
		if strings.HasPrefix(e.Status, "Pulling from ") {
			// dockerd names the repository by its path ("Pulling from
			// library/busybox", "Pulling from busybox" for host:port/busybox).
			e.Status = "Pulling from " + reference.Path(ref)
		}
		ps.event(e)
	}
	_, err = svc.Pull(r.Context(), ref.String(), image.PullOptions{
		Platform: q.Get("platform"), Auth: auth, Progress: progress,
	})
	if err != nil {
		ps.fail(err, pullMessage(ref, err))
		return
	}
	ps.finish()
	s.publishImage(mevents.ActionPull, reference.FamiliarString(ref), map[string]string{"name": reference.FamiliarName(ref)})
}

// imageImport makes an image of a root filesystem tar: the request body
// for fromSrc=-, else the URL fromSrc names (http:// when it has no
// scheme). It ends with the new image's ID as a status line.
func (s *Server) imageImport(w http.ResponseWriter, r *http.Request) {
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	ref, err := repoTagReference(q.Get("repo"), q.Get("tag"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts := image.ImportOptions{Changes: q["changes"], Message: q.Get("message"), Platform: q.Get("platform")}
	// A platform berth cannot run is refused before the upload is read,
	// as dockerd refuses it.
	if p := opts.Platform; p != "" {
		pl, err := content.ParsePlatform(p)
		if err != nil {
			writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid platform: %v", err)))
			return
		}
		if pl.OS != "linux" {
			writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("operating system is not supported"))
			return
		}
	}
	if ref != nil {
		opts.Ref = ref.String()
	}
	ps := newProgressStream(w, r, nil)
	src := q.Get("fromSrc")
	if src != "-" {
		if !strings.Contains(src, "://") {
			src = "http://" + src
		}
		u, err := url.Parse(src)
		if err != nil {
			writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(err.Error()))
			return
		}
		opts.URL = u.String()
		if opts.Message == "" {
			opts.Message = "Imported from " + opts.URL
		}
		ps.send(streamMessage{Status: "Downloading from " + opts.URL})
	}
	img, err := svc.Import(r.Context(), r.Body, opts)
	if err != nil {
		ps.fail(err, innerMessage(err))
		return
	}
	ps.send(streamMessage{Status: img.ID.String()})
	attrs := map[string]string{}
	if ref != nil {
		attrs["name"] = reference.FamiliarString(ref)
	}
	s.publishImage(mevents.ActionImport, img.ID.String(), attrs)
}

// pushAux is the aux line that ends a push: what `docker push` and
// content trust read.
type pushAux struct {
	Tag    string
	Digest string
	Size   int64
}

// imagePush answers POST /images/{name}/push?tag=: the tag given, or
// every tag of the repository when tag is empty (push --all-tags), each
// ending with its aux line {"Tag","Digest","Size"}.
func (s *Server) imagePush(w http.ResponseWriter, r *http.Request, name string) {
	svc, err := s.images()
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	var auth *image.AuthConfig
	if r.Header.Get("X-Registry-Auth") != "" {
		// As dockerd: credentials that do not decode are ignored.
		auth, _ = registryAuth(r)
	}
	repo, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(err.Error()))
		return
	}
	var refs []reference.Named
	if tag := q.Get("tag"); tag != "" {
		ref, err := repoTagReference(name, tag)
		if err != nil {
			writeError(w, r, err)
			return
		}
		refs = append(refs, ref)
	} else if _, ok := repo.(reference.NamedTagged); ok {
		refs = append(refs, repo)
	} else if _, ok := repo.(reference.Digested); ok {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage("cannot push a digest reference"))
		return
	} else {
		imgs, err := svc.List(r.Context(), image.ListOptions{})
		if err != nil {
			writeError(w, r, messageError(err, innerMessage(err)))
			return
		}
		for _, img := range imgs {
			for _, t := range img.RepoTags {
				if n, err := reference.ParseNormalizedNamed(t); err == nil && n.Name() == repo.Name() {
					refs = append(refs, n)
				}
			}
		}
	}
	// dockerd refuses before the stream when the repository has no image
	// at all; a missing tag of a known repository fails in the stream
	// ("tag does not exist").
	known := false
	for _, ref := range refs {
		if _, err := svc.Get(r.Context(), ref.String()); err == nil {
			known = true
		}
	}
	if !known {
		if imgs, err := svc.List(r.Context(), image.ListOptions{}); err == nil {
			for _, img := range imgs {
				for _, t := range img.RepoTags {
					if n, err := reference.ParseNormalizedNamed(t); err == nil && n.Name() == repo.Name() {
						known = true
					}
				}
			}
		}
	}
	if !known {
		writeError(w, r, errdefs.ErrNotFound.WithMessage("An image does not exist locally with the tag: "+reference.FamiliarName(repo)))
		return
	}
	ps := newProgressStream(w, r, nil)
	for i, ref := range refs {
		img, err := svc.Get(r.Context(), ref.String())
		if err != nil {
			ps.fail(err, "tag does not exist: "+reference.FamiliarString(ref))
			return
		}
		progress := ps.event
		if i > 0 {
			// "The push refers to repository" once, as dockerd's push -a.
			progress = func(e image.ProgressEvent) {
				if !strings.HasPrefix(e.Status, "The push refers to repository") {
					ps.event(e)
				}
			}
		}
		if err := svc.Push(r.Context(), ref.String(), image.PushOptions{Auth: auth, Progress: progress}); err != nil {
			ps.fail(err, innerMessage(err))
			return
		}
		tag := ""
		if t, ok := ref.(reference.Tagged); ok {
			tag = t.Tag()
		}
		aux, _ := json.Marshal(pushAux{Tag: tag, Digest: img.Target.Digest.String(), Size: img.Target.Size})
		ps.send(streamMessage{ProgressDetail: &jsonstream.Progress{}, Aux: aux})
		s.publishImage(mevents.ActionPush, reference.FamiliarString(ref), map[string]string{"name": reference.FamiliarName(ref)})
	}
	ps.finish()
}

// allTags reports whether a pull names no tag and no digest at all, which
// dockerd reads as every tag of the repository (`docker pull --all-tags`
// sends no tag; a plain pull sends :latest).
func allTags(fromImage, tag string) bool {
	if tag != "" {
		return false
	}
	ref, err := reference.ParseNormalizedNamed(strings.TrimSuffix(fromImage, ":"))
	if err != nil {
		return false
	}
	_, tagged := ref.(reference.Tagged)
	_, digested := ref.(reference.Digested)
	return !tagged && !digested
}

// pullAllTags pulls every tag of repo, one after the other, in one
// progress stream, as dockerd's pull of a repository without a tag.
func (s *Server) pullAllTags(w http.ResponseWriter, r *http.Request, svc *image.Service, repo reference.Named, auth *image.AuthConfig) {
	ps := newProgressStream(w, r, func(m streamMessage) bool {
		return m.ErrorDetail == nil && strings.HasPrefix(m.Status, "Pulling from ")
	})
	tags, err := svc.Tags(r.Context(), repo.String(), auth)
	if err != nil {
		ps.fail(err, pullMessage(repo, err))
		return
	}
	if len(tags) == 0 {
		err := errdefs.ErrNotFound.WithMessage("repository " + reference.FamiliarName(repo) + " has no tags")
		ps.fail(err, err.Error())
		return
	}
	downloaded := false
	for _, tag := range tags {
		ref, err := reference.WithTag(repo, tag)
		if err != nil {
			continue // a registry's tag that is not one
		}
		progress := func(e image.ProgressEvent) {
			if strings.HasPrefix(e.Status, "Pulling from ") {
				e.Status = "Pulling from " + reference.Path(ref)
			}
			if strings.HasPrefix(e.Status, "Status: ") {
				// One status for the repository, at the end, as dockerd.
				downloaded = downloaded || strings.HasPrefix(e.Status, "Status: Downloaded newer image")
				return
			}
			ps.event(e)
		}
		if _, err := svc.Pull(r.Context(), ref.String(), image.PullOptions{Platform: r.URL.Query().Get("platform"), Auth: auth, Progress: progress}); err != nil {
			ps.fail(err, pullMessage(ref, err))
			return
		}
		s.publishImage(mevents.ActionPull, reference.FamiliarString(ref), map[string]string{"name": reference.FamiliarName(ref)})
	}
	status := "Status: Image is up to date for " + reference.FamiliarName(repo)
	if downloaded {
		status = "Status: Downloaded newer image for " + reference.FamiliarName(repo)
	}
	ps.event(image.ProgressEvent{Status: status})
	ps.finish()
}
