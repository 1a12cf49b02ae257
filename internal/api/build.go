package api

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	units "github.com/docker/go-units"
	mbuild "github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/build"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/image"
)

// maxBuildContext bounds the build context a POST /build may send
// (after decompression).
const maxBuildContext = 8 << 30

func (s *Server) routeBuild(mux *http.ServeMux) {
	if s.cfg.Builder == nil {
		return
	}
	mux.HandleFunc("POST /build", s.buildImage)
	mux.HandleFunc("POST /build/prune", s.buildPrune)
	mux.HandleFunc("POST /build/cancel", func(w http.ResponseWriter, r *http.Request) {
		// The legacy builder stops when its request's connection drops;
		// there is nothing to cancel by ID.
		w.WriteHeader(http.StatusOK)
	})
}

// buildOptions reads POST /build's query.
func buildOptions(r *http.Request) (build.BuildOptions, error) {
	q := r.URL.Query()
	opts := build.BuildOptions{
		Dockerfile: q.Get("dockerfile"),
		Tags:       q["t"],
		Target:     q.Get("target"),
		NoCache:    boolValue(r, "nocache"),
		Pull:       boolValue(r, "pull"),
		Platform:   q.Get("platform"),
		Network:    "default",
	}
	if q.Get("remote") != "" {
		return opts, errdefs.ErrNotImplemented.WithMessage("build: remote contexts are not supported; send the context as the request body")
	}
	if p := opts.Platform; p != "" {
		if _, err := content.ParsePlatform(p); err != nil {
			return opts, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid platform: %v", err))
		}
	}
	for _, h := range q["extrahosts"] {
		// docker's --add-host NAME:IP (or NAME=IP)
		if name, ip, ok := strings.Cut(strings.Replace(h, "=", ":", 1), ":"); !ok || name == "" || ip == "" {
			return opts, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid add-host %q: want NAME:IP", h))
		}
		opts.ExtraHosts = append(opts.ExtraHosts, strings.Replace(h, "=", ":", 1))
	}
	if v := q.Get("buildargs"); v != "" {
		if err := json.Unmarshal([]byte(v), &opts.BuildArgs); err != nil {
			return opts, errdefs.ErrInvalidArgument.WithMessage("invalid buildargs: " + err.Error())
		}
	}
	if v := q.Get("cachefrom"); v != "" {
		if err := json.Unmarshal([]byte(v), &opts.CacheFrom); err != nil {
			return opts, errdefs.ErrInvalidArgument.WithMessage("invalid cachefrom: " + err.Error())
		}
	}
	if iso := q.Get("isolation"); iso != "" && iso != "default" {
		return opts, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Unsupported isolation: %q", iso))
	}
	if boolValue(r, "squash") {
		return opts, errdefs.ErrInvalidArgument.WithMessage("squash is only supported with experimental mode")
	}
	if v := q.Get("labels"); v != "" {
		if err := json.Unmarshal([]byte(v), &opts.Labels); err != nil {
			return opts, errdefs.ErrInvalidArgument.WithMessage("invalid labels: " + err.Error())
		}
	}
	if err := buildLimits(q, &opts.Limits); err != nil {
		return opts, err
	}
	switch nm := q.Get("networkmode"); nm {
	case "", "default", "bridge":
	case "none", "host":
		opts.Network = nm
	default:
		return opts, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid networkmode %q: only default, bridge, none and host are supported", nm))
	}
	for _, t := range opts.Tags {
		if strings.TrimSpace(t) == "" {
			return opts, errdefs.ErrInvalidArgument.WithMessage("invalid tag: empty")
		}
	}
	return opts, nil
}

