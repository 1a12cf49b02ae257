package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Arg is argv[1] of a shim process, a re-exec of berth.
const Arg = "shim"

// Names of the files in a shim's state directory.
const (
	configName = "config.json"
	sockName   = "shim.sock"
	pidName    = "shim.pid"
	exitName   = "exit.json"
	logName    = "shim.log"
)

// Runtime names accepted in Config.Runtime.
const (
	RuntimeBerth = "berth" // the built-in runtime, called in-process
	RuntimeRunc  = "runc"
	RuntimeCrun  = "crun"
)

// Config is what a shim needs to run one container. Start writes it as
// config.json into the state directory; the shim reads it from there.
type Config struct {
	// ID is the container's id, also its id in the OCI runtime.
	ID string `json:"id"`
	// Bundle is the OCI bundle directory (config.json and the rootfs).
	Bundle string `json:"bundle"`
	// StateDir is the shim's own directory: its socket, pid and exit
	// status. It should be short (a unix socket path is limited to 107
	// bytes; longer paths still work through /proc/self/fd).
	StateDir string `json:"stateDir"`
	// Runtime is "berth" (default), "runc" or "crun".
	Runtime string `json:"runtime,omitempty"`
	// RuntimePath is the runc or crun binary; empty means looked up in PATH.
	RuntimePath string `json:"runtimePath,omitempty"`
	// RuntimeRoot is the runtime's state root (--root).
	RuntimeRoot string `json:"runtimeRoot,omitempty"`

	// Terminal gives the container a pty; it must match the bundle's
	// process.terminal.
	Terminal bool `json:"terminal,omitempty"`
	// OpenStdin keeps a stdin open for attach (docker's -i); without it
	// the container's stdin is /dev/null.
	OpenStdin bool `json:"openStdin,omitempty"`
	// StdinOnce closes the container's stdin when the first attached
	// client's stdin ends (docker's StdinOnce).
	StdinOnce bool `json:"stdinOnce,omitempty"`

	// LogPath is the docker json-file log (…/<id>-json.log); empty means
	// no log.
	LogPath string `json:"logPath,omitempty"`
	// LogMaxSize rotates the log when it would grow above this many bytes
	// (0: never). LogMaxFiles is how many files are kept, the current one
	// included (docker's max-file, at least 1).
	LogMaxSize  int64 `json:"logMaxSize,omitempty"`
	LogMaxFiles int   `json:"logMaxFiles,omitempty"`
	// LogCompress gzips rotated files (<log>.1.gz, ...), as docker's
	// compress=true.
	LogCompress bool `json:"logCompress,omitempty"`
	// LogAttrs are written with every log entry ("attrs"), as docker's
	// json-file writes the labels and env log-opts name.
	LogAttrs map[string]string `json:"logAttrs,omitempty"`

	// ExitTimeout is how long the shim stays after the container exited
	// while no client is connected, before it deletes the container from
	// the runtime and exits, keeping exit.json (0: 10 minutes; negative:
	// stay until told).
	ExitTimeout time.Duration `json:"exitTimeout,omitempty"`

	// Binary is the berth executable to run as the shim; empty means
	// /proc/self/exe.
	Binary string `json:"binary,omitempty"`
}

func (c *Config) validate() error {
	if c.ID == "" {
		return errors.New("shim config: id is empty")
	}
	if c.Bundle == "" {
		return errors.New("shim config: bundle is empty")
	}
	if c.StateDir == "" {
		return errors.New("shim config: stateDir is empty")
	}
	switch c.Runtime {
	case "", RuntimeBerth, RuntimeRunc, RuntimeCrun:
	default:
		return fmt.Errorf("shim config: runtime %q: want berth, runc or crun", c.Runtime)
	}
	if c.StdinOnce && !c.OpenStdin {
		return errors.New("shim config: stdinOnce needs openStdin")
	}
	return nil
}

// Status of the container as the shim sees it.
type Status string

const (
	Created Status = "created"
	Running Status = "running"
	Stopped Status = "stopped"
)

// State is the answer of Client.State.
type State struct {
	ID       string    `json:"id"`
	Pid      int       `json:"pid"` // the container's init, on the host
	ShimPid  int       `json:"shimPid"`
	Status   Status    `json:"status"`
	Started  time.Time `json:"started,omitzero"`
	Exit     *Exit     `json:"exit,omitempty"` // set once stopped
	Terminal bool      `json:"terminal,omitempty"`
}

// Exit is how a process ended: its shell-style exit code (128+signal when
// killed by a signal) and when. For the container it is also exit.json.
type Exit struct {
	Code int       `json:"exitCode"`
	At   time.Time `json:"exitedAt"`
}

// ExecConfig describes a process to start in the running container.
type ExecConfig struct {
	// ID names the exec for Resize, CloseStdin, Kill and Wait; unique per
	// container.
	ID      string         `json:"id"`
	Process *specs.Process `json:"process"`
	// Stdin keeps a stdin pipe open, fed by the exec stream.
	Stdin bool `json:"stdin,omitempty"`
}

// ReadExit reads the exit status the shim of stateDir recorded, for a
// daemon that finds the shim gone. It returns an error wrapping
// os.ErrNotExist when none was recorded.
func ReadExit(stateDir string) (*Exit, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, exitName))
	if err != nil {
		return nil, fmt.Errorf("read exit status: %w", err)
	}
	var e Exit
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("read exit status: %s: %w", filepath.Join(stateDir, exitName), err)
	}
	return &e, nil
}

// writeFileAtomic writes data to path through a synced temporary file and
// a rename, so a reader sees the old content or the new, never a part.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// DeleteFromRuntime removes the container of the shim state directory
// stateDir from its runtime, killing whatever of it still runs: what the
// shim does at the end, for a shim that died without doing it (killed, or
// out of memory), whose container lives on without anyone to reap it, log
// it or stop it. It reports whether the runtime had the container.
func DeleteFromRuntime(stateDir string) (bool, error) {
	cfg, err := loadConfig(stateDir)
	if errors.Is(err, fs.ErrNotExist) {
		// The shim's state is gone with it: it was removed after the
		// container (a restart, rm), so nothing is left to delete.
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch cfg.Runtime {
	case "", RuntimeBerth:
		return deleteBuiltin(&cfg)
	}
	t, err := newTask(&cfg)
	if err != nil {
		return false, err
	}
	ct := t.(*cliTask)
	// `state` first: runc's delete of a container it does not know fails.
	if err := ct.run("state", cfg.ID); err != nil {
		return false, nil
	}
	return true, ct.delete()
}
