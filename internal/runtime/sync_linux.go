package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/runtime/jsonenc"
)

// The parent and the init talk over a unix socketpair (fd syncFd in the init)
// with newline-delimited JSON messages:
//
//	nsenter (C) -> parent   {"type":"pid","pid":N}          only when it forked to join a PID namespace
//	parent -> init          "BFI1" and a u32 length, then a plan of that length for the C init (fastinit_linux.go),
//	                        or length 0 and the JSON config; only to an init started with _BERTH_FASTINIT
//	parent -> init          {"type":"config", ...initConfig}
//	init -> parent          {"type":"cgroup"[,"message":...]} with config.cgroupTasks, cgroupTaskFds or cgroupAwaitMove: it joined them,
//	                                                          or (with a message) waits for the parent to move it and send "continue"
//	init -> parent          {"type":"prestart"}              rootfs mounted, before pivot_root: run prestart and createRuntime hooks
//	parent -> init          {"type":"continue"}              (these two only when config.prestartStop: there are such hooks)
//	init -> parent          {"type":"ready"}                 created; init now blocks on exec.sock
//	parent -> init          {"type":"continue"}              a C init's `run` (StartNow): the limits are in place, exec now
//	init -> parent          {"type":"error","message":"..."} at any point; the init then exits
//
// An exec'd process (berth runtime exec) uses the same channel: config,
// then "ready" just before its final exec (the socket is close-on-exec, so
// the parent then reads EOF).
const (
	msgPid      = "pid"
	msgCgroup   = "cgroup"
	msgConfig   = "config"
	msgPrestart = "prestart"
	msgContinue = "continue"
	msgReady    = "ready"
	msgError    = "error"
)

// syncFd is the init's end of the sync socket, passed as the first extra file.
const syncFd = 3

