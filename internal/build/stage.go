package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/patternmatcher"
	"github.com/moby/sys/signal"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/snapshot/mount"
)

type stageResult struct {
	once sync.Once
	img  image.Image
	err  error
}

// buildRun is one Build call.
type buildRun struct {
	b         *Builder
	opts      BuildOptions
	plan      *plan
	ctx       *buildContext
	send      func(string)
	sendEvent func(Event)
	out       *stageOutput
	mu        sync.Mutex
	results   map[int]*stageResult
	// wg counts the stages started ahead of need.
	wg sync.WaitGroup
	// used are the build args an ARG declared.
	usedMu sync.Mutex
	used   map[string]bool
	// cacheFrom are --cache-from's images (cacheFromImages).
	cacheFromOnce sync.Once
	cacheFrom     []image.Image
}

func (r *buildRun) consumed(k string) {
	r.usedMu.Lock()
	defer r.usedMu.Unlock()
	if r.used == nil {
		r.used = map[string]bool{}
	}
	r.used[k] = true
}

// unconsumed returns the build args given but not declared by any ARG,
// for docker's warning.
func (r *buildRun) unconsumed() []string {
	r.usedMu.Lock()
	defer r.usedMu.Unlock()
	var out []string
	for k := range r.opts.BuildArgs {
		if !r.used[k] && !predefinedArgs[k] && k != "SOURCE_DATE_EPOCH" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// stageState is what a stage's instructions change.
type stageState struct {
	// send writes to the build's output in stage order (stageOutput).
	send   func(string)
	img    image.Image
	cfg    ocispec.ImageConfig
	author string
	args   map[string]string
	// ext is the config docker has and OCI's lacks: HEALTHCHECK, SHELL,
	// ONBUILD.
	ext dockerspec.DockerOCIImageConfigExt
	// cmdSet is whether the stage has a CMD of its own, which its
	// ENTRYPOINT keeps (an inherited one is reset).
	cmdSet bool
}

// defaultPath is the PATH a stage gets when its base image has none
// (scratch, say), as docker's builder sets it.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// defaultShell is the shell of shell-form RUN, CMD and ENTRYPOINT
// without SHELL.
var defaultShell = []string{"/bin/sh", "-c"}

// shell is the stage's SHELL: its own, the base image's, or the default.
func (s *stageState) shell() []string {
	if len(s.ext.Shell) > 0 {
		return s.ext.Shell
	}
	return defaultShell
}

// configExt reads the docker-only config fields of img.
func configExt(img image.Image) dockerspec.DockerOCIImageConfigExt {
	var raw struct {
		Config dockerspec.DockerOCIImageConfigExt `json:"config"`
	}
	if len(img.ConfigRaw) > 0 {
		_ = json.Unmarshal(img.ConfigRaw, &raw)
	}
	return raw.Config
}

// setImage makes img the stage's current image and config.
func (s *stageState) setImage(img image.Image) {
	s.img = img
	// A copy of its own: img's config may be shared (the image service
	// keeps configs it read), and the steps change maps in place.
	s.cfg = image.CloneConfig(img.Config.Config)
	s.ext = configExt(img)
}

func (r *buildRun) result(i int) *stageResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, ok := r.results[i]
	if !ok {
		res = &stageResult{}
		r.results[i] = res
	}
	return res
}

// buildStage builds stage i once and returns its image. The stages it
// depends on are started at once, concurrently with it, and waited for
// only where an instruction needs them (FROM, COPY --from, RUN --mount
// from=).
func (r *buildRun) buildStage(ctx context.Context, i int) (image.Image, error) {
	res := r.result(i)
	res.once.Do(func() {
		for _, d := range r.plan.deps[i] {
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.buildStage(ctx, d)
			}()
		}
		res.img, res.err = r.runStage(ctx, i)
	})
	return res.img, res.err
}

func (r *buildRun) lex() *shell.Lex { return shell.NewLex(r.plan.escape) }

func (r *buildRun) baseImage(ctx context.Context, i int) (image.Image, error) {
	if b := r.plan.bases[i]; b >= 0 {
		return r.buildStage(ctx, b)
	}
	ref := r.plan.baseRefs[i]
	if strings.EqualFold(ref, "scratch") {
		return image.Image{}, nil
	}
	platform, _, err := r.lex().ProcessWord(r.plan.stages[i].Platform, envMap(r.plan.globalArgs))
	if err != nil {
		return image.Image{}, invalid("FROM --platform=%s: %v", r.plan.stages[i].Platform, err)
	}
	if platform == "" {
		platform = r.opts.Platform
	}
	return r.image(ctx, ref, platform)
}

// image returns the image ref, pulling it when it is missing or the build
// asked for --pull.
func (r *buildRun) image(ctx context.Context, ref, platform string) (image.Image, error) {
	if !r.opts.Pull {
		if img, err := r.b.images.Get(ctx, ref); err == nil {
			return img, nil
		}
	}
	po := image.PullOptions{Platform: platform, Auth: registryAuthFor(r.opts.RegistryAuth, ref)}
	if r.sendEvent != nil {
		po.Progress = func(ev image.ProgressEvent) { r.sendEvent(Event{Pull: &ev}) }
	}
	img, err := r.b.images.Pull(ctx, ref, po)
	if err != nil {
		return image.Image{}, err
	}
	return img, nil
}

