package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// maxTagsList bounds a registry's answer to a tags list (it is untrusted).
const maxTagsList = 4 << 20

// Tags lists the tags of repository repo ("busybox", "host:port/name") in
// its registry, sorted, as `docker pull --all-tags` needs them.
func (s *Service) Tags(ctx context.Context, repo string, auth *AuthConfig) ([]string, error) {
	ref, err := s.parseRemote(repo)
	if err != nil {
		return nil, err
	}
	rr, err := s.openRemote(ctx, ref, auth, transport.PullScope)
	if err != nil {
		return nil, err
	}
	resp, err := rr.do(ctx, http.MethodGet, rr.base+"/tags/list", nil, nil, 0, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("tags of %s: %w", repo, classify(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTagsList+1))
	if err != nil {
		return nil, fmt.Errorf("tags of %s: %w", repo, err)
	}
	if len(b) > maxTagsList {
		return nil, fmt.Errorf("tags of %s: the registry's list is larger than %d bytes: %w", repo, maxTagsList, errdefs.ErrInvalidArgument)
	}
	var list struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("tags of %s: %w: %w", repo, err, errdefs.ErrInvalidArgument)
	}
	sort.Strings(list.Tags)
	return list.Tags, nil
}
