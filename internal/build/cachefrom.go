package build

import (
	"context"
	"fmt"
	"io"
	"reflect"

	"github.com/berth/berth/internal/image"
)

// cacheFromImages resolves --cache-from's images; one the image service
// does not have is skipped, as the legacy builder does.
func (r *buildRun) cacheFromImages(ctx context.Context) []image.Image {
	r.cacheFromOnce.Do(func() {
		for _, ref := range r.opts.CacheFrom {
			if img, err := r.b.images.Get(ctx, ref); err == nil {
				r.cacheFrom = append(r.cacheFrom, img)
			}
		}
	})
	return r.cacheFrom
}

// restoreFromCacheImage is the legacy builder's --cache-from: after a cache
// miss, a step is taken from an image whose history starts with the
// stage's image's (the same entries and layers) and whose next history
// entry is this step (createdBy). The step's image gets that entry, and its
// layer when it has one, so that the following steps match the image too.
func (r *buildRun) restoreFromCacheImage(ctx context.Context, s *stageState, key, createdBy string) (bool, error) {
	if r.opts.NoCache {
		return false, nil
	}
	parent := s.img
	ph, pd := parent.Config.History, parent.Config.RootFS.DiffIDs
	for _, t := range r.cacheFromImages(ctx) {
		th, td := t.Config.History, t.Config.RootFS.DiffIDs
		if len(th) <= len(ph) || len(td) < len(pd) || !reflect.DeepEqual(th[:len(ph)], ph) || !reflect.DeepEqual(td[:len(pd)], pd) {
			continue
		}
		h := th[len(ph)]
		if h.CreatedBy != createdBy || !h.EmptyLayer && len(td) == len(pd) {
			continue
		}
		var layer io.ReadCloser
		if !h.EmptyLayer {
			var err error
			if layer, err = r.b.images.LayerReader(ctx, t, len(pd)); err != nil {
				continue
			}
		}
		img, err := r.b.images.CreateFromDiff(ctx, parent, layer, image.CommitOptions{
			Ref: cacheRef(key), Config: &s.cfg, ConfigExt: &s.ext, CreatedBy: h.CreatedBy, Comment: h.Comment,
			Author: h.Author, EmptyLayer: h.EmptyLayer, Created: h.Created, Platform: r.opts.Platform,
		})
		if layer != nil {
			layer.Close()
		}
		if err != nil {
			return false, err
		}
		if !h.EmptyLayer {
			nd := img.Config.RootFS.DiffIDs
			if len(nd) != len(pd)+1 || nd[len(pd)] != td[len(pd)] {
				return false, fmt.Errorf("--cache-from %s: layer %d did not restore to %s", t.ID, len(pd), td[len(pd)])
			}
		}
		s.send(" ---> Using cache\n")
		return true, r.done(ctx, s, key, createdBy, img, false)
	}
	return false, nil
}