// buildLimits reads the RUN containers' limits from POST /build's query
// (memory, memswap, cpushares, cpuperiod, cpuquota, cpusetcpus, cpusetmems,
// shmsize, cgroupparent, ulimits) and checks them as create does.
func buildLimits(q url.Values, l *build.RunLimits) error {
	for _, f := range []struct {
		name string
		dst  *int64
	}{
		{"memory", &l.Memory}, {"memswap", &l.MemorySwap}, {"cpushares", &l.CPUShares},
		{"cpuperiod", &l.CPUPeriod}, {"cpuquota", &l.CPUQuota}, {"shmsize", &l.ShmSize},
	} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid %s %q: not an integer", f.name, v))
		}
		*f.dst = n
	}
	l.CPUSetCPUs, l.CPUSetMems, l.CgroupParent = q.Get("cpusetcpus"), q.Get("cpusetmems"), q.Get("cgroupparent")
	if v := q.Get("ulimits"); v != "" {
		var list []*container.Ulimit
		if err := json.Unmarshal([]byte(v), &list); err != nil {
			return errdefs.ErrInvalidArgument.WithMessage("invalid ulimits: " + err.Error())
		}
		for _, u := range list {
			if u == nil {
				continue
			}
			if _, err := units.ParseUlimit(fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard)); err != nil {
				return errdefs.ErrInvalidArgument.WithMessage("invalid ulimits: " + err.Error())
			}
			l.Ulimits = append(l.Ulimits, build.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
		}
	}
	return engine.ValidateBuildLimits(*l)
}

// buildImage answers POST /build with docker's legacy build stream:
// {"stream":...} lines, {"aux":{"ID":...}} with the image, and a failure
// as the last line, {"errorDetail":{"code":N,...}} with a RUN's exit code.
// A dropped connection cancels the build.
func (s *Server) buildImage(w http.ResponseWriter, r *http.Request) {
	opts, err := buildOptions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if opts.RegistryAuth, err = registryConfig(r); err != nil {
		writeError(w, r, err)
		return
	}
	if dir, ok := localContextDir(r); ok {
		// The body is not read: the client, which sent Expect:
		// 100-continue, sends no context.
		opts.ContextDir = dir
		slog.DebugContext(r.Context(), "build context read in place", "dir", dir)
	} else {
		body, closeBody, err := buildContext(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		defer closeBody()
		opts.Context = body
	}
	quiet := boolValue(r, "q")
	ctx := r.Context()
	if opts.ContextDir != "" {
		// Go's server notices a client that went away only once the
		// body was read, and this one never is: watch the socket.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer watchHangup(r, cancel)()
	}
	ps := newProgressStream(w, r, nil)
	if opts.ContextDir != "" {
		// The answer's headers tell the client at once that its
		// context is not wanted: it would send it after
		// ExpectContinueTimeout otherwise.
		ps.mu.Lock()
		ps.start()
		ps.mu.Unlock()
	}
	// With q=1 the output is kept, and sent only if the build fails, as
	// dockerd does (bounded: the last part goes).
	var held strings.Builder
	id, err := s.cfg.Builder.Build(ctx, opts, func(ev build.Event) {
		switch {
		case ev.Created != "":
			s.publishImage(mevents.ActionCreate, ev.Created, nil) // as dockerd 28, per step committed
		case ev.ID != "":
			aux, _ := json.Marshal(map[string]string{"ID": ev.ID})
			ps.send(streamMessage{Aux: aux})
		case ev.Pull != nil:
			if !quiet {
				ps.event(*ev.Pull)
			}
		case ev.Stream != "":
			if !quiet {
				ps.send(streamMessage{Stream: ev.Stream})
			} else if held.Len() < maxQuietOutput {
				held.WriteString(ev.Stream)
			}
		}
	})
	if err != nil {
		if held.Len() > 0 {
			ps.send(streamMessage{Stream: held.String()})
		}
		buildFail(ps, err)
		return
	}
	for _, t := range opts.Tags {
		// dockerd logs an image tag event for every -t of a build.
		if ref, err := reference.ParseNormalizedNamed(t); err == nil {
			s.publishImage(mevents.ActionTag, id.String(), map[string]string{"name": reference.FamiliarString(reference.TagNameOnly(ref))})
		}
	}
	if quiet {
		// dockerd's q=1 answer: the image ID as the only output line.
		ps.send(streamMessage{Stream: id.String() + "\n"})
	}
	ps.finish()
}

// maxQuietOutput bounds the output a quiet build keeps for its failure.
const maxQuietOutput = 1 << 20

// maxRegistryConfig bounds the decoded X-Registry-Config header.
const maxRegistryConfig = 1 << 20

// registryConfig decodes POST /build's X-Registry-Config header: base64url
// (padded or not; standard base64 too) of a JSON map from registry to
// AuthConfig, as the docker CLI sends every credential it has. An absent
// header or "{}" gives nil; one that does not decode is an
// InvalidArgument naming the header.
func registryConfig(r *http.Request) (map[string]image.AuthConfig, error) {
	h := strings.TrimSpace(r.Header.Get("X-Registry-Config"))
	if h == "" {
		return nil, nil
	}
	if len(h) > maxRegistryConfig*4/3+4 {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid X-Registry-Config header: more than %d bytes", maxRegistryConfig))
	}
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawURLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if raw, err = enc.DecodeString(h); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage("invalid X-Registry-Config header: " + err.Error())
	}
	var m map[string]registry.AuthConfig
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage("invalid X-Registry-Config header: " + err.Error())
	}
	var out map[string]image.AuthConfig
	for k, ac := range m {
		if a := toImageAuth(ac); a != nil {
			if out == nil {
				out = map[string]image.AuthConfig{}
			}
			out[k] = *a
		}
	}
	return out, nil
}

