package registry

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGCDeletesOnlyUnreferencedBlobs(t *testing.T) {
	tr := newFSRegistry(t)
	ctx := t.Context()
	kept := makeImage(t, 2, 100)
	tr.expect(tr.pushImage("app", "v1", kept), 201, "")
	gone := makeImage(t, 2, 100)
	tr.expect(tr.pushImage("app", "v2", gone), 201, "")
	tr.expect(tr.do("DELETE", "/v2/app/manifests/"+gone.digest, nil), 202, "")
	orphan, orphanDg := randomBlob(t, 100)
	tr.pushBlob("app", orphan)
	time.Sleep(50 * time.Millisecond) // past the filesystem's timestamp granularity

	dry, err := tr.store.GC(ctx, GCOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	// gone: manifest, config, 2 layers; plus the orphan.
	if len(dry.Deleted) != 5 {
		t.Fatalf("dry run would delete %v, want 5 blobs", dry.Deleted)
	}
	if err := tr.pullImage("app", "v1", kept); err != nil {
		t.Fatal(err)
	}
	tr.expect(tr.do("HEAD", "/v2/app/blobs/"+orphanDg, nil), 200, "")

	res, err := tr.store.GC(ctx, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 5 || res.Manifests != 1 {
		t.Fatalf("gc: %+v", res)
	}
	if err := tr.pullImage("app", "v1", kept); err != nil {
		t.Fatalf("after gc: %v", err)
	}
	tr.expect(tr.do("HEAD", "/v2/app/blobs/"+orphanDg, nil), 404, "")
	for _, b := range append([][]byte{gone.config}, gone.layers...) {
		dg, _ := ParseDigest(sha(b))
		if _, err := tr.store.d.Stat(ctx, blobPath(dg)); !isNotFound(err) {
			t.Errorf("blob %s of the deleted image survived gc: %v", dg, err)
		}
	}
}

func TestGCGraceKeepsRecentBlobs(t *testing.T) {
	tr := newFSRegistry(t)
	orphan, orphanDg := randomBlob(t, 100)
	tr.pushBlob("app", orphan)
	res, err := tr.store.GC(t.Context(), GCOptions{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 0 {
		t.Fatalf("gc deleted %v within the grace period", res.Deleted)
	}
	tr.expect(tr.do("HEAD", "/v2/app/blobs/"+orphanDg, nil), 200, "")
}

// TestGCRacesPushes runs GC in a loop, with no grace period, while four
// clients push fresh images and pull what they pushed. Pushed blobs are
// not referenced until the manifest arrives, so GC may collect them first:
// then the manifest PUT must fail with MANIFEST_BLOB_UNKNOWN. What must
// never happen is a manifest accepted whose blob is gone.
func TestGCRacesPushes(t *testing.T) {
	tr := newFSRegistry(t)
	tr.store.touchAfter = 0
	ctx := t.Context()
	stop := make(chan struct{})
	var gcRuns atomic.Int64
	var gcErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := tr.store.GC(ctx, GCOptions{}); err != nil {
				gcErr = err
				return
			}
			// Bursts of collections 0 to 24 ms apart, then a pause of
			// 150 ms: without the pauses a slow (race-detector, loaded)
			// run can have every push refused; the bursts keep the race.
			n := gcRuns.Add(1)
			pause := time.Duration(n%4) * 8 * time.Millisecond
			if n%8 == 0 {
				pause = 150 * time.Millisecond
			}
			time.Sleep(pause)
		}
	}()
	type pushed struct {
		repo, tag string
		img       testImage
	}
	var mu sync.Mutex
	var ok []pushed
	var refused atomic.Int64
	errs := make(chan error, 4)
	deadline := time.Now().Add(3 * time.Second)
	for c := range 4 {
		go func() {
			for i := 0; time.Now().Before(deadline); i++ {
				img := makeImage(t, 3, 2000)
				repo, tag := fmt.Sprintf("c%d", c), fmt.Sprintf("t%d", i)
				err := tr.tryPushImage(repo, tag, img)
				var code errCode
				if errors.As(err, &code) && code == "MANIFEST_BLOB_UNKNOWN" {
					refused.Add(1)
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				if err := tr.pullImage(repo, tag, img); err != nil {
					errs <- fmt.Errorf("pull right after push: %w", err)
					return
				}
				mu.Lock()
				ok = append(ok, pushed{repo, tag, img})
				mu.Unlock()
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if gcErr != nil {
		t.Fatal(gcErr)
	}
	// One more collection after the pushes: every accepted image is whole.
	if _, err := tr.store.GC(ctx, GCOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range ok {
		if err := tr.pullImage(p.repo, p.tag, p.img); err != nil {
			t.Errorf("image accepted during gc lost content: %v", err)
		}
	}
	t.Logf("%d images pushed, %d refused by a racing gc, %d gc runs", len(ok), refused.Load(), gcRuns.Load())
	if len(ok) == 0 || gcRuns.Load() < 2 {
		t.Fatalf("the race did not happen: %d pushes, %d gc runs", len(ok), gcRuns.Load())
	}
}

// TestGCWithGraceNeverFailsPushes is the scenario: four clients push
// and pull while GC runs with a grace period longer than a push; no push or
// pull fails, and unreferenced blobs are gone afterwards. It runs 4 seconds;
// BERTH_REGISTRY_GC_SOAK=30s runs it longer.
func TestGCWithGraceNeverFailsPushes(t *testing.T) {
	soak := 4 * time.Second
	if v := os.Getenv("BERTH_REGISTRY_GC_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("BERTH_REGISTRY_GC_SOAK: %v", err)
		}
		soak = d
	}
	tr := newFSRegistry(t)
	ctx := t.Context()
	grace := 2 * time.Second
	tr.store.touchAfter = grace / 10
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var gcErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := tr.store.GC(ctx, GCOptions{Grace: grace}); err != nil {
				gcErr = err
				return
			}
		}
	}()
	errs := make(chan error, 4)
	deadline := time.Now().Add(soak)
	shared := makeImage(t, 2, 5000)
	for c := range 4 {
		go func() {
			for i := 0; time.Now().Before(deadline); i++ {
				img := makeImage(t, 2, 5000)
				if i%2 == 1 {
					img = shared
				}
				repo, tag := fmt.Sprintf("c%d", c), fmt.Sprintf("t%d", i)
				if err := tr.tryPushImage(repo, tag, img); err != nil {
					errs <- err
					return
				}
				if err := tr.pullImage(repo, tag, img); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if gcErr != nil {
		t.Fatal(gcErr)
	}
	orphan, orphanDg := randomBlob(t, 100)
	tr.pushBlob("c0", orphan)
	time.Sleep(grace + 100*time.Millisecond)
	res, err := tr.store.GC(ctx, GCOptions{Grace: grace})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range res.Deleted {
		found = found || d == orphanDg
	}
	if !found {
		t.Errorf("unreferenced blob %s survived gc: %v", orphanDg, res.Deleted)
	}
	blobs, _ := tr.store.listBlobs(ctx)
	if len(blobs) != res.Marked {
		t.Errorf("%d blobs left, %d referenced", len(blobs), res.Marked)
	}
}
