package shim_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/shim"
	"github.com/berth/berth/internal/testutil"
)

// The shims of the tests run berthBin, cmd/berth, and exec into imageBin,
// the serving image (internal/shim/cmd/berth-shim with the shimserver
// tag), as a daemon's shims do; TestWithoutImage and TestMemory also run
// them without the image.
var (
	berthBin      string
	berthBuildErr error
	imageBin      string
	imageBuildErr error
)

// activeImage is the serving image of the shims started now ("": none).
var activeImage string

// imageEnv names the serving image for a fake daemon (the test binary).
const imageEnv = "BERTH_SHIM_TEST_IMAGE"

// daemonEnv makes the test binary act as a "daemon" that starts shims for
// the configs in the named file, prints their pids, and waits to be killed.
const daemonEnv = "BERTH_SHIM_TEST_DAEMON"

func TestMain(m *testing.M) {
	if f := os.Getenv(daemonEnv); f != "" {
		os.Exit(fakeDaemon(f))
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "berth-shim-test-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "shim test: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	berthBin = filepath.Join(dir, "berth")
	if berthBuildErr = testutil.GoBuild(berthBin, "./cmd/berth"); berthBuildErr != nil {
		berthBin = ""
	}
	imageBin = filepath.Join(dir, "berth-shim")
	if imageBuildErr = testutil.BuildShimImage(imageBin); imageBuildErr != nil {
		imageBin = ""
	} else if err := useImage(imageBin); err != nil {
		fmt.Fprintf(os.Stderr, "shim test: %v\n", err)
		return 1
	}
	return m.Run()
}

// useImage makes the serving image at path the one of the shims this
// process starts; "" for none.
func useImage(path string) error {
	activeImage = path
	if path == "" {
		shim.SetImage(nil)
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	shim.SetImage(b)
	return nil
}

func fakeDaemon(file string) int {
	if err := useImage(os.Getenv(imageEnv)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var cfgs []shim.Config
	if err := json.Unmarshal(b, &cfgs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var pids []string
	for _, cfg := range cfgs {
		c, err := shim.Start(context.Background(), cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			fmt.Println("error")
			return 1
		}
		if err := c.Start(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			fmt.Println("error")
			return 1
		}
		pids = append(pids, strconv.Itoa(c.Pid()))
	}
	fmt.Println("ready " + strings.Join(pids, " "))
	select {}
}

// env is one test's world: a runtime root, and the containers and shims it
// started, removed in cleanup whatever happened.
type env struct {
	t       *testing.T
	root    string
	runtime string
}

func newEnv(t *testing.T, rt string) *env {
	t.Helper()
	testutil.RequireRoot(t)
	if berthBin == "" {
		t.Fatalf("cannot build ./cmd/berth: %v", berthBuildErr)
	}
	if imageBin == "" {
		t.Fatalf("cannot build ./internal/shim/cmd/berth-shim: %v", imageBuildErr)
	}
	if rt == shim.RuntimeRunc {
		if _, err := exec.LookPath("runc"); err != nil {
			t.Skip("runc is not installed (hack/install-deps.sh)")
		}
	}
	return &env{t: t, root: t.TempDir(), runtime: rt}
}

// config returns a shim config for a new busybox container running args.
func (e *env) config(args ...string) shim.Config {
	e.t.Helper()
	bundle := testutil.BusyboxBundle(e.t, args...)
	id := fmt.Sprintf("shimtest-%s-%06d", strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(e.t.Name())), rand.IntN(1e6))
	if len(id) > 60 {
		id = id[len(id)-60:]
		id = "s" + strings.TrimLeft(id, "-")
	}
	state := e.t.TempDir()
	return shim.Config{
		ID:          id,
		Bundle:      bundle,
		StateDir:    state,
		Runtime:     e.runtime,
		RuntimeRoot: e.root,
		LogPath:     filepath.Join(state, id+"-json.log"),
		Binary:      berthBin,
		ExitTimeout: -1,
	}
}

// setTerminal sets process.terminal in cfg's bundle.
func setTerminal(t *testing.T, cfg *shim.Config) {
	spec := testutil.LoadSpec(t, cfg.Bundle)
	spec.Process.Terminal = true
	testutil.WriteSpec(t, cfg.Bundle, spec)
	cfg.Terminal = true
}

// start starts a shim for cfg and registers its cleanup.
func (e *env) start(cfg shim.Config) *shim.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := shim.Start(ctx, cfg)
	if err != nil {
		e.cleanup(cfg, 0)
		e.t.Fatalf("shim.Start: %v", err)
	}
	e.cleanup(cfg, c.Pid())
	return c
}

// cleanup makes sure, when the test ends, that the shim with pid shimPid
// (0: not known here) and cfg's container are gone: a forced delete through the shim, else
// SIGKILL to the processes this test started and a runtime delete.
func (e *env) cleanup(cfg shim.Config, shimPid int) {
	t := e.t
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var initPid int
		if c, err := shim.Connect(ctx, cfg.StateDir); err == nil {
			if st, err := c.State(ctx); err == nil {
				initPid = st.Pid
			}
			if err := c.Delete(ctx, true); err != nil {
				t.Errorf("cleanup: delete %s: %v", cfg.ID, err)
			}
		}
		if shimPid > 0 {
			if alive(shimPid) && initPid != 0 && alive(initPid) {
				_ = syscall.Kill(initPid, syscall.SIGKILL)
			}
			if alive(shimPid) {
				_ = syscall.Kill(shimPid, syscall.SIGKILL)
			}
			waitGone(t, shimPid)
		}
		switch cfg.Runtime {
		case "", shim.RuntimeBerth:
			if c, err := runtime.Load(cfg.RuntimeRoot, cfg.ID); err == nil {
				t.Errorf("cleanup: container %s was left in the runtime", cfg.ID)
				_ = c.Delete(true)
			}
		case shim.RuntimeRunc:
			if out, err := exec.Command("runc", "--root", cfg.RuntimeRoot, "state", cfg.ID).CombinedOutput(); err == nil {
				t.Errorf("cleanup: container %s was left in runc: %s", cfg.ID, out)
				_ = exec.Command("runc", "--root", cfg.RuntimeRoot, "delete", "--force", cfg.ID).Run()
			}
		}
	})
}

// alive reports whether pid is a process that has not exited (zombies
// count as gone).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// waitGone waits for pid to end and be reaped (by us, when we are its
// parent or subreaper).
func waitGone(t *testing.T, pid int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); errors.Is(err, os.ErrNotExist) {
			return
		}
		if !alive(pid) {
			// A zombie whose parent is not us: it is gone for us.
			if ppid(pid) != os.Getpid() {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process %d is still there", pid)
}

func ppid(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// logLine is one line of a json-file log.
type logLine struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

func readLog(t *testing.T, path string) []logLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// runToExit starts c's container, waits for it to exit with code, and
// checks that its log holds the one line logLine.
func runToExit(t *testing.T, c *shim.Client, cfg shim.Config, code int, logLine string) {
	t.Helper()
	ctx := ctxT(t, 20*time.Second)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ex, err := c.Wait(ctx)
	if err != nil || ex.Code != code {
		t.Fatalf("wait = %+v, %v; want exit %d", ex, err, code)
	}
	if lines := readLog(t, cfg.LogPath); len(lines) != 1 || lines[0].Log != logLine {
		t.Errorf("log = %+v, want the one line %q", lines, logLine)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
