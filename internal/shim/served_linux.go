package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime/cgroups"
	"github.com/berth/berth/internal/runtime/initsock"
)

// servedTask is a container of the built-in runtime in the serving image,
// which does not carry the runtime. What is frequent it does itself, as the
// runtime would: start (through the init's exec socket), a signal to the
// init, and the removal of a container whose init is gone. The rest, and
// start and delete when the spec has hooks, goes through `berth runtime`,
// run from the berth binary the shim was (its descriptor, so an upgrade of
// the file changes nothing), like runc's command line.
type servedTask struct {
	cli    *cliTask
	pid    int
	dir    string
	cgroup map[string]string
	hooks  bool
}

// servedTaskFor is the task of the serving image for cfg's runtime.
func servedTaskFor(cfg *Config, h *handover) (task, error) {
	switch cfg.Runtime {
	case "", RuntimeBerth:
	default:
		return newTask(cfg)
	}
	if h.Berth < 3 || h.Dir == "" {
		return nil, fmt.Errorf("handover %+v: no berth binary or state directory for the built-in runtime", *h)
	}
	unix.CloseOnExec(h.Berth)
	return &servedTask{
		cli:    &cliTask{cfg: cfg, bin: "/proc/self/fd/" + strconv.Itoa(h.Berth), sub: []string{"runtime"}},
		pid:    h.Pid,
		dir:    h.Dir,
		cgroup: h.Cgroup,
		hooks:  h.Hooks,
	}, nil
}

func (t *servedTask) create(stdioFiles, bool) (int, *os.File, error) {
	return 0, nil, errors.New("the serving image does not create containers")
}

// start is runtime's Container.Start without a spec to read: the init
// answers on its exec socket and execs the process.
func (t *servedTask) start() error {
	if t.hooks {
		return t.cli.start()
	}
	if err := initsock.Start(t.dir); err != nil {
		return err
	}
	// Without its exec socket the runtime reads the container as running.
	_ = os.Remove(filepath.Join(t.dir, initsock.SockName))
	return nil
}

// kill signals the init, its child: shim.kill calls it with the reaper's
// lock held and the init not reaped, so the pid is surely the init's.
// Every process of the container, and SIGKILL (which must thaw a paused
// container), go through `berth runtime kill`.
func (t *servedTask) kill(sig unix.Signal, all bool) error {
	if all || sig == unix.SIGKILL {
		return t.cli.kill(sig, all)
	}
	return unix.Kill(t.pid, sig)
}

func (t *servedTask) exec(id string, p *specs.Process, stdio stdioFiles) (int, *os.File, error) {
	return t.cli.exec(id, p, stdio)
}

// delete is runtime's destroy: what is left in the cgroup is killed, the
// cgroup and the state directory removed.
func (t *servedTask) delete() error {
	if t.hooks {
		return t.cli.delete()
	}
	var errs []error
	if len(t.cgroup) > 0 {
		m, err := cgroups.Load(t.cgroup)
		if err == nil {
			err = cgroups.Remove(m)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(t.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (t *servedTask) handover() (*handover, error) {
	return nil, errors.New("already handed over")
}
