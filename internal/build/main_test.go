package build

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/metadata"
	"github.com/berth/berth/internal/runtime"
	_ "github.com/berth/berth/internal/runtime/nsenter"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/snapshot/mount"
	"github.com/berth/berth/internal/testutil"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == runtime.InitArg {
		runtime.Init() // never returns
	}
	code := m.Run()
	if busyboxTar != "" {
		os.RemoveAll(filepath.Dir(busyboxTar))
	}
	os.Exit(code)
}

// busyboxTar is hack/mkimage-busybox.sh's OCI layout as a tar, made once.
var busyboxTar string

func busyboxImageTar(t testing.TB) string {
	if busyboxTar != "" {
		return busyboxTar
	}
	mod, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "berth-build-busybox-")
	if err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "layout")
	if out, err := exec.Command(filepath.Join(mod, "hack/mkimage-busybox.sh"), layout).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Skipf("mkimage-busybox.sh: %v\n%s", err, out)
	}
	tp := filepath.Join(dir, "busybox.tar")
	f, err := os.Create(tp)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(layout, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == layout {
			return err
		}
		rel, _ := filepath.Rel(layout, p)
		fi, _ := d.Info()
		h, _ := tar.FileInfoHeader(fi, "")
		h.Name = rel
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(b)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	busyboxTar = tp
	return tp
}

// testEnv is an image store with busybox loaded, a runtime executor and a
// builder, all under one temp root.
type testEnv struct {
	images *image.Service
	exec   *runtimeExecutor
	b      *Builder
	root   string
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	testutil.RequireRoot(t)
	root := t.TempDir()
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := metadata.Open(filepath.Join(root, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sn, err := snapshot.NewOverlay(filepath.Join(root, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	is, err := image.New(image.Config{Content: cs, Metadata: db, Snapshotter: sn})
	if err != nil {
		t.Fatal(err)
	}
	rootfs := t.TempDir()
	if err := testutil.MakeBusyboxRootfs(rootfs); err != nil {
		t.Skipf("busybox rootfs: %v", err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Diff(context.Background(), nil, rootfs, pw)) }()
	if _, err := is.Import(context.Background(), pr, image.ImportOptions{Ref: "busybox:latest", Changes: []string{"CMD [\"sh\"]", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}); err != nil {
		t.Fatal(err)
	}
	ex := &runtimeExecutor{stateRoot: filepath.Join(root, "runtime"), tmp: filepath.Join(root, "bundles")}
	b, err := New(Config{Images: is, Executor: ex, CacheRoot: filepath.Join(root, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Every snapshot the builder made for a step is gone.
		sn.Walk(context.Background(), func(_ context.Context, info snapshot.Info) error {
			if info.Kind == snapshot.KindActive {
				t.Errorf("leftover active snapshot %s", info.Name)
			}
			return nil
		})
		ents, _ := os.ReadDir(filepath.Join(root, "cache", "tmp"))
		if len(ents) > 0 {
			t.Errorf("leftover builder temp files: %v", ents)
		}
		if out, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(out, []byte(root)) {
			var left []string
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, root) {
					left = append(left, l)
				}
			}
			t.Errorf("leftover mounts under %s:\n%s", root, strings.Join(left, "\n"))
		}
	})
	return &testEnv{images: is, exec: ex, b: b, root: root}
}

// runtimeExecutor runs RUN steps with internal/runtime, as the engine
// will through its shims.
type runtimeExecutor struct {
	stateRoot, tmp string
	runs           atomic.Int32
	onStart        func()
}

func (e *runtimeExecutor) Run(ctx context.Context, req RunRequest) (err error) {
	e.runs.Add(1)
	bundle := filepath.Join(e.tmp, req.ID)
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(bundle)
	if err := mount.All(req.Rootfs, rootfs); err != nil {
		return err
	}
	defer unmount(rootfs)
	if r, err := os.OpenRoot(rootfs); err == nil {
		r.MkdirAll(strings.TrimPrefix(req.WorkingDir, "/"), 0o755)
		r.Close()
	}
	spec := testutil.DefaultSpec(req.Args...)
	spec.Root = &specs.Root{Path: rootfs}
	spec.Process.Env = req.Env
	spec.Process.Cwd = req.WorkingDir
	if req.User != "" {
		u, g, _ := strings.Cut(req.User, ":")
		uid, err := strconv.Atoi(u)
		if err != nil {
			if u != "root" {
				return fmt.Errorf("test executor: user %q: only numeric users", req.User)
			}
		}
		gid := uid
		if g != "" {
			gid, _ = strconv.Atoi(g)
		}
		spec.Process.User = specs.User{UID: uint32(uid), GID: uint32(gid)}
	}
	if req.Network == "host" {
		var ns []specs.LinuxNamespace
		for _, n := range spec.Linux.Namespaces {
			if n.Type != specs.NetworkNamespace {
				ns = append(ns, n)
			}
		}
		spec.Linux.Namespaces = ns
	}
	for _, m := range req.Mounts {
		sm := specs.Mount{Destination: m.Target, Type: m.Type, Source: m.Source}
		if m.Type == "bind" {
			sm.Options = []string{"rbind"}
		}
		if m.ReadOnly {
			sm.Options = append(sm.Options, "ro")
		}
		spec.Mounts = append(spec.Mounts, sm)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		return err
	}
	// The output through pipes of our own, read to their end before Run
	// returns: the runtime's Wait is for the process, not for the copies
	// os/exec would make of a writer that is not a file.
	var copiers sync.WaitGroup
	defer copiers.Wait()
	stdout, err := copyFrom(&copiers, req.Stdout)
	if err != nil {
		return err
	}
	stderr, err := copyFrom(&copiers, req.Stderr)
	if err != nil {
		stdout.Close()
		return err
	}
	c, err := runtime.Create(runtime.CreateOpts{Root: e.stateRoot, ID: req.ID, Bundle: bundle, Stdin: req.Stdin, Stdout: stdout, Stderr: stderr})
	stdout.Close()
	stderr.Close()
	if err != nil {
		return err
	}
	defer c.Delete(true)
	if err := c.Start(); err != nil {
		return err
	}
	if e.onStart != nil {
		e.onStart()
	}
	stop := context.AfterFunc(ctx, func() { c.Signal(unix.SIGKILL, true) })
	code, err := c.Wait()
	stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// copyFrom returns the write end of a pipe whose output a goroutine copies
// to w (discarded when w is nil) until every writer closed it; wg waits
// for the copy.
func copyFrom(wg *sync.WaitGroup, w io.Writer) (*os.File, error) {
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	if w == nil {
		w = io.Discard
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer r.Close()
		_, _ = io.Copy(w, r)
	}()
	return pw, nil
}

// build runs a build of the Dockerfile df in a context made of files and
// returns the image ID and the progress stream.
func (e *testEnv) build(t *testing.T, ctxDir string, opts BuildOptions) (string, string, error) {
	t.Helper()
	var out strings.Builder
	opts.ContextDir = ctxDir
	id, err := e.b.Build(context.Background(), opts, func(ev Event) { out.WriteString(ev.Stream) })
	return id.String(), out.String(), err
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// export copies the root filesystem of image id into a temp dir.
func (e *testEnv) export(t *testing.T, id string) string {
	t.Helper()
	img, err := e.images.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	if err := e.b.export(context.Background(), img, Output{Type: "local", Dest: dest}); err != nil {
		t.Fatal(err)
	}
	return dest
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var _ = errors.New
var _ io.Reader

func statOwner(fi fs.FileInfo) [2]uint32 {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return [2]uint32{}
	}
	return [2]uint32{st.Uid, st.Gid}
}
