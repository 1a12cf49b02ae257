package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime/cgroups"
)

// cgroupPath is the container's cgroup: /berth/ID, or --cgroup-parent's
// directory with the ID below it, as dockerd's cgroupfs driver has it.
func cgroupPath(c *Container) string {
	if c.HostConfig != nil && c.HostConfig.CgroupParent != "" {
		return path.Join("/", c.HostConfig.CgroupParent, c.ID)
	}
	return "/berth/" + c.ID
}

// cgroupOf returns the cgroup manager of a running container (the spec's
// cgroupsPath, which the built-in runtime and runc both use); c.mu held.
func (e *Engine) cgroupOf(c *Container) (cgroups.Manager, error) {
	if !c.State.Running {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", c.ID))
	}
	m, err := cgroups.New(cgroupPath(c), c.ID)
	if err != nil {
		return nil, fmt.Errorf("cgroup of %s: %w", c.ID, err)
	}
	return m, nil
}

// Pause freezes every process of the container.
func (e *Engine) Pause(ref string) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.State.Paused {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is already paused", c.ID))
	}
	m, err := e.cgroupOf(c)
	if err != nil {
		return err
	}
	if err := m.Freeze(); err != nil {
		return fmt.Errorf("pause %s: %w", c.ID, err)
	}
	c.State.Paused = true
	c.State.Status = container.StatePaused
	c.notify()
	e.saveLogged(c)
	e.publish(c, mevents.ActionPause, nil)
	return nil
}

// Unpause thaws a paused container.
func (e *Engine) Unpause(ref string) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.State.Paused {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not paused", c.ID))
	}
	m, err := e.cgroupOf(c)
	if err != nil {
		return err
	}
	if err := m.Thaw(); err != nil {
		return fmt.Errorf("unpause %s: %w", c.ID, err)
	}
	c.State.Paused = false
	c.State.Status = container.StateRunning
	c.notify()
	e.saveLogged(c)
	e.publish(c, mevents.ActionUnPause, nil)
	return nil
}

// Top runs ps on the host with psArgs (default -ef) and keeps the rows of
// the container's processes, as dockerd does.
func (e *Engine) Top(ctx context.Context, ref, psArgs string) (container.TopResponse, error) {
	c, err := e.Get(ref)
	if err != nil {
		return container.TopResponse{}, err
	}
	c.mu.Lock()
	m, err := e.cgroupOf(c)
	c.mu.Unlock()
	if err != nil {
		return container.TopResponse{}, err
	}
	pids, err := m.Procs()
	if err != nil {
		return container.TopResponse{}, fmt.Errorf("top %s: %w", c.ID, err)
	}
	if psArgs == "" {
		psArgs = "-ef"
	}
	out, err := exec.CommandContext(ctx, "ps", strings.Fields(psArgs)...).Output()
	if err != nil {
		return container.TopResponse{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("ps: %v", err))
	}
	resp, err := parsePS(out, pids)
	if err == nil {
		c.mu.Lock()
		e.publish(c, mevents.ActionTop, nil) // dockerd logs every top
		c.mu.Unlock()
	}
	return resp, err
}

