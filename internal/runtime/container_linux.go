package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime/cgroups"
	"github.com/berth/berth/internal/runtime/initsock"
	"github.com/berth/berth/internal/runtime/jsonenc"
)

// Status is a container's lifecycle state as the runtime spec names it.
type Status string

const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

const (
	stateFile = "state.json"
	// execSockName is present while the container is "created".
	execSockName = initsock.SockName
	// DefaultRoot is where container state lives unless --root says otherwise.
	DefaultRoot = "/run/berth/runtime"
)

// State is what is persisted in <root>/<id>/state.json.
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// PidStartTime is field 22 of /proc/<pid>/stat, to tell our init from a
	// process that reused its pid.
	PidStartTime uint64 `json:"pidStartTime"`
	// Namespaces maps a namespace type to the path exec joins.
	Namespaces map[specs.LinuxNamespaceType]string `json:"namespaces,omitempty"`
	// CgroupPaths are the cgroup directories, per controller.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// Started is set by start.
	Started bool `json:"started,omitempty"`
	// NoNewKeyring records create's --no-new-keyring: exec'd processes
	// then keep the caller's session keyring too.
	NoNewKeyring bool        `json:"noNewKeyring,omitempty"`
	Spec         *specs.Spec `json:"spec"`
}

// Container is a container found in the state root.
type Container struct {
	dir   string
	State State
	// cmd is the init's process when this process created it as its child.
	cmd *child
	// startedEarly: Create had the C init exec the process already
	// (CreateOpts.StartNow); Start completes the start.
	startedEarly bool
	// specJSON, when set, is the config.json State.Spec was decoded from,
	// saved as it is (see writeStateTmp).
	specJSON []byte
}

func validateID(id string) error {
	if id == "" {
		return errors.New("container id cannot be empty")
	}
	if len(id) > 1024 || !idChars(id) || id == "." || id == ".." {
		return fmt.Errorf("invalid container id %q", id)
	}
	return nil
}

// idChars reports whether id has only the characters runc allows in an ID
// (`^[\w+\-.]+$`: ASCII letters, digits, _ + - and .). A loop, not a
// regexp: compiling one cost a CLI command about 70 µs, and package regexp
// in internal/runtime's imports delayed the start of every command and init
// (TestInitNeedsNoPackageNet).
func idChars(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// ErrNotExist is returned by Load for an unknown container id.
var ErrNotExist = errors.New("container does not exist")

// Load reads container id's state from root.
func Load(root, id string) (*Container, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	dir := path.Join(root, id)
	b, err := os.ReadFile(path.Join(dir, stateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, err2 := os.Stat(dir); err2 == nil {
				// Being created by someone else, or left by a crash.
				return &Container{dir: dir, State: State{ID: id}}, nil
			}
			return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
		}
		return nil, err
	}
	c := &Container{dir: dir}
	if err := decodeState(b, &c.State); err != nil {
		return nil, fmt.Errorf("container %s: corrupt state: %w", id, err)
	}
	return c, nil
}

// decodeState decodes state.json, its spec with fastDecodeSpec where it
// can: encoding/json's first decode of a spec is most of a `start`, `kill`
// or `state` otherwise.
func decodeState(b []byte, st *State) error {
	raw := rawSpecState{State: st}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	st.Spec = nil
	if len(raw.Spec) == 0 || string(raw.Spec) == "null" {
		return nil
	}
	if spec, ok := fastDecodeSpec(raw.Spec); ok {
		st.Spec = spec
		return nil
	}
	return json.Unmarshal(raw.Spec, &st.Spec)
}

// rawSpecState is state.json with its spec as JSON: its Spec shadows
// State's.
type rawSpecState struct {
	*State
	Spec json.RawMessage `json:"spec"`
}

// appendState appends st as state.json with spec (config.json's bytes) as
// its spec: what json.Marshal(&rawSpecState{st, spec}) writes, but for
// spaces in the spec and the escapes of <, > and & in it (the same values
// when read back, TestAppendState), without encoding/json's reflection,
// whose encoders for these types are a tenth of a `run`'s CPU here.
func appendState(b []byte, st *State, spec []byte) ([]byte, error) {
	created, err := st.Created.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b = append(b, `{"ociVersion":`...)
	b = jsonenc.AppendString(b, st.OCIVersion)
	b = append(b, `,"id":`...)
	b = jsonenc.AppendString(b, st.ID)
	b = append(b, `,"pid":`...)
	b = strconv.AppendInt(b, int64(st.Pid), 10)
	b = append(b, `,"bundle":`...)
	b = jsonenc.AppendString(b, st.Bundle)
	b = append(b, `,"rootfs":`...)
	b = jsonenc.AppendString(b, st.Rootfs)
	b = append(b, `,"created":`...)
	b = append(b, created...)
	b = append(b, `,"owner":`...)
	b = jsonenc.AppendString(b, st.Owner)
	if len(st.Annotations) > 0 {
		b = append(b, `,"annotations":`...)
		b = appendStringMap(b, st.Annotations)
	}
	b = append(b, `,"pidStartTime":`...)
	b = strconv.AppendUint(b, st.PidStartTime, 10)
	if len(st.Namespaces) > 0 {
		b = append(b, `,"namespaces":`...)
		b = appendStringMap(b, st.Namespaces)
	}
	if len(st.CgroupPaths) > 0 {
		b = append(b, `,"cgroupPaths":`...)
		b = appendStringMap(b, st.CgroupPaths)
	}
	if st.Started {
		b = append(b, `,"started":true`...)
	}
	if st.NoNewKeyring {
		b = append(b, `,"noNewKeyring":true`...)
	}
	b = append(b, `,"spec":`...)
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, spec); err != nil {
		return nil, fmt.Errorf("state of %s: its spec: %w", st.ID, err)
	}
	return append(buf.Bytes(), '}'), nil
}

