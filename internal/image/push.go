package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
)

// PushOptions tune Push.
type PushOptions struct {
	Auth     *AuthConfig
	Progress func(ProgressEvent)
}

// Push uploads the image named ref to the registry ref names: blobs the
// registry has are skipped, blobs another repository of that registry
// has (known from the image records of earlier pulls, pushes and tags) are
// mounted, the rest are
// uploaded in parallel; then the manifest is put under ref's tag.
func (s *Service) Push(ctx context.Context, ref string, opts PushOptions) error {
	if err := s.push(ctx, ref, opts); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

func (s *Service) push(ctx context.Context, ref string, opts PushOptions) error {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return err
	}
	r, err := s.parseRemote(ref)
	if err != nil {
		return err
	}
	if img, err = s.compressForPush(ctx, img); err != nil {
		return err
	}
	pr := newProgress(opts.Progress)
	pr.send("", "The push refers to repository ["+r.Context().Name()+"]")
	mbytes, err := content.ReadBlob(ctx, s.content, img.Target, content.MaxManifestSize)
	if err != nil {
		return err
	}
	blobs := append([]ocispec.Descriptor{}, img.Manifest.Layers...)
	blobs = append(blobs, img.Manifest.Config)

	host := r.Context().RegistryStr()
	sources := s.mountSources(ctx, host, r.Context().RepositoryStr())
	var extra []name.Repository
	seen := map[string]bool{}
	for _, b := range blobs {
		repo, ok := sources[b.Digest]
		if !ok || seen[repo] {
			continue
		}
		seen[repo] = true
		if rp, err := name.NewRepository(host+"/"+repo, name.Insecure); err == nil {
			extra = append(extra, rp)
		}
	}
	rr, err := s.openRemote(ctx, r, opts.Auth, transport.PushScope, extra...)
	if err != nil {
		return err
	}
	for _, b := range img.Manifest.Layers {
		pr.send(shortID(b.Digest), "Preparing")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, s.reg.MaxConcurrentUploads)
	var wg sync.WaitGroup
	errs := make([]error, len(blobs))
	for i, b := range blobs {
		if b.MediaType == content.MediaTypeDockerForeignLayer || strings.Contains(b.MediaType, "nondistributable") {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			if err := s.pushBlob(ctx, rr, b, sources[b.Digest], pr, i < len(blobs)-1); err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	if err := firstCause(errs); err != nil {
		return err
	}
	tag := "latest"
	if t, ok := r.(name.Tag); ok {
		tag = t.TagStr()
	} else {
		tag = r.Identifier()
	}
	err = retry(ctx, func() error {
		resp, err := rr.do(ctx, http.MethodPut, rr.base+"/manifests/"+tag, http.Header{"Content-Type": {img.Target.MediaType}},
			bytes.NewReader(mbytes), int64(len(mbytes)), http.StatusCreated, http.StatusOK, http.StatusAccepted)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	if err != nil {
		return fmt.Errorf("put manifest: %w", classify(err))
	}
	if _, err := s.setNames(ctx, []string{r.Context().Name() + "@" + img.Target.Digest.String()}, img.Target); err != nil {
		return err
	}
	pr.send("", fmt.Sprintf("%s: digest: %s size: %d", tag, img.Target.Digest, len(mbytes)))
	return nil
}

// mountSources maps each blob of the images recorded under another
// repository of registry host (by a pull, a push or a tag) to that
// repository, so a push can mount the blob instead of uploading it.
func (s *Service) mountSources(ctx context.Context, host, exceptRepo string) map[digest.Digest]string {
	out := map[digest.Digest]string{}
	recs, err := s.db.Images().List(ctx)
	if err != nil {
		return out
	}
	if host == name.DefaultRegistry {
		host = "docker.io"
	}
	for _, rec := range recs {
		named, err := reference.ParseNormalizedNamed(rec.Name)
		if err != nil || reference.Domain(named) != host || reference.Path(named) == exceptRepo {
			continue
		}
		t, err := s.loadTarget(ctx, rec.Target)
		if err != nil {
			continue
		}
		for _, b := range append([]ocispec.Descriptor{t.manifest.Config}, t.manifest.Layers...) {
			if _, ok := out[b.Digest]; !ok {
				out[b.Digest] = reference.Path(named)
			}
		}
	}
	return out
}

func (s *Service) pushBlob(ctx context.Context, rr *remoteRepo, b ocispec.Descriptor, from string, pr *progress, isLayer bool) error {
	id := shortID(b.Digest)
	say := func(status string) {
		if isLayer {
			pr.send(id, status)
		}
	}
	err := retry(ctx, func() error {
		resp, err := rr.do(ctx, http.MethodHead, rr.base+"/blobs/"+b.Digest.String(), nil, nil, 0, http.StatusOK, http.StatusNotFound)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			say("Layer already exists")
			return nil
		}
		u := rr.base + "/blobs/uploads/"
		if from != "" {
			u += "?" + url.Values{"mount": {b.Digest.String()}, "from": {from}}.Encode()
		}
		resp, err = rr.do(ctx, http.MethodPost, u, nil, nil, 0, http.StatusCreated, http.StatusAccepted)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			say("Mounted from " + from)
			return nil
		}
		loc, err := rr.resolveURL(resp, resp.Header.Get("Location"))
		if err != nil {
			return err
		}
		ra, err := s.content.ReaderAt(ctx, b)
		if err != nil {
			return err
		}
		defer ra.Close()
		body := &countReader{r: io.NewSectionReader(ra, 0, b.Size), fn: func(n int64) {
			if isLayer {
				pr.bytes(id, "Pushing", n, b.Size)
			}
		}}
		resp, err = rr.do(ctx, http.MethodPatch, loc, http.Header{"Content-Type": {"application/octet-stream"}}, body, b.Size, http.StatusAccepted, http.StatusNoContent, http.StatusCreated)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if l := resp.Header.Get("Location"); l != "" {
			if loc, err = rr.resolveURL(resp, l); err != nil {
				return err
			}
		}
		pu, err := url.Parse(loc)
		if err != nil {
			return fmt.Errorf("upload location %q: %w", loc, err)
		}
		q := pu.Query()
		q.Set("digest", b.Digest.String())
		pu.RawQuery = q.Encode()
		resp, err = rr.do(ctx, http.MethodPut, pu.String(), nil, http.NoBody, 0, http.StatusCreated, http.StatusNoContent, http.StatusAccepted)
		if err != nil {
			return err
		}
		resp.Body.Close()
		say("Pushed")
		return nil
	})
	if err != nil {
		return fmt.Errorf("blob %s: %w", b.Digest, classify(err))
	}
	return nil
}
