package build

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/metadata"
)

// Config is what New needs.
type Config struct {
	// Images is the image service base images come from and built images
	// go to.
	Images *image.Service
	// Executor runs RUN steps.
	Executor Executor
	// CacheRoot is the directory of the build cache (see the package doc).
	CacheRoot string
}

// Builder builds images from Dockerfiles. It is safe for concurrent use.
type Builder struct {
	images *image.Service
	exec   Executor
	cache  *cache
	root   string

	// cacheMounts holds a lock per RUN cache mount directory, for
	// sharing=locked and sharing=private.
	// sums caches the content hashes of build context files.
	sums fileSums

	cacheMountsMu sync.Mutex
	cacheMounts   map[string]*sync.Mutex
}

func (b *Builder) cacheMountLock(dir string) *sync.Mutex {
	b.cacheMountsMu.Lock()
	defer b.cacheMountsMu.Unlock()
	if b.cacheMounts == nil {
		b.cacheMounts = map[string]*sync.Mutex{}
	}
	mu, ok := b.cacheMounts[dir]
	if !ok {
		mu = &sync.Mutex{}
		b.cacheMounts[dir] = mu
	}
	return mu
}

func (b *Builder) lockCacheMount(dir string) func() {
	mu := b.cacheMountLock(dir)
	mu.Lock()
	return mu.Unlock
}

func (b *Builder) tryLockCacheMount(dir string) (func(), bool) {
	mu := b.cacheMountLock(dir)
	if !mu.TryLock() {
		return nil, false
	}
	return mu.Unlock, true
}

// New returns a Builder over cfg.
func New(cfg Config) (*Builder, error) {
	if cfg.Images == nil || cfg.Executor == nil || cfg.CacheRoot == "" {
		return nil, errors.New("builder: image service, executor and cache root are required")
	}
	for _, d := range []string{"steps", "mounts", "tmp"} {
		if err := os.MkdirAll(filepath.Join(cfg.CacheRoot, d), 0o700); err != nil {
			return nil, fmt.Errorf("builder: cache root: %w", err)
		}
	}
	return &Builder{images: cfg.Images, exec: cfg.Executor, cache: &cache{dir: filepath.Join(cfg.CacheRoot, "steps")}, root: cfg.CacheRoot}, nil
}

// Cleanup removes what the builds of a daemon that died left on its root:
// the writable snapshots of their steps and image views, and what was
// unpacked or mounted under tmp/. Call it once, before the first build and
// after the executor's own cleanup (which unmounts the steps' rootfs).
func (b *Builder) Cleanup(ctx context.Context) error {
	var errs []error
	tmp := filepath.Join(b.root, "tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		errs = append(errs, fmt.Errorf("builder cleanup: %w", err))
	}
	for _, e := range ents {
		p := filepath.Join(tmp, e.Name())
		if err := unmount(p); err != nil {
			errs = append(errs, fmt.Errorf("builder cleanup: %w", err))
			continue // never remove through a mount
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("builder cleanup: %w", err))
		}
	}
	removed, err := b.images.RemoveRootfsPrefix(ctx, "build-")
	if err != nil {
		errs = append(errs, fmt.Errorf("builder cleanup: %w", err))
	}
	if len(removed) > 0 {
		slog.InfoContext(ctx, "builder: removed the snapshots of interrupted builds", "count", len(removed))
	}
	return errors.Join(errs...)
}

// Output is where a build's result goes besides the image store: Type
// "local" (the root filesystem copied into the directory Dest) or "tar"
// (a tar of it written to the file Dest, or to Writer).
type Output struct {
	Type   string
	Dest   string
	Writer io.Writer
}

// BuildOptions describe one build.
type BuildOptions struct {
	// ContextDir is the build context directory; Context, when ContextDir
	// is empty, a tar of it (uncompressed, gzip or zstd). Neither means a
	// Dockerfile-only build with an empty context.
	ContextDir string
	Context    io.Reader
	// Dockerfile is the Dockerfile's path inside the context ("Dockerfile"
	// when empty); DockerfileContent, when set, is the Dockerfile itself.
	Dockerfile        string
	DockerfileContent []byte
	// Tags name the built image ("app", "app:1").
	Tags []string
	// BuildArgs are --build-arg values; a nil value takes the variable
	// from the builder's environment.
	BuildArgs map[string]*string
	// Target is the stage to build (the last one when empty).
	Target string
	// NoCache disables cache lookups (results are still cached); Pull
	// pulls base images even when present.
	NoCache bool
	Pull    bool
	// Labels are added to the built image.
	Labels map[string]string
	// Network is the RUN steps' default network ("default", "none",
	// "host").
	Network string
	// ExtraHosts are --add-host's "NAME:IP" entries for the RUN steps'
	// /etc/hosts.
	ExtraHosts []string
	// Secrets map a secret ID to the file RUN --mount=type=secret reads.
	Secrets map[string]string
	// Limits are the RUN containers' resource limits.
	Limits RunLimits
	// CacheFrom are images whose history the build may take steps from
	// (docker build --cache-from), after a miss in the build cache.
	CacheFrom []string
	Outputs   []Output
	// Platform of the base images ("" for the image service's).
	Platform string
	// RegistryAuth are the credentials per registry (POST /build's
	// X-Registry-Config: "host[:port]", "https://host/v1/", ...) for the
	// pulls of base images and COPY --from images; a registry not in it
	// gets the image service's default credentials.
	RegistryAuth map[string]image.AuthConfig
}

