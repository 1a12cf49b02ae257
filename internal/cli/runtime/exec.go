package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/cli/runtime/lifecycle"
	rt "github.com/berth/berth/internal/runtime"
)

type execOpts struct {
	process       string
	tty           bool
	consoleSocket string
	detach        bool
	env           []string
	cwd           string
	user          string
	addGids       []string
	caps          []string
	noNewPrivs    bool
	pidFile       string
	preserveFds   int
}

func newExecCommand(g *globalOpts) *cobra.Command {
	o := &execOpts{}
	cmd := &cobra.Command{
		Use:   "exec [flags] <container-id> <command> [command options]  || -p process.json <container-id>",
		Short: "Execute new process inside the container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := execProcess(g, o, args[0], args[1:])
			if err != nil {
				// runc's exit status for an exec that did not run.
				return g.Fail(&ExitError{Code: 255, Err: err})
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.StringVarP(&o.process, "process", "p", "", "path to the process.json")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.StringVar(&o.consoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive the pty master")
	f.BoolVarP(&o.detach, "detach", "d", false, "detach from the container's process")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set environment variables")
	f.StringVar(&o.cwd, "cwd", "", "current working directory in the container")
	f.StringVarP(&o.user, "user", "u", "", "UID (format: <uid>[:<gid>])")
	f.StringArrayVarP(&o.addGids, "additional-gids", "g", nil, "additional gids")
	f.StringArrayVarP(&o.caps, "cap", "c", nil, "add a capability to the bounding set for the process")
	f.BoolVar(&o.noNewPrivs, "no-new-privs", false, "set the no new privileges value for the process")
	f.StringVar(&o.pidFile, "pid-file", "", "file to write the process id to")
	f.String("process-label", "", "ignored (no SELinux)")
	f.String("apparmor", "", "ignored (no AppArmor)")
	f.Bool("ignore-paused", false, "accepted for compatibility")
	f.IntVar(&o.preserveFds, "preserve-fds", 0, "pass N additional file descriptors to the process (stdio + $LISTEN_FDS + N in total)")
	return cmd
}

func execProcess(g *globalOpts, o *execOpts, id string, args []string) (int, error) {
	if err := lifecycle.CheckPreserved(o.preserveFds); err != nil {
		return 0, err
	}
	c, err := g.Load(id)
	if err != nil {
		return 0, err
	}
	proc, err := o.buildProcess(c, args)
	if err != nil {
		return 0, err
	}
	eo := rt.ExecOpts{Process: proc, ConsoleSocket: o.consoleSocket, PidFile: o.pidFile, PreserveFds: o.preserveFds}
	var console *lifecycle.ConsoleRelay
	if proc.Terminal && o.consoleSocket == "" {
		if o.detach {
			return 0, fmt.Errorf("cannot allocate tty if berth will detach without setting console socket")
		}
		if console, err = lifecycle.NewConsoleRelay(); err != nil {
			return 0, err
		}
		defer console.Close()
		eo.ConsoleConn = console.Remote
	}
	if !o.detach {
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	var sigs *lifecycle.Signals
	if !o.detach {
		sigs = lifecycle.NotifySignals()
		defer sigs.Stop()
		sigs.Caught()
	}
	p, err := c.Exec(eo)
	if err != nil {
		return 0, err
	}
	if o.detach {
		return 0, nil
	}
	if console != nil {
		if err := console.Receive(); err != nil {
			return 0, err
		}
		console.Start()
	}
	sigs.Forward(console, func(sig unix.Signal) { _ = unix.Kill(p.Pid, sig) })
	code, err := p.Wait()
	sigs.Stop()
	if console != nil {
		console.Drain()
	}
	return code, err
}

// buildProcess is --process, or the container's own process with the
// command line's changes, as runc does.
func (o *execOpts) buildProcess(c *rt.Container, args []string) (*specs.Process, error) {
	if o.process != "" {
		b, err := os.ReadFile(o.process)
		if err != nil {
			return nil, fmt.Errorf("process: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("process %s: invalid JSON: %w", o.process, err)
		}
		if len(p.Args) == 0 {
			return nil, fmt.Errorf("process %s: args must not be empty", o.process)
		}
		return &p, nil
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("exec: no command given: want <container-id> <command> [args...]")
	}
	base := c.State.Spec.Process
	p := &specs.Process{}
	if base != nil {
		b, _ := json.Marshal(base)
		_ = json.Unmarshal(b, p)
	}
	p.Args = args
	p.Terminal = o.tty
	p.Env = append(p.Env, o.env...)
	if o.cwd != "" {
		p.Cwd = o.cwd
	}
	if o.noNewPrivs {
		p.NoNewPrivileges = true
	}
	if o.user != "" {
		uid, gid, ok := strings.Cut(o.user, ":")
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: parsing %s as uid: %w", o.user, uid, err)
		}
		p.User.UID = uint32(u)
		if ok {
			gv, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: parsing %s as gid: %w", o.user, gid, err)
			}
			p.User.GID = uint32(gv)
		}
	}
	for _, g := range o.addGids {
		v, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: %w", g, err)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(v))
	}
	if len(o.caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		for _, cp := range o.caps {
			p.Capabilities.Bounding = append(p.Capabilities.Bounding, cp)
			p.Capabilities.Effective = append(p.Capabilities.Effective, cp)
			p.Capabilities.Permitted = append(p.Capabilities.Permitted, cp)
			p.Capabilities.Ambient = append(p.Capabilities.Ambient, cp)
		}
	}
	return p, nil
}
