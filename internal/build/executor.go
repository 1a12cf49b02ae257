package build

import (
	"context"
	"fmt"
	"io"

	"github.com/berth/berth/internal/snapshot/mount"
)

// Executor runs the command of a RUN step in a container on a prepared
// root filesystem. The engine implements it; tests run the runtime
// directly (see main_test.go's runtimeExecutor). Run must:
//
//   - mount req.Rootfs as the container's root and unmount it before it
//     returns (the builder then diffs the snapshot's upper directory);
//   - create req.WorkingDir in the root when it is missing, as docker does;
//   - resolve req.User by the root's /etc/passwd and /etc/group;
//   - give the container no network but loopback for "none", the host's
//     for "host", the engine's default network for "default";
//   - kill the container when ctx is cancelled and return ctx.Err();
//   - return after the command exited and every process of the container
//     is gone, leaving no state behind; a non-zero exit is an *ExitError.
type Executor interface {
	Run(ctx context.Context, req RunRequest) error
}

// RunRequest is one RUN step's container.
type RunRequest struct {
	// ID names the container (unique per step).
	ID string
	// Rootfs are the mounts of the writable snapshot, to be mounted as
	// the container's root.
	Rootfs []mount.Mount
	// Args is the process's argv, Env its environment ("K=V"), WorkingDir
	// its absolute working directory (created if missing), User "uid[:gid]"
	// or "name[:group]" as the image's USER.
	Args       []string
	Env        []string
	WorkingDir string
	User       string
	// Network is "default" (the engine's default network), "none" or
	// "host".
	Network string
	// ExtraHosts are "NAME:IP" lines for its /etc/hosts (--add-host).
	ExtraHosts []string
	// Mounts are RUN --mount mounts besides the root.
	Mounts []RunMount
	// Limits are the build's resource limits (docker build -m and the
	// like).
	Limits RunLimits
	// Stdin, when set, is the process's standard input.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output.
	Stdout, Stderr io.Writer
}

// RunLimits are the resource limits of a build's RUN containers, as
// docker build's flags and POST /build's query set them: -m (Memory, in
// bytes), --memory-swap (MemorySwap, -1 for unlimited), -c/--cpu-shares,
// --cpu-period and --cpu-quota (microseconds), --cpuset-cpus,
// --cpuset-mems, --shm-size (bytes; 0 is docker's 64 MB), --cgroup-parent
// and --ulimit. The zero value sets none.
type RunLimits struct {
	Memory, MemorySwap             int64
	CPUShares, CPUPeriod, CPUQuota int64
	CPUSetCPUs, CPUSetMems         string
	ShmSize                        int64
	CgroupParent                   string
	Ulimits                        []Ulimit
}

// Ulimit is one --ulimit: an rlimit by docker's name ("nofile", "nproc").
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// RunMount is one extra mount of a RUN step: Type "bind" (Source is a host
// directory or file) or "tmpfs".
type RunMount struct {
	Type     string
	Source   string
	Target   string
	ReadOnly bool
}

// ExitError is a RUN command's non-zero exit status.
type ExitError struct {
	Code int
	// Cmd is the command as the step ran it (shell form through the
	// shell), set by the builder.
	Cmd string
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit code %d", e.Code) }