func parsePS(out []byte, pids []int) (container.TopResponse, error) {
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	var resp container.TopResponse
	pidCol := -1
	for sc.Scan() {
		line := sc.Text()
		if resp.Titles == nil {
			resp.Titles = strings.Fields(line)
			for i, t := range resp.Titles {
				if t == "PID" {
					pidCol = i
				}
			}
			if pidCol < 0 {
				return resp, errdefs.ErrInvalidArgument.WithMessage("Couldn't find PID field in ps output")
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) <= pidCol {
			continue
		}
		pid, err := strconv.Atoi(f[pidCol])
		if err != nil || !want[pid] {
			continue
		}
		n := len(resp.Titles)
		if len(f) > n {
			f = append(f[:n-1], strings.Join(f[n-1:], " "))
		}
		resp.Processes = append(resp.Processes, f)
	}
	if resp.Processes == nil {
		resp.Processes = [][]string{}
	}
	return resp, nil
}

// Stats samples the container's cgroup counters.
func (e *Engine) Stats(ref string) (container.StatsResponse, error) {
	c, err := e.Get(ref)
	if err != nil {
		return container.StatsResponse{}, err
	}
	c.mu.Lock()
	name, id := c.Name, c.ID
	var m cgroups.Manager
	if c.State.Running {
		m, err = e.cgroupOf(c)
	}
	pid, ownNetNS := c.State.Pid, c.NetNS != ""
	if mode, _ := networkMode(c.HostConfig); mode != modeBridge && mode != modeNone {
		ownNetNS = false // host's or another container's: dockerd reports none
	}
	c.mu.Unlock()
	resp := container.StatsResponse{ID: id, Name: name, OSType: "linux", Read: time.Now().UTC()}
	if m == nil {
		return resp, err
	}
	st, err := m.Stats()
	if err != nil {
		return resp, fmt.Errorf("stats %s: %w", id, err)
	}
	resp.CPUStats = container.CPUStats{
		CPUUsage: container.CPUUsage{
			TotalUsage: st.CPU.Usage.Total, PercpuUsage: st.CPU.Usage.Percpu,
			UsageInKernelmode: st.CPU.Usage.Kernel, UsageInUsermode: st.CPU.Usage.User,
		},
		SystemUsage: systemCPUUsage(),
		OnlineCPUs:  uint32(onlineCPUs()),
		ThrottlingData: container.ThrottlingData{
			Periods: st.CPU.Throttling.Periods, ThrottledPeriods: st.CPU.Throttling.ThrottledPeriods,
			ThrottledTime: st.CPU.Throttling.ThrottledTime,
		},
	}
	limit := st.Memory.Usage.Limit
	if limit == 0 || limit > 1<<62 {
		limit = memTotal()
	}
	resp.MemoryStats = container.MemoryStats{
		Usage: st.Memory.Usage.Usage, MaxUsage: st.Memory.Usage.Max, Stats: st.Memory.Raw,
		Failcnt: st.Memory.Usage.Failcnt, Limit: limit,
	}
	resp.PidsStats = container.PidsStats{Current: st.Pids.Current, Limit: st.Pids.Limit}
	conv := func(in []cgroups.BlkioEntry) []container.BlkioStatEntry {
		out := []container.BlkioStatEntry{}
		for _, b := range in {
			out = append(out, container.BlkioStatEntry{Major: b.Major, Minor: b.Minor, Op: b.Op, Value: b.Value})
		}
		return out
	}
	resp.BlkioStats = container.BlkioStats{
		IoServiceBytesRecursive: conv(st.Blkio.IoServiceBytesRecursive),
		IoServicedRecursive:     conv(st.Blkio.IoServicedRecursive),
	}
	resp.Networks = map[string]container.NetworkStats{}
	if ownNetNS && pid > 0 {
		nets, err := netDevStats(pid)
		switch {
		case err == nil:
			resp.Networks = nets
		case !errors.Is(err, fs.ErrNotExist): // else it has just exited
			return resp, fmt.Errorf("stats %s: %w", id, err)
		}
	}
	return resp, nil
}

// systemCPUUsage is the host's total CPU time in nanoseconds, from
// /proc/stat, as dockerd reports it.
func systemCPUUsage() uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "cpu" {
			var total uint64
			for _, v := range f[1:8] {
				n, _ := strconv.ParseUint(v, 10, 64)
				total += n
			}
			return total * 1e9 / 100 // USER_HZ
		}
	}
	return 0
}

func onlineCPUs() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "cpu") && len(line) > 3 && line[3] >= '0' && line[3] <= '9' {
			n++
		}
	}
	return n
}

func memTotal() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n << 10
		}
	}
	return 0
}