func (r *buildRun) runStage(ctx context.Context, i int) (image.Image, error) {
	st := r.plan.stages[i]
	step := r.plan.firstStep[i]
	send := r.out.sender(i)
	defer r.out.finish(i)
	send(fmt.Sprintf("Step %d/%d : %s\n", step, r.plan.total, st.SourceCode))
	base, err := r.baseImage(ctx, i)
	if err != nil {
		return image.Image{}, &StepError{Step: step, Instruction: st.SourceCode, Err: err}
	}
	s := &stageState{send: send, args: map[string]string{}}
	s.setImage(base)
	if !hasEnv(s.cfg.Env, "PATH") {
		s.cfg.Env = append(s.cfg.Env, "PATH="+defaultPath)
	}
	if base.ID != "" {
		s.send(fmt.Sprintf(" ---> %s\n", shortHex(base.ID)))
		if err := r.onBuildTriggers(ctx, s, base); err != nil {
			return image.Image{}, &StepError{Step: step, Instruction: st.SourceCode, Err: err}
		}
	}
	for _, c := range st.Commands {
		step++
		s.send(fmt.Sprintf("Step %d/%d : %s\n", step, r.plan.total, cmdText(c)))
		if err := ctx.Err(); err != nil {
			return image.Image{}, err
		}
		if err := r.dispatch(ctx, s, c); err != nil {
			var se *StepError
			if errors.As(err, &se) {
				return image.Image{}, se // a stage this one needed failed
			}
			return image.Image{}, &StepError{Step: step, Instruction: cmdText(c), Err: err}
		}
	}
	if i == r.plan.target && len(r.opts.Labels) > 0 {
		s.cfg.Labels = cloneMap(s.cfg.Labels) // never the map of the image before
		if s.cfg.Labels == nil {
			s.cfg.Labels = map[string]string{}
		}
		keys := make([]string, 0, len(r.opts.Labels))
		for k, v := range r.opts.Labels {
			s.cfg.Labels[k] = v
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		if err := r.configStep(ctx, s, "LABEL "+strings.Join(keys, " ")); err != nil {
			return image.Image{}, err
		}
	}
	if s.img.ID == "" && i == r.plan.target {
		if err := r.configStep(ctx, s, "FROM scratch"); err != nil {
			return image.Image{}, err
		}
	}
	// Each stage's image goes out as an aux message after its steps; the
	// target's is sent with the build's result.
	if i != r.plan.target && s.img.ID != "" {
		send(auxMarker + s.img.ID.String())
	}
	return s.img, nil
}

// onBuildTriggers runs the base image's ONBUILD instructions.
func (r *buildRun) onBuildTriggers(ctx context.Context, s *stageState, base image.Image) error {
	// The triggers run once: the stage's own image does not inherit them,
	// as docker's.
	triggers := s.ext.OnBuild
	s.ext.OnBuild = nil
	if len(triggers) == 0 {
		return nil
	}
	s.send(fmt.Sprintf("# Executing %d build trigger", len(triggers)) + map[bool]string{true: "s", false: ""}[len(triggers) > 1] + "\n")
	for _, t := range triggers {
		res, err := parser.Parse(strings.NewReader(t))
		if err != nil || len(res.AST.Children) != 1 {
			return invalid("ONBUILD trigger %q: %v", t, err)
		}
		c, err := instructions.ParseCommand(res.AST.Children[0])
		if err != nil {
			return invalid("ONBUILD trigger %q: %v", t, err)
		}
		if err := r.dispatch(ctx, s, c); err != nil {
			return fmt.Errorf("ONBUILD trigger %q: %w", t, err)
		}
	}
	return nil
}

// env returns the expansion environment: the stage's args overridden by
// its ENV.
func (s *stageState) env() envMap {
	m := envMap{}
	for k, v := range s.args {
		m[k] = v
	}
	for _, kv := range s.cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func (r *buildRun) dispatch(ctx context.Context, s *stageState, c instructions.Command) error {
	expand, err := expandCommand(r.lex(), s.env(), c)
	if err != nil {
		return err
	}
	switch c := c.(type) {
	case *instructions.EnvCommand:
		var parts []string
		for _, kv := range c.Env {
			s.cfg.Env = setEnv(s.cfg.Env, kv.Key, kv.Value)
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		return r.configStep(ctx, s, "ENV "+strings.Join(parts, " "))
	case *instructions.LabelCommand:
		if s.cfg.Labels == nil {
			s.cfg.Labels = map[string]string{}
		} else {
			s.cfg.Labels = cloneMap(s.cfg.Labels)
		}
		var parts []string
		for _, kv := range c.Labels {
			s.cfg.Labels[kv.Key] = kv.Value
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		return r.configStep(ctx, s, "LABEL "+strings.Join(parts, " "))
	case *instructions.MaintainerCommand:
		s.author = c.Maintainer
		return r.configStep(ctx, s, "MAINTAINER "+c.Maintainer)
	case *instructions.CmdCommand:
		s.cfg.Cmd = r.commandLine(s, c.ShellDependantCmdLine)
		s.cmdSet = true
		return r.configStep(ctx, s, "CMD "+jsonString(s.cfg.Cmd))
	case *instructions.EntrypointCommand:
		s.cfg.Entrypoint = r.commandLine(s, c.ShellDependantCmdLine)
		if !s.cmdSet {
			s.cfg.Cmd = nil // an inherited CMD is reset by ENTRYPOINT, as docker does
		}
		return r.configStep(ctx, s, "ENTRYPOINT "+jsonString(s.cfg.Entrypoint))
	case *instructions.ExposeCommand:
		ports := map[string]struct{}{}
		for k, v := range s.cfg.ExposedPorts {
			ports[k] = v
		}
		var added []string
		for _, p := range c.Ports {
			p, err := expand(p)
			if err != nil {
				return invalid("EXPOSE %s: %v", p, err)
			}
			ps, err := expandPorts(p)
			if err != nil {
				return err
			}
			for _, x := range ps {
				ports[x] = struct{}{}
				added = append(added, x)
			}
		}
		s.cfg.ExposedPorts = ports
		return r.configStep(ctx, s, "EXPOSE "+strings.Join(added, " "))
	case *instructions.WorkdirCommand:
		p := c.Path
		if !path.IsAbs(p) {
			p = path.Join("/", s.cfg.WorkingDir, p)
		}
		s.cfg.WorkingDir = path.Clean(p)
		return r.workdir(ctx, s)
	case *instructions.UserCommand:
		s.cfg.User = c.User
		return r.configStep(ctx, s, "USER "+c.User)
	case *instructions.VolumeCommand:
		vols := map[string]struct{}{}
		for k, v := range s.cfg.Volumes {
			vols[k] = v
		}
		for _, v := range c.Volumes {
			if strings.TrimSpace(v) == "" {
				return invalid("VOLUME specified can not be an empty string")
			}
			vols[v] = struct{}{}
		}
		s.cfg.Volumes = vols
		return r.configStep(ctx, s, "VOLUME "+jsonString(c.Volumes))
	case *instructions.StopSignalCommand:
		if _, err := parseSignal(c.Signal); err != nil {
			return err
		}
		s.cfg.StopSignal = c.Signal
		return r.configStep(ctx, s, "STOPSIGNAL "+c.Signal)
	case *instructions.HealthCheckCommand:
		if h := c.Health; h != nil && len(h.Test) > 0 && h.Test[0] != "NONE" && h.Retries < 1 && strings.Contains(c.String(), "--retries") {
			return invalid("--retries must be at least 1")
		}
		if old := s.ext.Healthcheck; old != nil && len(old.Test) > 0 && old.Test[0] != "NONE" {
			s.send(fmt.Sprintf("Note: overriding previous HEALTHCHECK: %v\n", old.Test))
		}
		s.ext.Healthcheck = c.Health
		return r.configStep(ctx, s, "HEALTHCHECK "+jsonString(c.Health))
	case *instructions.ShellCommand:
		s.ext.Shell = append([]string(nil), c.Shell...)
		return r.configStep(ctx, s, "SHELL "+jsonString(c.Shell))
	case *instructions.OnbuildCommand:
		s.ext.OnBuild = append(append([]string(nil), s.ext.OnBuild...), c.Expression)
		return r.configStep(ctx, s, "ONBUILD "+c.Expression)
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			r.consumed(kv.Key)
			v, given := buildArgValue(r.opts.BuildArgs, kv.Key)
			switch {
			case given:
			case kv.Value != nil:
				v = *kv.Value
			default:
				g, ok := r.plan.globalArgs[kv.Key]
				if !ok {
					// Declared without a value: unset, as docker's.
					delete(s.args, kv.Key)
					continue
				}
				v = g
			}
			s.args[kv.Key] = v
		}
		if s.img.ID != "" {
			s.send(fmt.Sprintf(" ---> %s\n", shortHex(s.img.ID)))
		}
		return nil
	case *instructions.RunCommand:
		return r.run(ctx, s, c)
	case *instructions.CopyCommand:
		return r.copy(ctx, s, copyArgs{sd: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod, exclude: c.ExcludePatterns, parents: c.Parents, name: "COPY"})
	case *instructions.AddCommand:
		return r.copy(ctx, s, copyArgs{sd: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod, exclude: c.ExcludePatterns, add: true, checksum: c.Checksum, name: "ADD"})
	}
	return invalid("unsupported instruction %s", c.Name())
}

func cloneMap(m map[string]string) map[string]string {
	n := make(map[string]string, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (r *buildRun) commandLine(s *stageState, c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell {
		return append(append([]string(nil), s.shell()...), strings.Join(c.CmdLine, " "))
	}
	return append([]string(nil), c.CmdLine...)
}

func expandPorts(p string) ([]string, error) {
	port, proto, _ := strings.Cut(p, "/")
	if proto == "" {
		proto = "tcp"
	}
	switch strings.ToLower(proto) {
	case "tcp", "udp", "sctp":
	default:
		return nil, invalid("invalid proto: %s", proto)
	}
	lo, hi, isRange := strings.Cut(port, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return nil, invalid("EXPOSE %s: invalid port", p)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a || b-a > 1024 {
			return nil, invalid("EXPOSE %s: invalid port range", p)
		}
	}
	var out []string
	for x := a; x <= b; x++ {
		out = append(out, fmt.Sprintf("%d/%s", x, strings.ToLower(proto)))
	}
	return out, nil
}

func parseSignal(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return n, nil
	}
	if n, ok := signal.SignalMap[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return int(n), nil
	}
	return 0, invalid("STOPSIGNAL %s: invalid signal", s)
}

// cached looks key up and, on a hit, makes its image the stage's.
func (r *buildRun) cached(ctx context.Context, s *stageState, key string) bool {
	if r.opts.NoCache {
		return false
	}
	id, ok := r.b.cache.get(key)
	if !ok {
		return false
	}
	img, err := r.b.images.Get(ctx, id.String())
	if err != nil {
		return false
	}
	s.setImage(img)
	s.send(" ---> Using cache\n")
	s.send(fmt.Sprintf(" ---> %s\n", shortHex(img.ID)))
	return true
}

func (r *buildRun) done(ctx context.Context, s *stageState, key, description string, img image.Image, committed bool) error {
	s.img = img
	s.send(fmt.Sprintf(" ---> %s\n", shortHex(img.ID)))
	// dockerd's classic builder logs "image create" for a step committed
	// from a container (RUN) only; metadata, COPY and ADD steps, and
	// images from --cache-from, make none.
	if r.sendEvent != nil && committed && !strings.Contains(description, "#(nop)") {
		r.sendEvent(Event{Created: img.ID.String()})
	}
	displaced, err := r.b.cache.put(key, img.ID, description)
	if err != nil || displaced == "" {
		return err
	}
	// The step's image of an earlier (--no-cache) build lost the step's
	// name to this one: it keeps a hidden name of its own, so it is not
	// listed as a dangling image; builder prune removes it.
	if old, err := r.b.images.Get(ctx, displaced.String()); err == nil && old.Dangling {
		if err := r.b.images.Tag(ctx, displaced.String(), cacheRef(key[:32]+"-"+displaced.Encoded()[:16])); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// configStep commits a config-only step.
func (r *buildRun) configStep(ctx context.Context, s *stageState, instr string) error {
	key := r.stepKey(s.img.ID, instr, "config="+jsonString(s.cfg), "ext="+jsonString(s.ext), "author="+s.author)
	if r.cached(ctx, s, key) {
		return nil
	}
	if ok, err := r.restoreFromCacheImage(ctx, s, key, "/bin/sh -c #(nop) "+instr); ok || err != nil {
		return err
	}
	img, err := r.b.images.CreateFromDiff(ctx, s.img, nil, image.CommitOptions{
		Ref: cacheRef(key), Config: &s.cfg, ConfigExt: &s.ext, EmptyLayer: true, CreatedBy: "/bin/sh -c #(nop) " + instr, Author: s.author, Platform: r.opts.Platform,
		Created: r.created(),
	})
	if err != nil {
		return err
	}
	return r.done(ctx, s, key, instr, img, false)
}

// layerStep prepares a writable snapshot on the stage's image, lets fill
// change it and commits its diff as a new layer.
func (r *buildRun) layerStep(ctx context.Context, s *stageState, key, createdBy string, fill func(id string, mounts []mount.Mount) error) error {
	id := randomHex(32)
	snapKey := "build-" + id
	mounts, err := r.b.images.Prepare(ctx, snapKey, s.img)
	if err != nil {
		return err
	}
	defer r.b.images.RemoveRootfs(context.WithoutCancel(ctx), snapKey)
	if err := fill(id, mounts); err != nil {
		return err
	}
	upper, overlay, err := mount.WritableDir(mounts)
	if err != nil {
		return err
	}
	if overlay {
		// A step that changed nothing adds no layer, as dockerd's builder
		// (an empty diff is an empty_layer history entry).
		if ents, err := os.ReadDir(upper); err == nil && len(ents) == 0 {
			img, err := r.b.images.CreateFromDiff(ctx, s.img, nil, image.CommitOptions{
				Ref: cacheRef(key), Config: &s.cfg, ConfigExt: &s.ext, CreatedBy: createdBy, Author: s.author, Platform: r.opts.Platform,
				Created: r.created(), EmptyLayer: true,
			})
			if err != nil {
				return err
			}
			return r.done(ctx, s, key, createdBy, img, true)
		}
	}
	lowers := mount.LowerDirs(mounts)
	pr, pw := io.Pipe()
	go func() {
		var w io.Writer = pw
		var cw *clampWriter
		if t, ok := r.sourceDateEpoch(); ok {
			cw = newClampWriter(pw, t)
			w = cw
		}
		err := archive.Diff(ctx, lowers, upper, w)
		if err == nil && cw != nil {
			err = cw.Close()
		}
		pw.CloseWithError(err)
	}()
	img, err := r.b.images.CreateFromDiff(ctx, s.img, pr, image.CommitOptions{
		Ref: cacheRef(key), Config: &s.cfg, ConfigExt: &s.ext, CreatedBy: createdBy, Author: s.author, Platform: r.opts.Platform,
		Created: r.created(),
	})
	pr.CloseWithError(errors.New("layer not read"))
	if err != nil {
		return err
	}
	return r.done(ctx, s, key, createdBy, img, true)
}

// stepKey is the cache key of a step of this build: SOURCE_DATE_EPOCH,
// which sets the created times and clamps the files' mtimes, is part of
// it.
func (r *buildRun) stepKey(parent digest.Digest, instruction string, extra ...string) string {
	if t, ok := r.sourceDateEpoch(); ok {
		extra = append(extra, fmt.Sprintf("epoch=%d", t.Unix()))
	}
	return stepKey(parent, instruction, extra...)
}

// created is the time built images record: SOURCE_DATE_EPOCH when given,
// else nil for now.
func (r *buildRun) created() *time.Time {
	if t, ok := r.sourceDateEpoch(); ok {
		return &t
	}
	return nil
}

func (r *buildRun) sourceDateEpoch() (time.Time, bool) {
	v, ok := buildArgValue(r.opts.BuildArgs, "SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// mountImage mounts a read-only view of img and returns its directory and
// the function that unmounts and removes it.
func (r *buildRun) mountImage(ctx context.Context, img image.Image) (string, func(), error) {
	key := "build-view-" + randomHex(16)
	mounts, err := r.b.images.Prepare(ctx, key, img)
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp(filepath.Join(r.b.root, "tmp"), "view-")
	if err != nil {
		r.b.images.RemoveRootfs(context.WithoutCancel(ctx), key)
		return "", nil, err
	}
	if err := mount.All(mounts, dir); err != nil {
		os.Remove(dir)
		r.b.images.RemoveRootfs(context.WithoutCancel(ctx), key)
		return "", nil, err
	}
	return dir, func() {
		unmount(dir)
		os.Remove(dir)
		r.b.images.RemoveRootfs(context.WithoutCancel(ctx), key)
	}, nil
}

// fromImage resolves --from: a stage name or index, else an image.
func (r *buildRun) fromImage(ctx context.Context, from string) (image.Image, error) {
	if j, ok := instructions.HasStage(r.plan.stages, from); ok {
		return r.buildStage(ctx, j)
	}
	if n, err := strconv.Atoi(from); err == nil && n >= 0 && n < len(r.plan.stages) {
		return r.buildStage(ctx, n)
	}
	return r.image(ctx, from, r.opts.Platform)
}

// lineWriter sends a RUN step's output to the progress stream.
type lineWriter struct {
	send func(string)
	mu   sync.Mutex
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.send(string(w.buf[:i+1]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.send(string(w.buf) + "\n")
		w.buf = nil
	}
}

// runArgs is the argv of a RUN: exec form as given; shell form through
// the stage's shell, heredocs as part of the script the shell reads.
func (s *stageState) runArgs(c *instructions.RunCommand) []string {
	if !c.PrependShell {
		return append([]string(nil), c.CmdLine...)
	}
	script := strings.Join(c.CmdLine, " ")
	if onlyHeredoc(c) {
		// RUN <<EOF: the heredoc is the script.
		return append(append([]string(nil), s.shell()...), c.Files[0].Data)
	}
	for _, f := range c.Files {
		data := f.Data
		if !strings.HasSuffix(data, "\n") {
			data += "\n"
		}
		script += "\n" + data + f.Name
	}
	return append(append([]string(nil), s.shell()...), script)
}

// onlyHeredoc reports whether a shell-form RUN is a single heredoc.
func onlyHeredoc(c *instructions.RunCommand) bool {
	script := strings.TrimSpace(strings.Join(c.CmdLine, " "))
	return c.PrependShell && len(c.Files) == 1 && strings.HasPrefix(script, "<<") && !strings.ContainsAny(script, " \t")
}

func (r *buildRun) run(ctx context.Context, s *stageState, c *instructions.RunCommand) error {
	args := s.runArgs(c)
	var mounts []RunMount
	if onlyHeredoc(c) && strings.HasPrefix(c.Files[0].Data, "#!") {
		// A heredoc with a shebang runs as a file, with its interpreter,
		// as buildkit does.
		f, err := os.CreateTemp(filepath.Join(r.b.root, "tmp"), "heredoc-")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		_, err = f.WriteString(c.Files[0].Data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if err := os.Chmod(f.Name(), 0o755); err != nil {
			return err
		}
		target := "/dev/pipes/" + path.Base(c.Files[0].Name)
		mounts = append(mounts, RunMount{Type: "bind", Source: f.Name(), Target: target, ReadOnly: true})
		args = []string{target}
	}
	// RUN --network overrides the build's --network; the parser reports
	// "default" when the flag is absent.
	network := instructions.GetNetwork(c)
	if network == "" || network == instructions.NetworkDefault {
		network = r.opts.Network
	}
	if network == "" {
		network = "default"
	}
	if network != "default" && network != "none" && network != "host" {
		return invalid("RUN --network=%s: want default, none or host", network)
	}
	env := append([]string(nil), s.cfg.Env...)
	var argKV []string
	for k, v := range s.args {
		argKV = append(argKV, k+"="+v)
		if !hasEnv(env, k) {
			env = append(env, k+"="+v)
		}
	}
	sort.Strings(argKV)
	// The proxy args reach RUN without an ARG and, as docker's, stay out
	// of the cache key.
	for k := range predefinedArgs {
		if _, declared := s.args[k]; declared {
			continue
		}
		if v, ok := buildArgValue(r.opts.BuildArgs, k); ok && !hasEnv(env, k) {
			env = append(env, k+"="+v)
		}
	}
	var mountKeys []string
	var cleanups []func()
	// onMiss prepares what only a step that runs needs.
	var onMiss []func() error
	defer func() {
		for _, f := range cleanups {
			f()
		}
	}()
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			target = path.Join("/", s.cfg.WorkingDir, target)
		}
		switch m.Type {
		case instructions.MountTypeTmpfs:
			mounts = append(mounts, RunMount{Type: "tmpfs", Target: target})
			mountKeys = append(mountKeys, "tmpfs:"+target)
		case instructions.MountTypeCache:
			id := m.CacheID
			if id == "" {
				id = target
			}
			dir := filepath.Join(r.b.root, "mounts", stepKey("", "cache", id)[:24])
			if err := os.Mkdir(dir, 0o755); err == nil {
				uid, gid := 0, 0
				if m.UID != nil {
					uid = int(*m.UID)
				}
				if m.GID != nil {
					gid = int(*m.GID)
				}
				if err := os.Lchown(dir, uid, gid); err != nil {
					return fmt.Errorf("cache mount %s: %w", id, err)
				}
				if m.Mode != nil {
					if err := os.Chmod(dir, fs.FileMode(*m.Mode&0o7777)); err != nil {
						return fmt.Errorf("cache mount %s: %w", id, err)
					}
				}
			} else if !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("cache mount %s: %w", id, err)
			}
			switch m.CacheSharing {
			case instructions.MountSharingLocked:
				unlock := r.b.lockCacheMount(dir)
				cleanups = append(cleanups, unlock)
			case instructions.MountSharingPrivate:
				// A private mount in use by another step gets its own
				// directory for this step.
				if unlock, ok := r.b.tryLockCacheMount(dir); ok {
					cleanups = append(cleanups, unlock)
				} else {
					priv, err := os.MkdirTemp(filepath.Join(r.b.root, "tmp"), "cache-private-")
					if err != nil {
						return err
					}
					cleanups = append(cleanups, func() { os.RemoveAll(priv) })
					dir = priv
				}
			}
			mounts = append(mounts, RunMount{Type: "bind", Source: dir, Target: target, ReadOnly: m.ReadOnly})
			mountKeys = append(mountKeys, "cache:"+id+":"+target)
		case instructions.MountTypeSecret:
			id := m.CacheID
			if id == "" {
				id = path.Base(target)
			}
			if target == "" {
				target = "/run/secrets/" + id
			}
			src, ok := r.opts.Secrets[id]
			if !ok {
				if m.Required {
					return invalid("RUN --mount=type=secret,id=%s: secret not provided", id)
				}
				continue
			}
			mounts = append(mounts, RunMount{Type: "bind", Source: src, Target: target, ReadOnly: true})
			mountKeys = append(mountKeys, "secret:"+id+":"+target)
		case instructions.MountTypeBind:
			if m.From != "" {
				img, err := r.fromImage(ctx, m.From)
				if err != nil {
					return fmt.Errorf("--mount from=%s: %w", m.From, err)
				}
				// The image ID and the source fix the key; the image is
				// mounted only when the step runs.
				i, m := len(mounts), m
				mounts = append(mounts, RunMount{Type: "bind", Target: target, ReadOnly: m.ReadOnly})
				mountKeys = append(mountKeys, "bind:"+target+":"+img.ID.String()+":"+m.Source)
				onMiss = append(onMiss, func() error {
					dir, cleanup, err := r.mountImage(ctx, img)
					if err != nil {
						return err
					}
					cleanups = append(cleanups, cleanup)
					root, err := os.OpenRoot(dir)
					if err != nil {
						return err
					}
					defer root.Close()
					srcs, err := matchSources(dir, root, m.Source, func(string) bool { return false })
					if err != nil {
						return fmt.Errorf("--mount from=%s,source=%s: %w", m.From, m.Source, err)
					}
					mounts[i].Source = srcs[0].host
					return nil
				})
				continue
			}
			srcs, err := matchSources(r.ctx.dir, r.ctx.root, m.Source, func(string) bool { return false })
			if err != nil {
				return fmt.Errorf("--mount source=%s: %w", m.Source, err)
			}
			h, err := (&copySpec{sources: srcs, sums: &r.b.sums}).hash()
			if err != nil {
				return err
			}
			mounts = append(mounts, RunMount{Type: "bind", Source: srcs[0].host, Target: target, ReadOnly: m.ReadOnly})
			mountKeys = append(mountKeys, "bind:"+target+":"+h)
		default:
			return invalid("RUN --mount=type=%s is not supported", m.Type)
		}
	}
	key := r.stepKey(s.img.ID, "RUN "+jsonString(args), "args="+strings.Join(argKV, "\x01"), "mounts="+strings.Join(mountKeys, "\x01"), "network="+network)
	if r.cached(ctx, s, key) {
		return nil
	}
	createdBy := strings.Join(args, " ")
	if len(argKV) > 0 {
		createdBy = fmt.Sprintf("|%d %s %s", len(argKV), strings.Join(argKV, " "), createdBy)
	}
	if ok, err := r.restoreFromCacheImage(ctx, s, key, createdBy); ok || err != nil {
		return err
	}
	for _, f := range onMiss {
		if err := f(); err != nil {
			return err
		}
	}
	return r.layerStep(ctx, s, key, createdBy, func(id string, rootfs []mount.Mount) error {
		s.send(fmt.Sprintf(" ---> Running in %s\n", id[:12]))
		if len(s.cfg.Volumes) > 0 {
			vols, cleanup, err := r.volumeMounts(ctx, rootfs, s.cfg.Volumes)
			if err != nil {
				return err
			}
			defer cleanup()
			mounts = append(vols, mounts...)
		}
		out := &lineWriter{send: s.send}
		wd := s.cfg.WorkingDir
		if wd == "" {
			wd = "/"
		}
		err := r.b.exec.Run(ctx, RunRequest{
			ID: "build-" + id, Rootfs: rootfs, Args: args, Env: env, WorkingDir: wd, User: s.cfg.User,
			Network: network, ExtraHosts: r.opts.ExtraHosts, Mounts: mounts, Limits: r.opts.Limits, Stdout: out, Stderr: out,
		})
		out.flush()
		if ee := (*ExitError)(nil); errors.As(err, &ee) && ee.Cmd == "" {
			ee.Cmd = strings.Join(args, " ") // the legacy builder's words name it
		}
		if err != nil {
			return err
		}
		s.send(fmt.Sprintf("Removing intermediate container %s\n", id[:12]))
		return nil
	})
}

// workdir commits WORKDIR as the legacy builder does: the directory is
// made (owned by root) in a layer of its own, so that it is in the image
// and not only made by the runtime when a container starts there.
func (r *buildRun) workdir(ctx context.Context, s *stageState) error {
	instr := "WORKDIR " + s.cfg.WorkingDir
	key := r.stepKey(s.img.ID, instr, "config="+jsonString(s.cfg), "ext="+jsonString(s.ext), "author="+s.author, "mkdir")
	if r.cached(ctx, s, key) {
		return nil
	}
	if ok, err := r.restoreFromCacheImage(ctx, s, key, "/bin/sh -c #(nop) "+instr); ok || err != nil {
		return err
	}
	return r.layerStep(ctx, s, key, "/bin/sh -c #(nop) "+instr, func(_ string, rootfs []mount.Mount) error {
		return r.withRootfs(rootfs, func(dir string) error {
			root, err := os.OpenRoot(dir)
			if err != nil {
				return err
			}
			defer root.Close()
			if rel := strings.TrimPrefix(s.cfg.WorkingDir, "/"); rel != "" {
				if err := root.MkdirAll(rel, 0o755); err != nil {
					return fmt.Errorf("%s: %w", instr, err)
				}
			}
			return nil
		})
	})
}

// withRootfs mounts a step's rootfs on a directory of its own for fn.
func (r *buildRun) withRootfs(rootfs []mount.Mount, fn func(dir string) error) error {
	dir, err := os.MkdirTemp(filepath.Join(r.b.root, "tmp"), "rootfs-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := mount.All(rootfs, dir); err != nil {
		return err
	}
	defer unmount(dir)
	return fn(dir)
}

// volumeMounts gives a RUN step the stage's VOLUMEs as the legacy builder
// does: each path is an anonymous volume, filled with what the image has
// there, so the step sees it and its mount point exists (and stays in the
// layer), while what the step writes into it is dropped with the volume.
func (r *buildRun) volumeMounts(ctx context.Context, rootfs []mount.Mount, volumes map[string]struct{}) (_ []RunMount, cleanup func(), err error) {
	paths := make([]string, 0, len(volumes))
	for v := range volumes {
		paths = append(paths, path.Clean("/"+v))
	}
	sort.Strings(paths) // a volume before the ones inside it
	tmp, err := os.MkdirTemp(filepath.Join(r.b.root, "tmp"), "volumes-")
	if err != nil {
		return nil, nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	// The rootfs is mounted beside tmp, never inside it: removing tmp must
	// not reach into the step's files.
	var out []RunMount
	err = r.withRootfs(rootfs, func(view string) error {
		for i, p := range paths {
			dst := filepath.Join(tmp, strconv.Itoa(i))
			var err error
			if src, ok := dirInRoot(view, p); ok {
				err = snapshot.CopyTree(ctx, src, dst)
			} else {
				err = os.Mkdir(dst, 0o755)
			}
			if err != nil {
				return fmt.Errorf("VOLUME %s: %w", p, err)
			}
			out = append(out, RunMount{Type: "bind", Source: dst, Target: p})
		}
		return nil
	})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return out, cleanup, nil
}

// dirInRoot returns the host path of directory p of the tree at root, its
// symlinks resolved, if it is one and stays inside root.
func dirInRoot(root, p string) (string, bool) {
	real, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(p)))
	if err != nil {
		return "", false
	}
	if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	fi, err := os.Lstat(real)
	return real, err == nil && fi.IsDir()
}

func hasEnv(env []string, k string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			return true
		}
	}
	return false
}

type copyArgs struct {
	sd                 instructions.SourcesAndDest
	from, chown, chmod string
	exclude            []string
	parents, add       bool
	checksum           string
	name               string
}

func (r *buildRun) copy(ctx context.Context, s *stageState, a copyArgs) error {
	if a.checksum != "" {
		for _, p := range a.sd.SourcePaths {
			if !strings.HasPrefix(p, "http://") && !strings.HasPrefix(p, "https://") {
				return invalid("ADD --checksum=%s: only for http(s) sources, not %s", a.checksum, p)
			}
		}
	}
	if a.parents {
		return invalid("%s --parents is not supported", a.name)
	}
	cs := &copySpec{dest: a.sd.DestPath}
	if !path.IsAbs(cs.dest) {
		wd := s.cfg.WorkingDir
		if wd == "" {
			wd = "/"
		}
		cs.dest = path.Join(wd, cs.dest)
		if strings.HasSuffix(a.sd.DestPath, "/") || a.sd.DestPath == "." {
			cs.dest += "/"
		}
	}
	// As docker: "dir/", ".", "dir/." and several sources all name a
	// directory (COPY f . after WORKDIR /app writes /app/f).
	d := a.sd.DestPath
	dirForm := strings.HasSuffix(d, "/") || d == "." || strings.HasSuffix(d, "/.")
	if n := len(a.sd.SourcePaths) + len(a.sd.SourceContents); n > 1 && !dirForm {
		return invalid("When using %s with more than one source file, the destination must be a directory and end with a /", a.name)
	}
	cs.destDir = dirForm || len(a.sd.SourcePaths)+len(a.sd.SourceContents) > 1
	if a.chmod != "" {
		m, err := strconv.ParseUint(a.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return invalid("%s --chmod=%s: want an octal mode", a.name, a.chmod)
		}
		fm := fs.FileMode(m & 0o777)
		if m&0o4000 != 0 {
			fm |= fs.ModeSetuid
		}
		if m&0o2000 != 0 {
			fm |= fs.ModeSetgid
		}
		if m&0o1000 != 0 {
			fm |= fs.ModeSticky
		}
		cs.chmod = &fm
	}
	if len(a.exclude) > 0 {
		pm, err := patternmatcher.New(a.exclude)
		if err != nil {
			return invalid("%s --exclude: %v", a.name, err)
		}
		cs.exclude = pm
	}
	if t, ok := r.sourceDateEpoch(); ok {
		cs.clamp = &t
	}
	var extra []string
	srcDesc := "" // what the history says was copied: docker's file:, dir: or multi:<hash>
	tmp, err := os.MkdirTemp(filepath.Join(r.b.root, "tmp"), "copy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var fromImage func() (cleanup func(), err error)
	if a.from != "" {
		img, err := r.fromImage(ctx, a.from)
		if err != nil {
			return fmt.Errorf("--from=%s: %w", a.from, err)
		}
		// The image ID fixes what the patterns match: nothing to hash,
		// and the image is mounted only when the step is not cached.
		extra = append(extra, "from="+img.ID.String())
		srcDesc = "--from=" + a.from + " " + strings.Join(a.sd.SourcePaths, " ")
		fromImage = func() (func(), error) {
			dir, cleanup, err := r.mountImage(ctx, img)
			if err != nil {
				return nil, err
			}
			root, err := os.OpenRoot(dir)
			if err != nil {
				cleanup()
				return nil, err
			}
			defer root.Close()
			for _, p := range a.sd.SourcePaths {
				srcs, err := matchSources(dir, root, p, func(string) bool { return false })
				if err != nil {
					cleanup()
					return nil, err
				}
				cs.sources = append(cs.sources, srcs...)
			}
			return cleanup, nil
		}
	} else {
		for _, p := range a.sd.SourcePaths {
			if a.add && (strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://")) {
				src, err := r.download(ctx, p, tmp)
				if err != nil {
					return err
				}
				if a.checksum != "" {
					if err := verifyChecksum(src.host, a.checksum); err != nil {
						return fmt.Errorf("ADD %s: %w", p, err)
					}
				}
				cs.sources = append(cs.sources, src)
				continue
			}
			if a.add && strings.HasPrefix(p, "git@") {
				return invalid("ADD %s: git sources are not supported", p)
			}
			srcs, err := matchSources(r.ctx.dir, r.ctx.root, p, r.ctx.ignored)
			if err != nil {
				return err
			}
			if strings.ContainsAny(p, "*?[") {
				cs.destDir = true
			}
			cs.sources = append(cs.sources, srcs...)
		}
		for _, sc := range a.sd.SourceContents {
			name := filepath.Join(tmp, "heredoc-"+path.Base(sc.Path))
			if err := os.WriteFile(name, []byte(sc.Data), 0o644); err != nil {
				return err
			}
			os.Chmod(name, 0o644)
			fi, err := os.Stat(name)
			if err != nil {
				return err
			}
			cs.sources = append(cs.sources, source{host: name, rel: path.Base(sc.Path), info: fi})
		}
		cs.skip = func(rel string) bool { return r.ctx.ignored(rel) }
		cs.skipDeep = r.ctx.ignore != nil && r.ctx.ignore.Exclusions()
		cs.sums = &r.b.sums
		h, err := cs.hash()
		if err != nil {
			return err
		}
		extra = append(extra, "content="+h)
		switch {
		case len(cs.sources) == 1 && cs.sources[0].info.IsDir():
			srcDesc = "dir:" + h
		case len(cs.sources) == 1:
			srcDesc = "file:" + h
		default:
			srcDesc = "multi:" + h
		}
	}
	if a.add {
		cs.extract = func(src source) bool {
			if !src.info.Mode().IsRegular() || strings.HasPrefix(src.host, tmp) {
				return false
			}
			f, err := os.Open(src.host)
			if err != nil {
				return false
			}
			defer f.Close()
			return isTar(f)
		}
	}
	instr := fmt.Sprintf("%s chown=%s chmod=%s exclude=%q src=%q dest=%s dir=%t", a.name, a.chown, a.chmod, a.exclude, a.sd.SourcePaths, cs.dest, cs.destDir)
	key := r.stepKey(s.img.ID, instr, extra...)
	// The history's line, as the legacy builder writes it.
	opts := ""
	if a.chown != "" {
		opts += "--chown=" + a.chown + " "
	}
	if a.chmod != "" {
		opts += "--chmod=" + a.chmod + " "
	}
	createdBy := fmt.Sprintf("/bin/sh -c #(nop) %s %s%s in %s ", a.name, opts, srcDesc, cs.dest)
	if r.cached(ctx, s, key) {
		return nil
	}
	if ok, err := r.restoreFromCacheImage(ctx, s, key, createdBy); ok || err != nil {
		return err
	}
	if fromImage != nil {
		cleanup, err := fromImage()
		if err != nil {
			return err
		}
		defer cleanup()
	}
	return r.layerStep(ctx, s, key, createdBy, func(id string, rootfs []mount.Mount) error {
		return r.withRootfs(rootfs, func(dir string) error { return r.copyInto(ctx, dir, cs, a) })
	})
}

// copyInto does a COPY or ADD into the step's rootfs, mounted on dir.
func (r *buildRun) copyInto(ctx context.Context, dir string, cs *copySpec, a copyArgs) error {
	if a.chown != "" {
		uid, gid, err := resolveOwner(dir, a.chown)
		if err != nil {
			return err
		}
		cs.uid, cs.gid = uid, gid
	} else if a.from != "" {
		// As both of docker's builders: what COPY --from copies out of a
		// stage or an image keeps its owners (the chown-in-a-stage,
		// COPY --from, USER app pattern needs them).
		cs.keepOwner = true
	}
	cs.untar = func(src source, dest string) error {
		target := filepath.Join(dir, filepath.FromSlash(dest))
		real, err := filepath.EvalSymlinks(target)
		if err != nil {
			return err
		}
		if rel, err := filepath.Rel(dir, real); err != nil || strings.HasPrefix(rel, "..") {
			return invalid("ADD %s: destination %s leaves the root filesystem", src.rel, dest)
		}
		f, err := os.Open(src.host)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := archive.Apply(ctx, real, f, archive.ApplyOptions{Format: archive.FormatNative}); err != nil {
			return fmt.Errorf("ADD %s: extract: %w", src.rel, err)
		}
		return nil
	}
	return cs.apply(dir)
}

// download fetches an ADD URL into dir, as docker does: the file is named
// after the URL's last path element, mode 0600, its mtime the
// Last-Modified header.
func (r *buildRun) download(ctx context.Context, raw, dir string) (source, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return source{}, invalid("ADD %s: %v", raw, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return source{}, invalid("ADD %s: %v", raw, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return source{}, fmt.Errorf("ADD %s: %w", raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return source{}, fmt.Errorf("ADD %s: %s", raw, resp.Status)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "index.html"
	}
	p := filepath.Join(dir, "url-"+randomHex(4))
	if err := os.Mkdir(p, 0o700); err != nil {
		return source{}, err
	}
	p = filepath.Join(p, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return source{}, err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return source{}, fmt.Errorf("ADD %s: %w", raw, err)
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		os.Chtimes(p, lm, lm)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return source{}, err
	}
	return source{host: p, rel: name, info: fi}, nil
}

func cmdText(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return c.Name()
}

// cacheRef names a step's image so the image store keeps it: the image
// service drops images without a name.
func cacheRef(key string) string { return image.IntermediateName(key) }

// expandCommand expands the stage's args and ENV in c's words, as docker
// does, and returns the expander for the words c's own handling expands.
func expandCommand(lex *shell.Lex, env envMap, c instructions.Command) (func(string) (string, error), error) {
	expand := func(w string) (string, error) {
		v, _, err := lex.ProcessWord(w, env)
		return v, err
	}
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if err := e.Expand(expand); err != nil {
			return nil, invalid("expand: %v", err)
		}
	}
	if e, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		if err := e.ExpandRaw(expand); err != nil {
			return nil, invalid("expand: %v", err)
		}
	}
	return expand, nil
}

// verifyChecksum checks the file p against ADD --checksum's digest.
func verifyChecksum(p, want string) error {
	d, err := digest.Parse(want)
	if err != nil {
		return invalid("--checksum=%s: %v", want, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	v := d.Verifier()
	if _, err := io.Copy(v, f); err != nil {
		return err
	}
	if !v.Verified() {
		return invalid("--checksum=%s: the content has another digest", want)
	}
	return nil
}

// stageOutput writes the stages' output in stage order, as the legacy
// builder, which builds one stage after the other, prints it: the stages
// a build needs run at once, but each one's lines are held until the
// stages before it are done, so that a step's lines are never mixed with
// another stage's.
type stageOutput struct {
	mu    sync.Mutex
	send  func(string)
	order []int // the stages built, in stage order
	cur   int   // index in order of the stage printing live
	held  map[int][]string
	done  map[int]bool
}

func newStageOutput(send func(string), order []int) *stageOutput {
	return &stageOutput{send: send, order: order, held: map[int][]string{}, done: map[int]bool{}}
}

// sender returns the output function of stage i.
func (o *stageOutput) sender(i int) func(string) {
	return func(m string) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.cur < len(o.order) && o.order[o.cur] == i {
			o.send(m)
			return
		}
		o.held[i] = append(o.held[i], m)
	}
}

// finish marks stage i done and lets the next stages' output through.
func (o *stageOutput) finish(i int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done[i] = true
	for o.cur < len(o.order) && o.done[o.order[o.cur]] {
		o.cur++
		if o.cur < len(o.order) {
			o.flush(o.order[o.cur])
		}
	}
}

// flushAll writes whatever is still held (a failed build), in order.
func (o *stageOutput) flushAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for ; o.cur < len(o.order); o.cur++ {
		o.flush(o.order[o.cur])
	}
}

func (o *stageOutput) flush(i int) {
	for _, m := range o.held[i] {
		o.send(m)
	}
	delete(o.held, i)
}

// buildOrder is the stages a build of target runs (target and what it
// needs), in stage order.
func (p *plan) buildOrder() []int {
	seen := map[int]bool{}
	var visit func(int)
	visit = func(i int) {
		if i < 0 || seen[i] {
			return
		}
		seen[i] = true
		for _, d := range p.deps[i] {
			visit(d)
		}
		if b := p.bases[i]; b >= 0 {
			visit(b)
		}
	}
	visit(p.target)
	var out []int
	for i := range p.stages {
		if seen[i] {
			out = append(out, i)
		}
	}
	return out
}
