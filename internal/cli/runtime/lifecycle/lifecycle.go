package lifecycle

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	rt "github.com/berth/berth/internal/runtime"
)

// Global holds runc's global flags.
type Global struct {
	Root      string
	Log       string
	LogFormat string
	Debug     bool
}

// NewGlobal returns runc's defaults.
func NewGlobal() *Global {
	return &Global{Root: rt.DefaultRoot, LogFormat: "text"}
}

// Check validates the flags.
func (g *Global) Check() error {
	if g.LogFormat != "text" && g.LogFormat != "json" {
		return fmt.Errorf("invalid log-format: %s", g.LogFormat)
	}
	return nil
}

// Fail logs err to --log (if any) and returns it for the caller to print.
func (g *Global) Fail(err error) error {
	if err == nil || g.Log == "" {
		return err
	}
	f, ferr := os.OpenFile(g.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if ferr != nil {
		return err
	}
	defer f.Close()
	if g.LogFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": time.Now().UTC().Format(time.RFC3339Nano)})
		fmt.Fprintf(f, "%s\n", b)
	} else {
		fmt.Fprintf(f, "time=%q level=error msg=%q\n", time.Now().UTC().Format(time.RFC3339Nano), err.Error())
	}
	return err
}

// Load loads container id from the state root.
func (g *Global) Load(id string) (*rt.Container, error) {
	return rt.Load(g.Root, id)
}

// ExitError carries a process exit code up to the command's caller; Err,
// when set, is printed first.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func (e *ExitError) Unwrap() error { return e.Err }

// CreateOpts are the flags of create and run.
type CreateOpts struct {
	Bundle        string
	ConsoleSocket string
	PidFile       string
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFds   int
	// NoSubreaper (run only) leaves out the subreaper a foreground run
	// makes of itself to reap a process the init reparents.
	NoSubreaper bool
}

// RuntimeOpts is the runtime's create request for container id.
func (o *CreateOpts) RuntimeOpts(g *Global, id string) rt.CreateOpts {
	return rt.CreateOpts{
		Root:          g.Root,
		ID:            id,
		Bundle:        o.Bundle,
		ConsoleSocket: o.ConsoleSocket,
		PidFile:       o.PidFile,
		NoPivot:       o.NoPivot,
		NoNewKeyring:  o.NoNewKeyring,
		PreserveFds:   o.PreserveFds,
	}
}

// Create is `create`.
func Create(g *Global, o *CreateOpts, id string) error {
	if err := CheckPreserved(o.PreserveFds); err != nil {
		return g.Fail(err)
	}
	_, err := rt.Create(o.RuntimeOpts(g, id))
	return g.Fail(err)
}

// CheckPreserved is runtime.CheckPreserveFds, called by the command line
// before berth opens any descriptor of its own.
func CheckPreserved(n int) error { return rt.CheckPreserveFds(n) }

// Start is `start`.
func Start(g *Global, id string) error {
	c, err := g.Load(id)
	if err != nil {
		return g.Fail(err)
	}
	return g.Fail(c.Start())
}

// Kill is `kill`; sig is the signal argument ("" for SIGTERM).
func Kill(g *Global, id, sig string, all bool) error {
	s := unix.SIGTERM
	if sig != "" {
		var err error
		if s, err = ParseSignal(sig); err != nil {
			return g.Fail(err)
		}
	}
	c, err := g.Load(id)
	if err != nil {
		return g.Fail(err)
	}
	return g.Fail(c.Signal(s, all))
}

// Delete is `delete`: with force, a missing container is no error and a
// running one is killed first.
func Delete(g *Global, id string, force bool) error {
	c, err := g.Load(id)
	if err != nil {
		if force {
			return nil
		}
		return g.Fail(err)
	}
	return g.Fail(c.Delete(force))
}

// State is `state`: the container's state as runc prints it.
func State(g *Global, id string) error {
	c, err := g.Load(id)
	if err != nil {
		return g.Fail(err)
	}
	b, err := json.MarshalIndent(ToStateJSON(c), "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "%s\n", b)
	return nil
}

// StateJSON is `state` output, with runc's field names.
type StateJSON struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ToStateJSON is c's StateJSON.
func ToStateJSON(c *rt.Container) StateJSON {
	st := c.OCIState()
	return StateJSON{
		OCIVersion:  st.Version,
		ID:          st.ID,
		Pid:         st.Pid,
		Status:      string(st.Status),
		Bundle:      st.Bundle,
		Rootfs:      c.State.Rootfs,
		Created:     c.State.Created,
		Owner:       c.State.Owner,
		Annotations: st.Annotations,
	}
}

// ParseSignal accepts "9", "KILL" and "SIGKILL".
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	if strings.HasPrefix(name, "SIGRTMIN+") || strings.HasPrefix(name, "SIGRTMAX-") {
		n, err := strconv.Atoi(name[9:])
		if err == nil {
			if name[6] == 'I' {
				return unix.Signal(34 + n), nil
			}
			return unix.Signal(64 - n), nil
		}
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