// Event is one message of a build's progress, docker's legacy build
// stream: Stream carries text lines; Pull, the progress of a base image
// being pulled (docker's status/id/progressDetail messages); ID is set on
// the final event only.
type Event struct {
	Stream string
	Pull   *image.ProgressEvent
	ID     string
	// Created is the ID of an image a step made (not one from the
	// cache), for the daemon's "image create" event.
	Created string
}

// auxMarker starts a stage output line that is the stage's image ID, sent
// as an Event with ID (the API's aux message) when its turn in the stage
// order comes, as the legacy builder sends one at the end of each stage.
const auxMarker = "\x00aux:"

// Progress receives a build's events; it is called from one goroutine at
// a time.
type Progress func(Event)

// StepError is a failed step: which one, its instruction and why.
type StepError struct {
	Step        int
	Instruction string
	Err         error
}

func (e *StepError) Error() string {
	var ee *ExitError
	if errors.As(e.Err, &ee) {
		return fmt.Sprintf("step %d: the command '%s' returned a non-zero code: %d", e.Step, e.Instruction, ee.Code)
	}
	return fmt.Sprintf("step %d: %s: %v", e.Step, e.Instruction, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Build builds the image opts describe and returns its ID. Tags are set
// only when every step succeeded.
func (b *Builder) Build(ctx context.Context, opts BuildOptions, progress Progress) (digest.Digest, error) {
	if progress == nil {
		progress = func(Event) {}
	}
	var mu sync.Mutex
	sendEvent := func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		progress(ev)
	}
	send := func(s string) {
		if id, ok := strings.CutPrefix(s, auxMarker); ok {
			sendEvent(Event{ID: id}) // a stage's image, in stage order
			return
		}
		sendEvent(Event{Stream: s})
	}
	bctx, err := b.openContext(ctx, &opts)
	if err != nil {
		return "", err
	}
	defer bctx.close()
	df := opts.DockerfileContent
	if df == nil {
		name := opts.Dockerfile
		if name == "" {
			name = "Dockerfile"
		}
		df, err = bctx.readFile(name)
		if err != nil {
			return "", fmt.Errorf("read dockerfile %s: %w", name, err)
		}
	}
	if err := bctx.loadIgnore(opts.Dockerfile); err != nil {
		return "", err
	}
	plan, err := parseDockerfile(df, opts)
	if err != nil {
		return "", err
	}
	run := &buildRun{b: b, opts: opts, plan: plan, ctx: bctx, send: send, sendEvent: sendEvent, results: map[int]*stageResult{},
		out: newStageOutput(send, plan.buildOrder())}
	sctx, cancel := context.WithCancel(ctx)
	img, err := run.buildStage(sctx, plan.target)
	if err != nil {
		// Stop the stages still running for a target that failed.
		cancel()
	}
	run.wg.Wait()
	cancel()
	run.out.flushAll()
	if err != nil {
		return "", err
	}
	id := img.ID
	if id == "" {
		return "", fmt.Errorf("build: target stage %q has no instructions to commit", plan.stages[plan.target].Name)
	}
	for _, k := range plan.metaArgNames {
		run.consumed(k)
	}
	if un := run.unconsumed(); len(un) > 0 {
		send(fmt.Sprintf("[Warning] One or more build-args [%s] were not consumed\n", strings.Join(un, " ")))
	}
	// dockerd's order: the aux ID, then "Successfully built", then the tags.
	progress(Event{ID: id.String()})
	send(fmt.Sprintf("Successfully built %s\n", shortHex(id)))
	// A cached rebuild usually finds its tags in place: no write. The
	// image's names are read again now, as another build may have moved
	// a tag meanwhile.
	var current image.Image
	if len(opts.Tags) > 0 {
		if c, err := b.images.Get(ctx, id.String()); err == nil {
			current = c
		}
	}
	if len(opts.Tags) == 0 && len(opts.Outputs) == 0 {
		// Untagged, it is listed as <none> and pruned, as with dockerd.
		if err := b.images.ListUnnamed(ctx, id.String()); err != nil {
			return "", err
		}
	}
	for _, t := range opts.Tags {
		if !hasTag(current, t) {
			if err := b.images.Tag(ctx, id.String(), t); err != nil {
				return "", fmt.Errorf("tag %s: %w", t, err)
			}
		}
		send(fmt.Sprintf("Successfully tagged %s\n", familiar(t)))
	}
	for _, o := range opts.Outputs {
		if err := b.export(ctx, img, o); err != nil {
			return "", err
		}
	}
	return id, nil
}

// hasTag reports whether img is tagged t already.
func hasTag(img image.Image, t string) bool {
	n, err := metadata.NormalizeName(t)
	if err != nil {
		return false
	}
	f := metadata.FamiliarName(n)
	for _, rt := range img.RepoTags {
		if rt == f {
			return true
		}
	}
	return false
}

func shortHex(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}

// familiar returns docker's display form of a tag: "app:latest".
func familiar(t string) string {
	i := strings.LastIndex(t, "/")
	if !strings.Contains(t[i+1:], ":") && !strings.Contains(t, "@") {
		return t + ":latest"
	}
	return t
}

func invalid(format string, a ...any) error {
	return fmt.Errorf(format+": %w", append(a, errdefs.ErrInvalidArgument)...)
}

// isTar reports whether r is a tar archive, maybe compressed (gzip, bzip2,
// xz, zstd), as ADD decides whether to unpack a file: dockerd's test is
// that the decompressed stream starts with a tar header.
func isTar(r io.Reader) bool {
	dr, _, err := archive.DecompressStream(r)
	if err != nil {
		return false
	}
	defer dr.Close()
	_, err = tar.NewReader(dr).Next()
	return err == nil
}