// buildFail ends a build stream with err: a failed RUN as the stream's
// last line with its exit code (the docker CLI exits with it), any other
// error as an HTTP error when nothing was sent yet.
func buildFail(ps *progressStream, err error) {
	msg := trimClass(err.Error())
	code := 0
	var se *build.StepError
	var ee *build.ExitError
	if errors.As(err, &ee) {
		code = ee.Code
		if errors.As(err, &se) {
			cmd := ee.Cmd
			if cmd == "" {
				cmd = se.Instruction
			}
			msg = fmt.Sprintf("The command '%s' returned a non-zero code: %d", cmd, ee.Code)
		}
	} else if errors.As(err, &se) {
		// The legacy builder's words for a COPY or ADD that failed.
		if name, _, _ := strings.Cut(se.Instruction, " "); strings.EqualFold(name, "COPY") || strings.EqualFold(name, "ADD") {
			msg = strings.ToUpper(name) + " failed: " + trimClass(se.Err.Error())
		}
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if !ps.started && code == 0 {
		writeError(ps.w, ps.r, messageError(err, msg))
		return
	}
	ps.start()
	ps.write(streamMessage{ErrorDetail: &jsonstream.Error{Code: code, Message: msg}, Error: msg})
	ps.flush()
}

// The headers of a build whose context is a directory this daemon can read
// in place (the berth CLI's, on this host): X-Berth-Context-Dir is its
// absolute path, X-Berth-Context-Id "DEV:INO" as the client saw it. They
// travel with Expect: 100-continue and a tar body, so a daemon that does
// not take the offer (dockerd, or this one for a remote or unprivileged
// client) reads the body and the client sends the tar then.
const (
	headerContextDir = "X-Berth-Context-Dir"
	headerContextID  = "X-Berth-Context-Id"
)

// localContextDir returns the directory a build asks to be read in place,
// when the request came from root over a unix socket (a client that could
// bind-mount any file of the host anyway) and the daemon sees at that path
// the very directory the client named (same device and inode: not another
// mount namespace's).
func localContextDir(r *http.Request) (string, bool) {
	dir := r.Header.Get(headerContextDir)
	if dir == "" || !filepath.IsAbs(dir) || !strings.Contains(r.Header.Get("Expect"), "100-continue") {
		return "", false
	}
	if uid, ok := peerUID(r); !ok || uid != 0 {
		return "", false
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return "", false
	}
	if fmt.Sprintf("%d:%d", st.Dev, st.Ino) != r.Header.Get(headerContextID) {
		return "", false
	}
	return dir, true
}

// peerUID is the uid of the process at the other end of the request's
// unix socket.
func peerUID(r *http.Request) (uint32, bool) {
	uc, ok := r.Context().Value(connKey{}).(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return 0, false
	}
	return cred.Uid, true
}

// watchHangup calls cancel when the client at the other end of r's unix
// socket closes it, until the returned stop is called. It polls a
// duplicate of the socket for POLLRDHUP, so it takes no byte from the
// connection and leaves the server's own reads alone; stop wakes the poll
// through a pipe.
func watchHangup(r *http.Request, cancel func()) (stop func()) {
	uc, ok := r.Context().Value(connKey{}).(*net.UnixConn)
	if !ok {
		return func() {}
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return func() {}
	}
	fd := -1
	_ = raw.Control(func(f uintptr) { fd, _ = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) })
	if fd < 0 {
		return func() {}
	}
	var wake [2]int
	if err := unix.Pipe2(wake[:], unix.O_CLOEXEC); err != nil {
		unix.Close(fd)
		return func() {}
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}, {Fd: int32(wake[0]), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if err == nil && fds[1].Revents == 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0 {
				cancel()
			}
			return
		}
	}()
	return func() {
		_, _ = unix.Write(wake[1], []byte{0})
		<-ended
		unix.Close(fd)
		unix.Close(wake[0])
		unix.Close(wake[1])
	}
}