// appendStringMap appends m as a JSON object, its keys sorted as
// encoding/json sorts them.
func appendStringMap[K ~string](b []byte, m map[K]string) []byte {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, k)
		b = append(b, ':')
		b = jsonenc.AppendString(b, m[k])
	}
	return append(b, '}')
}

// List returns all containers under root, sorted by id.
func List(root string) ([]*Container, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []*Container
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		c, err := Load(root, e.Name())
		if err != nil {
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].State.ID < out[j].State.ID })
	return out, nil
}

func (c *Container) ID() string { return c.State.ID }

func (c *Container) save() error {
	tmp, err := c.writeStateTmp()
	if err != nil {
		return err
	}
	return c.publishState(tmp)
}

// writeStateTmp writes the state to a temporary file beside state.json and
// returns its path; publishState renames it into place, atomically for
// readers of state.json.
//
// The spec of a container just created is saved from the config.json it was
// decoded from: encoding it anew would first build encoding/json's encoders
// for every type a spec can hold, about half a millisecond of CPU in each
// `create` and `run`. Marshal checks and compacts the raw JSON, and decoding
// it gives the same spec. A spec changed since (update) is encoded.
func (c *Container) writeStateTmp() (string, error) {
	var b []byte
	var err error
	if c.specJSON != nil {
		b, err = appendState(nil, &c.State, c.specJSON)
	} else {
		b, err = json.Marshal(&c.State)
	}
	if err != nil {
		return "", err
	}
	tmp := path.Join(c.dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", err
	}
	return tmp, nil
}

func (c *Container) publishState(tmp string) error {
	return os.Rename(tmp, path.Join(c.dir, stateFile))
}

// Status reports the container's current state, found from its init process,
// exec socket and freezer.
func (c *Container) Status() Status {
	if c.State.Pid == 0 {
		return Creating
	}
	if !c.initAlive() {
		return Stopped
	}
	// A frozen container is paused, also one not started yet (runc's
	// state, and what makes kill, delete -f and resume thaw it).
	if cg := c.cgroup(); cg != nil {
		if st, err := cg.State(); err == nil && st == cgroups.Frozen {
			return Paused
		}
	}
	if _, err := os.Stat(path.Join(c.dir, execSockName)); err == nil && !c.State.Started {
		return Created
	}
	return Running
}

// Dir is the container's state directory under the runtime's root.
func (c *Container) Dir() string { return c.dir }

func (c *Container) cgroup() cgroups.Manager {
	if len(c.State.CgroupPaths) == 0 {
		return nil
	}
	m, err := cgroups.Load(c.State.CgroupPaths)
	if err != nil {
		return nil
	}
	return m
}

// initAlive reports whether the recorded init is still the live process with
// the recorded pid (and not a zombie).
func (c *Container) initAlive() bool {
	st, state, err := pidStartTime(c.State.Pid)
	if err != nil || state == 'Z' || state == 'X' {
		return false
	}
	return st == c.State.PidStartTime
}

// ProcState returns the state letter of /proc/PID/stat: R, S, D, Z (exited,
// not yet reaped), ...
func ProcState(pid int) (byte, error) {
	_, state, err := pidStartTime(pid)
	return state, err
}

// pidStartTime returns field 22 (starttime) and field 3 (state) of /proc/pid/stat.
func pidStartTime(pid int) (uint64, byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	return st, f[0][0], err
}

