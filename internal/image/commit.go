package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/klauspost/compress/gzip"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/metadata"
)

// CommitOptions describe an image made from a parent and one new layer.
type CommitOptions struct {
	// Ref names the new image ("" leaves it dangling).
	Ref string
	// Changes are Dockerfile-like instructions applied to the config, as
	// docker's --change: CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, LABEL,
	// USER, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD.
	Changes []string
	// Config, when set, replaces the parent's config before Changes.
	Config *ocispec.ImageConfig
	// ConfigExt, when set, replaces the docker-only fields of the
	// parent's config (Healthcheck, OnBuild, Shell) before Changes; unset,
	// they are inherited. They are written into the config JSON's
	// "config" object under docker's names.
	ConfigExt *dockerspec.DockerOCIImageConfigExt
	// Created, when set, is the config's and the history entry's created
	// time (SOURCE_DATE_EPOCH) instead of now.
	Created *time.Time
	// Author, Comment and CreatedBy go into the config and its history.
	Author, Comment, CreatedBy string
	// EmptyLayer records a history entry without a layer (layer is
	// ignored and may be nil).
	EmptyLayer bool
	// Platform of an image without a parent ("" for the service's).
	Platform string
}

// intermediateRepo is the repository of the records that keep a
// builder's step images. Such a name keeps its image (GC, Get by name or
// ID) but is not a tag: List leaves out images that only have such names
// (docker's images hides the legacy builder's intermediate images), they
// are not dangling, and rmi neither counts nor reports the name.
const intermediateRepo = "docker.io/library/berth-build-cache"

// IntermediateName is the name of the record that keeps the builder's
// step image of the cache key key.
func IntermediateName(key string) string { return "berth-build-cache:" + key }

func isIntermediateName(n string) bool { return strings.HasPrefix(n, intermediateRepo+":") }