// Update changes a container's limits (applied to the running cgroup at
// once) and restart policy.
func (e *Engine) Update(ref string, u container.UpdateConfig) ([]string, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	hc := *c.HostConfig
	r := u.Resources
	// dockerd's checks of an update against what is set (its words, 400):
	// NanoCPUs and a period or quota exclude each other; a memory limit
	// above the swap limit set needs the swap limit with it.
	for _, bad := range []struct {
		when bool
		msg  string
	}{
		{r.NanoCPUs > 0 && hc.CPUPeriod > 0, "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"},
		{r.NanoCPUs > 0 && hc.CPUQuota > 0, "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"},
		{r.CPUPeriod > 0 && hc.NanoCPUs > 0, "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"},
		{r.CPUQuota > 0 && hc.NanoCPUs > 0, "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"},
		{r.Memory != 0 && r.MemorySwap == 0 && hc.MemorySwap > 0 && r.Memory > hc.MemorySwap, "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"},
	} {
		if bad.when {
			return nil, errdefs.ErrInvalidArgument.WithMessage(bad.msg)
		}
	}
	if r.Memory != 0 {
		hc.Memory = r.Memory
	}
	if r.MemorySwap != 0 {
		hc.MemorySwap = r.MemorySwap
	}
	if r.MemoryReservation != 0 {
		hc.MemoryReservation = r.MemoryReservation
	}
	if r.CPUShares != 0 {
		hc.CPUShares = r.CPUShares
	}
	if r.NanoCPUs != 0 {
		hc.NanoCPUs = r.NanoCPUs
	}
	if r.CPUQuota != 0 {
		hc.CPUQuota = r.CPUQuota
	}
	if r.CPUPeriod != 0 {
		hc.CPUPeriod = r.CPUPeriod
	}
	if r.CpusetCpus != "" {
		hc.CpusetCpus = r.CpusetCpus
	}
	if r.CpusetMems != "" {
		hc.CpusetMems = r.CpusetMems
	}
	if r.PidsLimit != nil {
		// 0 and any negative value mean unlimited, recorded as 0, as
		// dockerd records them.
		v := max(*r.PidsLimit, 0)
		hc.PidsLimit = &v
	}
	if u.RestartPolicy.Name != "" {
		if hc.AutoRemove && u.RestartPolicy.Name != container.RestartPolicyDisabled {
			return nil, errdefs.ErrConflict.WithMessage("Restart policy cannot be updated because AutoRemove is enabled for the container") // 409, as dockerd
		}
		hc.RestartPolicy = u.RestartPolicy
	}
	if err := validateHostConfig(&hc); err != nil {
		return nil, err
	}
	if c.State.Running {
		m, err := e.cgroupOf(c)
		if err != nil {
			return nil, err
		}
		res := resources(&hc)
		res.Devices = nil
		unlimited := int64(-1)
		if r.PidsLimit != nil && *r.PidsLimit <= 0 {
			res.Pids = &specs.LinuxPids{Limit: &unlimited}
		}
		// A quota of -1 (or 0 with no --cpus) takes the limit off,
		// which resources leaves out for a new container.
		if r.CPUQuota < 0 && hc.NanoCPUs == 0 {
			if res.CPU == nil {
				res.CPU = &specs.LinuxCPU{}
			}
			res.CPU.Quota = &unlimited
		}
		if err := m.Set(res); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Cannot update container %s: %v", c.ID, err))
		}
	}
	c.HostConfig = &hc
	e.saveLogged(c)
	e.publish(c, mevents.ActionUpdate, nil)
	return []string{}, nil
}

// oomKilled tells whether the kernel's OOM killer killed a process of the
// container's cgroup; read at exit, before the runtime removes the cgroup.
func (e *Engine) oomKilled(c *Container) bool {
	m, err := cgroups.New(cgroupPath(c), c.ID)
	if err != nil {
		return false
	}
	dir := m.Path("memory")
	if dir == "" {
		return false
	}
	// Only the OOM kill count, not the whole Stats (some 40 files): this
	// is on the exit path every run --rm waits for. cgroup v1 keeps it in
	// memory.oom_control, v2 in memory.events.
	for _, name := range []string{"memory.oom_control", "memory.events"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, " "); ok && k == "oom_kill" {
				n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				return n > 0
			}
		}
	}
	return false
}

// watchOOM publishes an "oom" event each time c's memory cgroup hits its
// limit, for a container with --oom-kill-disable (cgroup v1's OOM
// notification, as containerd reports it to dockerd): such a container
// does not die of it, so its exit cannot tell. An OOM kill is reported at
// the exit (oomKilled). The watch ends when the cgroup goes (the kernel
// notifies that too). c.mu held.
func (e *Engine) watchOOM(c *Container) {
	if c.HostConfig.OomKillDisable == nil || !*c.HostConfig.OomKillDisable {
		return
	}
	m, err := cgroups.New(cgroupPath(c), c.ID)
	if err != nil {
		return
	}
	dir := m.Path("memory")
	if dir == "" {
		return
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return
	}
	ofd, err := unix.Open(filepath.Join(dir, "memory.oom_control"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(efd)
		return // cgroup v2: no such notification
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.event_control"), []byte(fmt.Sprintf("%d %d", efd, ofd)), 0); err != nil {
		unix.Close(efd)
		unix.Close(ofd)
		slog.Warn("watch the OOM notifications of a container", "id", c.ID, "err", err)
		return
	}
	go func() {
		defer unix.Close(efd)
		defer unix.Close(ofd)
		buf := make([]byte, 8)
		for {
			if _, err := unix.Read(efd, buf); err != nil && err != unix.EINTR {
				return
			}
			// The removal of the cgroup is notified as well.
			if _, err := os.Stat(filepath.Join(dir, "memory.oom_control")); err != nil {
				return
			}
			e.publish(c, mevents.ActionOOM, nil)
		}
	}()
}
