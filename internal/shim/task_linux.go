package shim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime/initsock"
)

// stdioFiles are the child ends of a process's stdio; console is set
// instead of them when the process has a terminal.
type stdioFiles struct {
	stdin, stdout, stderr *os.File
}

// task drives one container in an OCI runtime. Every method is called with
// the reaper's lock held, since runtimes wait for their own children.
type task interface {
	// create makes the container; it returns the init's pid and, with a
	// terminal, the pty master.
	create(stdio stdioFiles, terminal bool) (pid int, console *os.File, err error)
	start() error
	kill(sig unix.Signal, all bool) error
	exec(id string, p *specs.Process, stdio stdioFiles) (pid int, console *os.File, err error)
	// delete removes the container, whose init is gone, from the runtime.
	delete() error
	// handover is what the serving image needs to go on with the
	// container (see handOver).
	handover() (*handover, error)
}

func newTask(cfg *Config) (task, error) {
	switch cfg.Runtime {
	case "", RuntimeBerth:
		return newBuiltinTask(cfg)
	default:
		bin := cfg.RuntimePath
		if bin == "" {
			p, err := exec.LookPath(cfg.Runtime)
			if err != nil {
				return nil, fmt.Errorf("runtime %s: %w", cfg.Runtime, err)
			}
			bin = p
		}
		return &cliTask{cfg: cfg, bin: bin}, nil
	}
}

// cliTask drives runc or crun through their command line. Their init (and
// exec'd processes) are double-forked away from the command and reparent
// to the shim, a subreaper.
type cliTask struct {
	cfg *Config
	bin string
	sub []string // before the global flags: "runtime" for berth's
}

func (t *cliTask) command(args ...string) *exec.Cmd {
	g := []string{"--log", filepath.Join(t.cfg.StateDir, "runtime.log"), "--log-format", "json"}
	if t.cfg.RuntimeRoot != "" {
		g = append(g, "--root", t.cfg.RuntimeRoot)
	}
	g = append(append(t.sub[:len(t.sub):len(t.sub)], g...), args...)
	cmd := exec.Command(t.bin, g...)
	cmd.Dir = t.cfg.StateDir
	cmd.Env = runtimeEnv()
	return cmd
}

// runtimeEnv is the environment of a runtime command: the shim's, without
// the settings that keep the shim's Go runtime small (runc and berth are
// Go programs too, and a start or exec with GOGC=20, one P and no prefault
// of its heap is slower).
func runtimeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOGC", "GOMAXPROCS", "GODEBUG", "BERTH_PREFAULT", imageFdEnv, handoverEnv:
		default:
			env = append(env, kv)
		}
	}
	return env
}

// run runs a runtime command whose stdio is not the container's and
// returns its error with the runtime's own message.
func (t *cliTask) run(args ...string) error {
	cmd := t.command(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return t.fail(args[0], err, out.String())
	}
	return nil
}

// fail words a failed runtime command: the last error of its log, or its
// output.
func (t *cliTask) fail(what string, err error, out string) error {
	msg := strings.TrimSpace(out)
	if b, rerr := os.ReadFile(filepath.Join(t.cfg.StateDir, "runtime.log")); rerr == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			var l struct{ Level, Msg string }
			if json.Unmarshal([]byte(lines[i]), &l) == nil && l.Level == "error" {
				msg = l.Msg
				break
			}
		}
	}
	if msg == "" {
		msg = err.Error()
	}
	if len(t.sub) > 0 {
		// The built-in runtime's own words, as when it runs in-process.
		return errors.New(msg)
	}
	return fmt.Errorf("%s %s: %s", t.name(), what, msg)
}

// consoleListener listens on a socket runc sends the pty master to. It is
// made in the state directory, or in a temporary one when that path is too
// long for a socket address.
func consoleListener(stateDir, name string) (*net.UnixListener, func(), error) {
	dir := stateDir
	var rm func()
	if len(filepath.Join(dir, name)) > 100 {
		d, err := os.MkdirTemp("", "berth-console-")
		if err != nil {
			return nil, nil, err
		}
		dir = d
		rm = func() { os.RemoveAll(d) }
	}
	path := filepath.Join(dir, name)
	_ = os.Remove(path)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		if rm != nil {
			rm()
		}
		return nil, nil, fmt.Errorf("console socket: %w", err)
	}
	cleanup := func() {
		l.Close()
		if rm != nil {
			rm()
		}
	}
	return l, cleanup, nil
}