// initConfig is everything the init needs; the parent sends it as msgConfig.
type initConfig struct {
	// Exec is true for a process joining a running container.
	Exec bool `json:"exec,omitempty"`
	// StartNow makes the C init exec the process once it is ready,
	// without waiting for start (a `run`; the Go init does not take it).
	StartNow bool      `json:"-"`
	ID       string    `json:"id"`
	Spec     *initSpec `json:"spec"`
	Rootfs   string    `json:"rootfs"`
	// Process overrides Spec.Process (exec).
	Process *specs.Process `json:"process,omitempty"`
	// ExecSockFd is the listening socket (fd in the init) that `start`
	// connects to.
	ExecSockFd int  `json:"execSockFd,omitempty"`
	NoPivot    bool `json:"noPivot,omitempty"`
	// NoNewKeyring: the process keeps the session keyring it inherited.
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`
	// PrestartStop makes the init stop before pivot_root for the parent to
	// run the prestart and createRuntime hooks (msgPrestart, msgContinue).
	PrestartStop bool `json:"prestartStop,omitempty"`
	// CgroupMounts are the host's cgroup v1 mounts, read by the parent while
	// the init starts (the init's new mount namespace is a copy of the
	// parent's), for a spec that mounts a v1 cgroup view; nil makes the init
	// read its own mount table.
	CgroupMounts []cgroupMount `json:"cgroupMounts,omitempty"`
	// ConsoleFd is the fd (in the init) of a unix socket connection to send the
	// pty master to, or 0 when the process has no terminal.
	ConsoleFd int `json:"consoleFd,omitempty"`
	// CgroupTasks are the tasks files of the v1 cgroups the init moves its
	// exec thread into before anything else (cgroupJoin), reporting
	// msgCgroup; CgroupTaskFds are the same opened by the parent (fds in an
	// exec'd process).
	CgroupTasks   []string `json:"cgroupTasks,omitempty"`
	CgroupTaskFds []int    `json:"cgroupTaskFds,omitempty"`
	// CgroupAwaitMove: the process reports msgCgroup and waits for the
	// parent to move it into its v2 cgroup (cgroupJoin.late).
	CgroupAwaitMove bool `json:"cgroupAwaitMove,omitempty"`
	// PreserveFds are descriptors of the init (the caller's
	// --preserve-fds, passed on) that become 3, 4, ... in the process.
	PreserveFds []int `json:"preserveFds,omitempty"`
	// SeccompAgentFd is a connection (fd in an exec'd process) to the
	// seccomp agent at linux.seccomp.listenerPath, or 0.
	SeccompAgentFd int `json:"seccompAgentFd,omitempty"`
	// State is sent to hooks run by the init (createContainer, startContainer).
	State *specs.State `json:"state,omitempty"`
}

// initSpec is the part of the spec the init reads, under the spec's JSON
// names. Decoding a whole specs.Spec makes encoding/json build its field
// tables for every type a spec can hold (Windows, Solaris, VM, z/OS, cgroup
// resources, ...): about 1 ms in a fresh process, the init's largest cost
// after its start-up. Everything the init reads from the spec must be
// copied here (newInitSpec) and back (spec).
type initSpec struct {
	Version    string         `json:"ociVersion"`
	Process    *specs.Process `json:"process,omitempty"`
	Root       *specs.Root    `json:"root,omitempty"`
	Hostname   string         `json:"hostname,omitempty"`
	Domainname string         `json:"domainname,omitempty"`
	Mounts     []specs.Mount  `json:"mounts,omitempty"`
	Hooks      *specs.Hooks   `json:"hooks,omitempty"`
	Linux      *initLinux     `json:"linux,omitempty"`
}

// initLinux is the part of linux the init reads.
type initLinux struct {
	Namespaces        []specs.LinuxNamespace `json:"namespaces,omitempty"`
	Devices           []specs.LinuxDevice    `json:"devices,omitempty"`
	Sysctl            map[string]string      `json:"sysctl,omitempty"`
	Seccomp           *specs.LinuxSeccomp    `json:"seccomp,omitempty"`
	RootfsPropagation string                 `json:"rootfsPropagation,omitempty"`
	MaskedPaths       []string               `json:"maskedPaths,omitempty"`
	ReadonlyPaths     []string               `json:"readonlyPaths,omitempty"`
}

func newInitSpec(s *specs.Spec) *initSpec {
	if s == nil {
		return nil
	}
	is := &initSpec{Version: s.Version, Process: s.Process, Root: s.Root, Hostname: s.Hostname,
		Domainname: s.Domainname, Mounts: s.Mounts, Hooks: s.Hooks}
	if l := s.Linux; l != nil {
		is.Linux = &initLinux{Namespaces: l.Namespaces, Devices: l.Devices, Sysctl: l.Sysctl, Seccomp: l.Seccomp,
			RootfsPropagation: l.RootfsPropagation, MaskedPaths: l.MaskedPaths, ReadonlyPaths: l.ReadonlyPaths}
	}
	return is
}

// spec returns the spec the init works with.
func (is *initSpec) spec() *specs.Spec {
	s := &specs.Spec{Version: is.Version, Process: is.Process, Root: is.Root, Hostname: is.Hostname,
		Domainname: is.Domainname, Mounts: is.Mounts, Hooks: is.Hooks}
	if l := is.Linux; l != nil {
		s.Linux = &specs.Linux{Namespaces: l.Namespaces, Devices: l.Devices, Sysctl: l.Sysctl, Seccomp: l.Seccomp,
			RootfsPropagation: l.RootfsPropagation, MaskedPaths: l.MaskedPaths, ReadonlyPaths: l.ReadonlyPaths}
	}
	return s
}

type syncMsg struct {
	Type    string      `json:"type"`
	Pid     int         `json:"pid,omitempty"`
	Message string      `json:"message,omitempty"`
	Config  *initConfig `json:"config,omitempty"`
}

type syncConn struct {
	f *os.File
	r *bufio.Reader
}

func newSyncConn(f *os.File) *syncConn {
	return &syncConn{f: f, r: bufio.NewReader(f)}
}

func (c *syncConn) send(m syncMsg) error {
	var b []byte
	var err error
	if m.Config == nil {
		// What encoding/json writes for the message without its config
		// (TestSyncSend), without building its encoders: the init's
		// messages and the parent's continue.
		b = append(b, `{"type":`...)
		b = jsonenc.AppendString(b, m.Type)
		if m.Pid != 0 {
			b = append(b, `,"pid":`...)
			b = strconv.AppendInt(b, int64(m.Pid), 10)
		}
		if m.Message != "" {
			b = append(b, `,"message":`...)
			b = jsonenc.AppendString(b, m.Message)
		}
		b = append(b, '}')
	} else {
		b, err = json.Marshal(m)
	}
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = c.f.Write(b)
	return err
}

// recv reads the next message. An init-side error message is returned as an
// error carrying the init's text.
func (c *syncConn) recv() (syncMsg, error) {
	var m syncMsg
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return m, io.EOF
		}
		return m, err
	}
	if err := decodeSyncMsg(line, &m); err != nil {
		return m, fmt.Errorf("sync: bad message %q: %w", line, err)
	}
	if m.Type == msgError {
		return m, &initError{msg: m.Message}
	}
	return m, nil
}

// decodeSyncMsg decodes a message without encoding/json's reflection when
// it has no config (what an init sends: its decoders are most of the
// parent's JSON cost otherwise); anything else, and anything the fast
// parser does not take, goes to encoding/json (FuzzDecodeSyncMsg).
func decodeSyncMsg(line []byte, m *syncMsg) error {
	p := jparser{b: line}
	root := p.value(0)
	p.ws()
	if !p.bad && p.i == len(line) && root.k == 'o' {
		var d specDecoder
		var fast syncMsg
		d.fields(&root, []string{"type", "pid", "message", "config"}, func(i int, v *jv) {
			switch i {
			case 0:
				d.str(v, &fast.Type)
			case 1:
				setInt(&d, v, &fast.Pid)
			case 2:
				d.str(v, &fast.Message)
			default:
				if v.k != 'z' {
					d.unhandled(v)
				}
			}
		})
		if !d.bad {
			*m = fast
			return nil
		}
	}
	return json.Unmarshal(line, m)
}

// expect reads the next message and checks its type.
func (c *syncConn) expect(typ string) (syncMsg, error) {
	m, err := c.recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return m, fmt.Errorf("container init exited before %s", typ)
		}
		return m, err
	}
	if m.Type != typ {
		return m, fmt.Errorf("sync: expected %q, got %q", typ, m.Type)
	}
	return m, nil
}

// initError is an error reported by the container's init.
type initError struct{ msg string }

func (e *initError) Error() string { return e.msg }