// ListUnnamed gives the image ref, when its only names are the builder's
// intermediate records (the result of a build without -t), a dangling name,
// so that it is listed as <none>, matched by dangling=true and pruned, as
// dockerd lists and prunes the untagged result of a build.
func (s *Service) ListUnnamed(ctx context.Context, ref string) error {
	s.recordMu.Lock()
	defer s.recordMu.Unlock()
	img, err := s.get(ctx, ref)
	if err != nil {
		return err
	}
	if !onlyIntermediate(img.names) {
		return nil
	}
	defer s.recordsChanged()
	return s.db.Update(ctx, func(tx *metadata.Tx) error {
		_, err := tx.Images().Create(metadata.Image{Name: danglingName(img.Target.Digest), Target: img.Target})
		if errdefs.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
}

// onlyIntermediate reports whether names are all intermediate names.
func onlyIntermediate(names []string) bool {
	for _, n := range names {
		if !isIntermediateName(n) {
			return false
		}
	}
	return len(names) > 0
}

// CreateFromDiff makes a new image of parent (a zero Image for none) plus
// the layer tar read from layer (uncompressed, gzip or zstd): the layer is
// stored gzipped, unpacked into its snapshot, and a config and manifest
// are written; the engine's commit and the builder use it.
func (s *Service) CreateFromDiff(ctx context.Context, parent Image, layer io.Reader, opts CommitOptions) (Image, error) {
	img, err := s.createFromDiff(ctx, parent, layer, opts)
	if err != nil {
		return Image{}, fmt.Errorf("create image: %w", err)
	}
	return img, nil
}

func (s *Service) createFromDiff(ctx context.Context, parent Image, layer io.Reader, opts CommitOptions) (Image, error) {
	// The docker type keeps the parent's Healthcheck, OnBuild and Shell,
	// which OCI's ImageConfig has no fields for.
	var cfg dockerspec.DockerOCIImage
	var layers []ocispec.Descriptor
	if parent.ID != "" {
		if err := json.Unmarshal(parent.ConfigRaw, &cfg); err != nil {
			return Image{}, fmt.Errorf("parent config: %w", err)
		}
		layers = append(layers, parent.Manifest.Layers...)
	} else {
		p := s.platform
		if opts.Platform != "" {
			pp, err := content.ParsePlatform(opts.Platform)
			if err != nil {
				return Image{}, err
			}
			p = pp
		}
		cfg.Platform = ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
		cfg.RootFS.Type = "layers"
	}
	if opts.Config != nil {
		cfg.Config.ImageConfig = *opts.Config
	}
	if opts.ConfigExt != nil {
		cfg.Config.DockerOCIImageConfigExt = *opts.ConfigExt
	}
	if err := applyChanges(&cfg.Config, opts.Changes); err != nil {
		return Image{}, err
	}
	now := time.Now().UTC()
	if opts.Created != nil {
		now = opts.Created.UTC()
	}
	cfg.Created = &now
	// The new image's author is the one given (MAINTAINER, commit -a), or
	// none: dockerd does not carry the parent's over.
	cfg.Author = opts.Author
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	leaseID := "create-" + randomID()
	if _, err := s.content.CreateLease(ctx, leaseID, time.Hour); err != nil {
		return Image{}, err
	}
	defer s.content.DeleteLease(context.WithoutCancel(ctx), leaseID)
	lctx := content.WithLease(ctx, leaseID)

	h := ocispec.History{Created: &now, CreatedBy: opts.CreatedBy, Comment: opts.Comment, Author: opts.Author, EmptyLayer: opts.EmptyLayer}
	if !opts.EmptyLayer {
		desc, diffID, err := s.storeLayer(lctx, layer)
		if err != nil {
			return Image{}, err
		}
		layers = append(layers, desc)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
		if err := s.unpackLayers(lctx, layers, cfg.RootFS.DiffIDs); err != nil {
			return Image{}, err
		}
	}
	cfg.History = append(cfg.History, h)
	if opts.Comment != "" {
		// docker's image config carries the commit or import message at
		// its top level too (inspect's Comment).
		return s.storeImage(lctx, struct {
			dockerspec.DockerOCIImage
			Comment string `json:"comment"`
		}{cfg, opts.Comment}, layers, opts.Ref)
	}
	return s.storeImage(lctx, cfg, layers, opts.Ref)
}

// storeImage writes config and OCI manifest and names the image (or keeps
// it dangling).
func (s *Service) storeImage(ctx context.Context, cfg any, layers []ocispec.Descriptor, ref string) (Image, error) {
	cb, err := json.Marshal(cfg)
	if err != nil {
		return Image{}, err
	}
	cdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cb), Size: int64(len(cb))}
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cdesc, Layers: layers}
	m.SchemaVersion = 2
	mb, err := json.Marshal(m)
	if err != nil {
		return Image{}, err
	}
	mdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mb), Size: int64(len(mb))}
	for _, b := range []struct {
		d ocispec.Descriptor
		b []byte
	}{{cdesc, cb}, {mdesc, mb}} {
		if err := content.WriteBlob(ctx, s.content, "create-"+b.d.Digest.String(), bytes.NewReader(b.b), b.d); err != nil {
			return Image{}, err
		}
	}
	name := danglingName(mdesc.Digest)
	if ref != "" {
		n, err := metadata.NormalizeName(ref)
		if err != nil {
			return Image{}, err
		}
		name = n
	}
	if ref == "" {
		if _, err := s.setNames(ctx, []string{name}, mdesc); err != nil {
			return Image{}, err
		}
		return s.Get(ctx, cdesc.Digest.String())
	}
	if err := s.tagNames(ctx, []string{name}, mdesc); err != nil {
		return Image{}, err
	}
	return s.Get(ctx, name)
}