// buildContext returns the request's body as a tar stream: plain, gzip or
// zstd go to the builder as they are; bzip2 is decompressed here and xz by
// the host's xz. The result is bounded by maxBuildContext.
func buildContext(r *http.Request) (io.Reader, func(), error) {
	rd, closeFn, err := decompressedBody(r, "build context")
	if rd == nil || err != nil {
		return rd, closeFn, err
	}
	return &limitedReader{r: rd, n: maxBuildContext}, closeFn, nil
}

// decompressedBody returns the request's body with bzip2 decompressed here
// and xz by the host's xz (what, in errors, names the body); plain, gzip
// and zstd bodies are returned as they are. A nil reader means an empty
// body. The close function reaps xz.
func decompressedBody(r *http.Request, what string) (io.Reader, func(), error) {
	if r.Body == nil {
		return nil, func() {}, nil
	}
	br := bufio.NewReaderSize(r.Body, 64<<10)
	head, _ := br.Peek(6)
	var rd io.Reader = br
	closeFn := func() {}
	switch {
	case bytes.HasPrefix(head, []byte("BZh")):
		rd = bzip2.NewReader(br)
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		cmd := exec.CommandContext(r.Context(), "xz", "-dc")
		cmd.Stdin = br
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, closeFn, fmt.Errorf("%s: xz: %w", what, err)
		}
		if err := cmd.Start(); err != nil {
			return nil, closeFn, errdefs.ErrNotImplemented.WithMessage(what + ": xz-compressed archives need the host's xz: " + err.Error())
		}
		rd = out
		closeFn = func() {
			// Drain so xz can exit, then reap it.
			_, _ = io.Copy(io.Discard, out)
			_ = cmd.Wait()
		}
	}
	if len(head) == 0 {
		return nil, closeFn, nil
	}
	return rd, closeFn, nil
}

// limitedReader fails once more than n bytes were read.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("build context is larger than %d bytes", int64(maxBuildContext)))
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("build context is larger than %d bytes", int64(maxBuildContext)))
	}
	return n, err
}

// buildPrune answers POST /build/prune: all=1 removes every cache entry
// and the RUN cache mounts, filters until= (or unused-for=) those not
// used within the duration, none of them every entry but the cache
// mounts are kept only with until.
func (s *Server) buildPrune(w http.ResponseWriter, r *http.Request) {
	opts := build.PruneOptions{All: boolValue(r, "all")}
	f, err := imageFilters(r.URL.Query(), "until", "unused-for")
	if err != nil {
		writeError(w, r, err)
		return
	}
	for key, vals := range f {
		for _, val := range vals {
			d, err := time.ParseDuration(val)
			if err != nil {
				writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter %s=%s: %v", key, val, err)))
				return
			}
			opts.Until = d
		}
	}
	before := dataUsage(s.cfg.DataRoot)
	rep, err := s.cfg.Builder.Prune(r.Context(), opts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	freed := before - dataUsage(s.cfg.DataRoot)
	if freed < rep.MountBytes {
		freed = rep.MountBytes
	}
	out := mbuild.CachePruneReport{CachesDeleted: rep.Entries, SpaceReclaimed: uint64(max(freed, 0))}
	if out.CachesDeleted == nil {
		out.CachesDeleted = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}

// dataUsage is the bytes of the image store under dataRoot (content and
// snapshots), to tell what a prune freed.
func dataUsage(dataRoot string) int64 {
	if dataRoot == "" {
		return 0
	}
	var n int64
	for _, d := range []string{"content", "snapshots"} {
		_ = filepath.WalkDir(filepath.Join(dataRoot, d), func(_ string, de fs.DirEntry, err error) error {
			if err == nil && de.Type().IsRegular() {
				if fi, err := de.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
	}
	return n
}