// acceptConsole receives the pty master on l, in the background.
func acceptConsole(l *net.UnixListener) <-chan consoleResult {
	ch := make(chan consoleResult, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			ch <- consoleResult{err: err}
			return
		}
		defer c.Close()
		f, err := c.File()
		if err != nil {
			ch <- consoleResult{err: err}
			return
		}
		defer f.Close()
		m, err := initsock.RecvFile(f)
		ch <- consoleResult{f: m, err: err}
	}()
	return ch
}

type consoleResult struct {
	f   *os.File
	err error
}

// runWithConsole runs a runtime command that may send a pty master to a
// console socket, and the pid it wrote to pidFile.
func (t *cliTask) runWithConsole(args []string, stdio stdioFiles, terminal bool, name, pidFile string) (_ int, _ *os.File, retErr error) {
	var (
		l       *net.UnixListener
		cleanup func()
		got     <-chan consoleResult
	)
	if terminal {
		var err error
		if l, cleanup, err = consoleListener(t.cfg.StateDir, name); err != nil {
			return 0, nil, err
		}
		defer cleanup()
		got = acceptConsole(l)
		defer func() {
			if retErr == nil || got == nil {
				return
			}
			// A pty master the runtime sent before it failed is not
			// handed on: close it (closing the listener ends a wait).
			l.Close()
			if r := <-got; r.f != nil {
				r.f.Close()
			}
		}()
		args = append(args[:1:1], append([]string{"--console-socket", l.Addr().String()}, args[1:]...)...)
	}
	cmd := t.command(args...)
	// Without a terminal runc passes its stdio on to the process; its own
	// messages go to the log given with --log.
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, nil, err
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if stdio.stdin != nil {
		cmd.Stdin = stdio.stdin
	}
	if stdio.stdout != nil {
		cmd.Stdout = stdio.stdout
	}
	if stdio.stderr != nil {
		cmd.Stderr = stdio.stderr
	}
	if err := cmd.Run(); err != nil {
		return 0, nil, t.fail(args[0], err, "")
	}
	b, err := os.ReadFile(pidFile)
	_ = os.Remove(pidFile)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: pid file: %w", t.name(), args[0], err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: pid file %q: %w", t.name(), args[0], b, err)
	}
	var console *os.File
	if terminal {
		r := <-got
		got = nil // received
		if r.err != nil {
			return 0, nil, fmt.Errorf("receive pty master: %w", r.err)
		}
		console = r.f
	}
	return pid, console, nil
}

func (t *cliTask) create(stdio stdioFiles, terminal bool) (int, *os.File, error) {
	pidFile := filepath.Join(t.cfg.StateDir, "init.pid")
	return t.runWithConsole([]string{"create", "--bundle", t.cfg.Bundle, "--pid-file", pidFile, t.cfg.ID},
		stdio, terminal, "console.sock", pidFile)
}

func (t *cliTask) start() error { return t.run("start", t.cfg.ID) }

func (t *cliTask) kill(sig unix.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	return t.run(append(args, t.cfg.ID, strconv.Itoa(int(sig)))...)
}

func (t *cliTask) exec(id string, p *specs.Process, stdio stdioFiles) (int, *os.File, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return 0, nil, err
	}
	procFile := filepath.Join(t.cfg.StateDir, "exec-process.json")
	if err := os.WriteFile(procFile, b, 0o600); err != nil {
		return 0, nil, err
	}
	defer os.Remove(procFile)
	pidFile := filepath.Join(t.cfg.StateDir, "exec.pid")
	return t.runWithConsole([]string{"exec", "--detach", "--pid-file", pidFile, "--process", procFile, t.cfg.ID},
		stdio, p.Terminal, "exec-console.sock", pidFile)
}

func (t *cliTask) delete() error { return t.run("delete", "--force", t.cfg.ID) }

// handover: the serving image drives runc or crun as this shim does.
func (t *cliTask) handover() (*handover, error) { return &handover{}, nil }

func socketPair() (local, remote *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("console socket pair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "console-local"), os.NewFile(uintptr(fds[1]), "console-remote"), nil
}

// name is how errors name the runtime: "runc", "crun", "berth runtime".
func (t *cliTask) name() string {
	if len(t.sub) > 0 {
		return "berth " + strings.Join(t.sub, " ")
	}
	return filepath.Base(t.bin)
}