// storeLayer stores the layer read from r gzipped (compressing it if it is
// not) and returns its descriptor and diff ID.
func (s *Service) storeLayer(ctx context.Context, r io.Reader) (ocispec.Descriptor, digest.Digest, error) {
	dr, _, err := archive.DecompressStream(r)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	defer dr.Close()
	ref := "layer-" + randomID()
	w, err := s.content.Writer(ctx, ref, 0, "")
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	committed := false
	defer func() {
		w.Close()
		if !committed {
			// The store refuses to abort an ingest whose writer is open.
			_ = s.content.Abort(context.WithoutCancel(ctx), ref)
		}
	}()
	cw := &countWriter{w: w}
	dh := sha256.New()
	zw, err := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	if _, err := io.Copy(io.MultiWriter(zw, dh), dr); err != nil {
		return ocispec.Descriptor{}, "", fmt.Errorf("read layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: w.Digest(), Size: cw.n}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return ocispec.Descriptor{}, "", err
	}
	committed = true
	if err := s.addToLease(ctx, desc.Digest); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	return desc, digest.NewDigest(digest.SHA256, dh), nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ImportOptions tune Import.
type ImportOptions struct {
	// Ref names the image ("" leaves it dangling).
	Ref string
	// Changes as docker import --change.
	Changes []string
	// Message is the history comment ("Imported from <source>" when
	// empty).
	Message  string
	Platform string
	// URL, when set, is fetched (http or https) instead of reading r.
	URL string
}

// maxImportRedirects bounds redirects of an import URL.
const maxImportRedirects = 5

// Import makes a one-layer image of the root filesystem tar read from r
// (plain, gzip or zstd), or fetched from opts.URL, as docker import does.
func (s *Service) Import(ctx context.Context, r io.Reader, opts ImportOptions) (Image, error) {
	src := "-"
	if opts.URL != "" {
		src = opts.URL
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, opts.URL, nil)
		if err != nil {
			return Image{}, fmt.Errorf("import %s: %w: %w", opts.URL, err, errdefs.ErrInvalidArgument)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return Image{}, fmt.Errorf("import %s: scheme %q is not http or https: %w", opts.URL, req.URL.Scheme, errdefs.ErrInvalidArgument)
		}
		cl := &http.Client{Transport: s.reg.Transport, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= maxImportRedirects {
				return fmt.Errorf("more than %d redirects", maxImportRedirects)
			}
			return nil
		}}
		resp, err := cl.Do(req)
		if err != nil {
			return Image{}, fmt.Errorf("import %s: %w", opts.URL, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return Image{}, fmt.Errorf("import %s: %s", opts.URL, resp.Status)
		}
		r = resp.Body
	}
	if r == nil {
		return Image{}, fmt.Errorf("import: no input: %w", errdefs.ErrInvalidArgument)
	}
	msg := opts.Message
	if msg == "" {
		msg = "Imported from " + src
	}
	img, err := s.createFromDiff(ctx, Image{}, r, CommitOptions{Ref: opts.Ref, Changes: opts.Changes, Comment: msg, Platform: opts.Platform})
	if err != nil {
		return Image{}, fmt.Errorf("import %s: %w", src, err)
	}
	return img, nil
}

// applyChanges applies docker --change instructions to c.
func applyChanges(c *dockerspec.DockerOCIImageConfig, changes []string) error {
	// ENTRYPOINT resets the CMD, unless a CMD came before it among the
	// changes (as in a Dockerfile: the CMD of the image is dropped, one
	// given with it is kept).
	cmdSet := false
	for _, ch := range changes {
		ch = strings.TrimSpace(ch)
		instr, rest, _ := strings.Cut(ch, " ")
		rest = strings.TrimSpace(rest)
		bad := func(why string) error {
			return fmt.Errorf("change %q: %s: %w", ch, why, errdefs.ErrInvalidArgument)
		}
		switch strings.ToUpper(instr) {
		case "CMD", "ENTRYPOINT":
			var args []string
			if strings.HasPrefix(rest, "[") {
				if err := json.Unmarshal([]byte(rest), &args); err != nil {
					return bad("not a JSON array of strings")
				}
			} else if rest != "" {
				args = []string{"/bin/sh", "-c", rest}
			}
			if strings.EqualFold(instr, "CMD") {
				c.Cmd = args
				cmdSet = true
			} else {
				c.Entrypoint = args
				if !cmdSet {
					c.Cmd = nil
				}
			}
		case "ENV":
			// Parsed and expanded as a Dockerfile's ENV: $VAR is the
			// config's value so far (docker's `ENV PATH=/x:$PATH`).
			cmd, err := parseInstruction(ch)
			if err != nil {
				return bad(err.Error())
			}
			env, ok := cmd.(*instructions.EnvCommand)
			if !ok {
				return bad("not an ENV instruction")
			}
			lex := shell.NewLex('\\')
			vars := newConfigEnv(c.Env)
			if err := env.Expand(func(word string) (string, error) {
				w, _, err := lex.ProcessWord(word, vars)
				return w, err
			}); err != nil {
				return bad(err.Error())
			}
			for _, kv := range env.Env {
				c.Env = setEnv(c.Env, kv.Key, kv.Value)
				vars[kv.Key] = kv.Value
			}
		case "LABEL":
			kvs, err := keyValues(rest)
			if err != nil {
				return bad(err.Error())
			}
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for _, kv := range kvs {
				c.Labels[kv[0]] = kv[1]
			}
		case "WORKDIR":
			if rest == "" {
				return bad("no directory")
			}
			c.WorkingDir = rest
		case "USER":
			if rest == "" {
				return bad("no user")
			}
			c.User = rest
		case "EXPOSE":
			words, err := shellWords(rest)
			if err != nil || len(words) == 0 {
				return bad("no port")
			}
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range words {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				c.ExposedPorts[p] = struct{}{}
			}
		case "VOLUME":
			var vols []string
			if strings.HasPrefix(rest, "[") {
				if err := json.Unmarshal([]byte(rest), &vols); err != nil {
					return bad("not a JSON array of strings")
				}
			} else {
				w, err := shellWords(rest)
				if err != nil {
					return bad(err.Error())
				}
				vols = w
			}
			if len(vols) == 0 {
				return bad("no volume")
			}
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			for _, v := range vols {
				c.Volumes[v] = struct{}{}
			}
		case "STOPSIGNAL":
			if rest == "" {
				return bad("no signal")
			}
			c.StopSignal = rest
		case "HEALTHCHECK", "SHELL":
			cmd, err := parseInstruction(ch)
			if err != nil {
				return bad(err.Error())
			}
			switch cmd := cmd.(type) {
			case *instructions.HealthCheckCommand:
				c.Healthcheck = cmd.Health
			case *instructions.ShellCommand:
				c.Shell = append([]string(nil), cmd.Shell...)
			}
		case "ONBUILD":
			if _, err := parseInstruction(ch); err != nil {
				return bad(err.Error())
			}
			c.OnBuild = append(c.OnBuild, rest)
		default:
			return bad("instruction " + instr + " is not one of CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, LABEL, USER, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD")
		}
	}
	return nil
}

// configEnv is an image config's Env as the Dockerfile lexer reads it.
type configEnv map[string]string

func (e configEnv) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }

func (e configEnv) Keys() []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	return keys
}

func newConfigEnv(env []string) configEnv {
	m := configEnv{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// maxChangeBytes bounds one --change instruction given to the Dockerfile
// parser.
const maxChangeBytes = 64 << 10

// parseInstruction parses one Dockerfile instruction with buildkit's
// parser, as docker parses --change values it does not handle itself.
func parseInstruction(line string) (instructions.Command, error) {
	if len(line) > maxChangeBytes {
		return nil, fmt.Errorf("longer than %d bytes", maxChangeBytes)
	}
	res, err := parser.Parse(strings.NewReader(line))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, fmt.Errorf("want one instruction, got %d", len(res.AST.Children))
	}
	return instructions.ParseCommand(res.AST.Children[0])
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// keyValues parses "k=v k2="v 2"" or the legacy "k v with spaces".
func keyValues(s string) ([][2]string, error) {
	words, err := shellWords(s)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("no key")
	}
	if !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(s, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// shellWords splits s at blanks, honouring double and single quotes and
// backslash escapes.
func shellWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\' && quote != '\'':
			esc = true
			in = true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
			in = true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// LayerReader returns the uncompressed content of layer i of img (a tar),
// bounded as an unpacked layer is.
func (s *Service) LayerReader(ctx context.Context, img Image, i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(img.Manifest.Layers) {
		return nil, fmt.Errorf("image %s has no layer %d: %w", img.ID, i, errdefs.ErrNotFound)
	}
	ra, err := s.content.ReaderAt(ctx, img.Manifest.Layers[i])
	if err != nil {
		return nil, err
	}
	rc, _, err := archive.DecompressStream(io.NewSectionReader(ra, 0, img.Manifest.Layers[i].Size))
	if err != nil {
		ra.Close()
		return nil, err
	}
	return &layerReader{ReadCloser: rc, ra: ra}, nil
}

type layerReader struct {
	io.ReadCloser
	ra io.Closer
}

func (l *layerReader) Close() error {
	err := l.ReadCloser.Close()
	if cerr := l.ra.Close(); err == nil {
		err = cerr
	}
	return err
}
