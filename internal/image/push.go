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

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
)

// sourceLabel is the content label that names the repository a blob was
// pulled from or pushed to on a registry (containerd's convention), so a
// later push to another repository of that registry can mount it.
const sourceLabelPrefix = "containerd.io/distribution.source."

// PushOptions tune Push.
type PushOptions struct {
	Auth     *AuthConfig
	Progress func(ProgressEvent)
}

// Push uploads the image named ref to the registry ref names: blobs the
// registry has are skipped, blobs another repository of that registry
// has (known from earlier pulls and pushes) are mounted, the rest are
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
	pr := newProgress(opts.Progress)
	pr.send("", "The push refers to repository ["+r.Context().Name()+"]")
	mbytes, err := content.ReadBlob(ctx, s.content, img.Target, content.MaxManifestSize)
	if err != nil {
		return err
	}
	blobs := append([]ocispec.Descriptor{}, img.Manifest.Layers...)
	blobs = append(blobs, img.Manifest.Config)

	host := r.Context().RegistryStr()
	sources := map[string]string{} // digest -> repository path on this registry
	var extra []name.Repository
	seen := map[string]bool{}
	for _, b := range blobs {
		info, err := s.content.Info(ctx, b.Digest)
		if err != nil {
			return fmt.Errorf("blob %s: %w", b.Digest, err)
		}
		src := info.Labels[sourceLabelPrefix+host]
		for _, repo := range strings.Split(src, ",") {
			if repo == "" || repo == r.Context().RepositoryStr() {
				continue
			}
			sources[b.Digest.String()] = repo
			if !seen[repo] {
				seen[repo] = true
				if rp, err := name.NewRepository(host+"/"+repo, name.Insecure); err == nil {
					extra = append(extra, rp)
				}
			}
			break
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
			if err := s.pushBlob(ctx, rr, b, sources[b.Digest.String()], pr, i < len(blobs)-1); err != nil {
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
	for _, b := range blobs {
		s.labelSource(ctx, b, host, r.Context().RepositoryStr())
	}
	if _, err := s.setNames(ctx, []string{r.Context().Name() + "@" + img.Target.Digest.String()}, img.Target); err != nil {
		return err
	}
	pr.send("", fmt.Sprintf("%s: digest: %s size: %d", tag, img.Target.Digest, len(mbytes)))
	return nil
}

// labelSource records that repo on host has blob b (best effort: the label
// only makes later pushes faster).
func (s *Service) labelSource(ctx context.Context, b ocispec.Descriptor, host, repo string) {
	info, err := s.content.Info(ctx, b.Digest)
	if err != nil {
		return
	}
	key := sourceLabelPrefix + host
	cur := info.Labels[key]
	for _, x := range strings.Split(cur, ",") {
		if x == repo {
			return
		}
	}
	v := repo
	if cur != "" {
		v = cur + "," + repo
	}
	if len(v) > 1024 {
		v = repo
	}
	_, _ = s.content.Update(ctx, content.Info{Digest: b.Digest, Labels: map[string]string{key: v}}, "labels."+key)
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