// OCIState returns the runtime-spec state of the container.
func (c *Container) OCIState() specs.State {
	st := c.Status()
	pid := c.State.Pid
	if st == Stopped {
		pid = 0
	}
	return c.ociState(specs.ContainerState(st), pid)
}

// ociState is the runtime-spec state with the status and pid given, for a
// caller that knows them (Create, Start): Status reads the process's stat,
// the freezer's state and the exec socket to work the status out, a third
// of a millisecond on the way to the init's config.
func (c *Container) ociState(status specs.ContainerState, pid int) specs.State {
	return specs.State{
		Version:     specs.Version,
		ID:          c.State.ID,
		Status:      status,
		Pid:         pid,
		Bundle:      c.State.Bundle,
		Annotations: c.State.Annotations,
	}
}

// errNotRunning is runc's words for a container without a process to act
// on: containerd and podman recognise them (a kill racing the exit is "process
// already finished" to containerd, not an unknown error).
var errNotRunning = errors.New("container not running")

// Signal sends sig to the container's init (or, with all, to every process
// in its cgroup).
func (c *Container) Signal(sig unix.Signal, all bool) error {
	st := c.Status()
	if st == Stopped && all {
		return nil // no process left to signal, as runc's kill --all
	}
	if st == Stopped || st == Creating {
		return errNotRunning
	}
	if all {
		if cg := c.cgroup(); cg != nil {
			pids, err := cg.Procs()
			if err == nil {
				for _, p := range pids {
					_ = unix.Kill(p, sig)
				}
				if st == Paused && sig == unix.SIGKILL {
					_ = cg.Thaw()
				}
				return nil
			}
		}
	}
	fd, err := unix.PidfdOpen(c.State.Pid, 0)
	if err != nil {
		return fmt.Errorf("signal container %s: %w", c.State.ID, err)
	}
	defer unix.Close(fd)
	// The pidfd pins the process: recheck it is still our init.
	if !c.initAlive() {
		return errNotRunning
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal container %s: %w", c.State.ID, err)
	}
	if st == Paused && sig == unix.SIGKILL {
		// A frozen task does not die of SIGKILL under the v1 freezer:
		// thaw it, as runc does, so the kill takes effect now.
		if cg := c.cgroup(); cg != nil {
			_ = cg.Thaw()
		}
	}
	return nil
}

// waitInitExit waits up to timeout for the init to be gone.
func (c *Container) waitInitExit(timeout time.Duration) bool {
	fd, err := unix.PidfdOpen(c.State.Pid, 0)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	if !c.initAlive() {
		return true
	}
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return !c.initAlive()
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			// Readable when the process exited; it may linger as a zombie.
			return true
		}
		return !c.initAlive()
	}
}

// Delete removes a stopped (or, with force, any) container: it kills what
// is left, runs poststop hooks, removes the cgroup and the state directory.
func (c *Container) Delete(force bool) error {
	st := c.Status()
	switch st {
	case Running, Paused:
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", c.State.ID, st)
		}
		fallthrough
	case Created:
		_ = c.Signal(unix.SIGKILL, true)
		_ = c.Signal(unix.SIGKILL, false)
		if !c.waitInitExit(10 * time.Second) {
			return fmt.Errorf("delete %s: init process %d did not exit", c.State.ID, c.State.Pid)
		}
	}
	return c.destroy()
}

// destroy removes everything of a container whose init is gone.
func (c *Container) destroy() error {
	var errs []error
	if cg := c.cgroup(); cg != nil {
		if err := cgroups.Remove(cg); err != nil {
			errs = append(errs, err)
		}
	}
	if c.State.Spec != nil && c.State.Spec.Hooks != nil && c.State.Pid != 0 {
		st := c.OCIState()
		st.Status = specs.StateStopped
		// Poststop hook errors are logged, not fatal (runtime-spec).
		if err := runHooks(c.State.Spec.Hooks.Poststop, &st); err != nil {
			fmt.Fprintf(os.Stderr, "berth: poststop hook: %v\n", err)
		}
	}
	if err := removeStateDir(c.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeStateDir removes a container's state directory: the files it
// usually holds by name, then the directory, and anything else with
// os.RemoveAll, which first tries the directory as a file and as an empty
// directory, then opens and lists it: seven system calls more on the way
// out of every run.
func removeStateDir(dir string) error {
	for _, f := range []string{stateFile, execSockName} {
		_ = unix.Unlink(path.Join(dir, f))
	}
	if err := unix.Rmdir(dir); err == nil || err == unix.ENOENT {
		return nil
	}
	return os.RemoveAll(dir)
}
