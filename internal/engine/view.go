package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/storage"
)

func timeString(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Inspect returns docker's inspect view of a container.
func (e *Engine) Inspect(ref string) (container.InspectResponse, error) {
	c, err := e.Get(ref)
	if err != nil {
		return container.InspectResponse{}, err
	}
	execs := c.ExecIDs()
	s := c.Snapshot()
	dir := e.dir(s.ID)
	st := &container.State{
		Status: s.State.Status,
		// dockerd's restarting container is running too (State.Running
		// and Restarting), between its runs.
		Running:    s.State.Running || s.State.Restarting,
		Paused:     s.State.Paused,
		Restarting: s.State.Restarting,
		OOMKilled:  s.State.OOMKilled,
		Dead:       s.State.Dead,
		Pid:        s.State.Pid,
		ExitCode:   s.State.ExitCode,
		Error:      s.State.Error,
		StartedAt:  timeString(s.State.StartedAt),
		FinishedAt: timeString(s.State.FinishedAt),
		Health:     s.State.Health,
	}
	nets, ports := networkSettings(s)
	hc := s.HostConfig
	if hc != nil && hc.Runtime == "" && s.Runtime != "" {
		// dockerd records the default runtime a container got at create.
		cp := *hc
		cp.Runtime = s.Runtime
		hc = &cp
	}
	sandbox := ""
	if s.NetNS != "" {
		sandbox = s.NetNS
	}
	cfg := s.Config
	if cfg != nil && cfg.Hostname == "" {
		// dockerd fills in the hostname the container gets: its short
		// ID, or the host's with --network host or --uts host.
		cp := *cfg
		cp.Hostname = containerHostname(s)
		cfg = &cp
	}
	return container.InspectResponse{
		ID:             s.ID,
		Created:        timeString(s.Created),
		Path:           s.Path,
		Args:           s.Args,
		State:          st,
		Image:          s.ImageID,
		ResolvConfPath: dir + "/resolv.conf",
		HostnamePath:   dir + "/hostname",
		HostsPath:      dir + "/hosts",
		LogPath:        s.LogPath,
		Name:           s.Name,
		RestartCount:   s.RestartCount,
		Driver:         "overlay2",
		Platform:       "linux",
		ExecIDs:        execs,
		HostConfig:     hc,
		GraphDriver:    &storage.DriverData{Name: "overlay2", Data: e.graphDriverData(s.ID, dir)},
		Mounts:         mountPointsOf(s, e.cfg.Volumes),
		Config:         cfg,
		NetworkSettings: &container.NetworkSettings{
			SandboxKey: sandbox,
			Networks:   nets,
			Ports:      ports,
		},
	}, nil
}

// Summary returns docker's list view of c.
func (c *Container) Summary() container.Summary {
	s := c.Snapshot()
	out := container.Summary{
		ID:      s.ID,
		Names:   []string{s.Name},
		Image:   s.Config.Image,
		ImageID: s.ImageID,
		Command: commandLine(s.Path, s.Args),
		Created: s.Created.Unix(),
		Ports:   []container.PortSummary{},
		Labels:  s.Config.Labels,
		State:   s.State.Status,
		Status:  statusText(s.State, time.Now()),
		Mounts:  mountPointsOf(s, nil),
	}
	if s.State.Health != nil {
		out.Health = &container.HealthSummary{Status: s.State.Health.Status, FailingStreak: s.State.Health.FailingStreak}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.HostConfig.NetworkMode = string(s.HostConfig.NetworkMode)
	out.HostConfig.Annotations = s.HostConfig.Annotations
	nets, ports := networkSettings(s)
	out.NetworkSettings = &container.NetworkSettingsSummary{Networks: nets}
	for p, bs := range ports {
		for _, b := range bs {
			hp, _ := strconv.Atoi(b.HostPort)
			out.Ports = append(out.Ports, container.PortSummary{IP: b.HostIP, PrivatePort: p.Num(), PublicPort: uint16(hp), Type: string(p.Proto())})
		}
		if len(bs) == 0 {
			out.Ports = append(out.Ports, container.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
		}
	}
	return out
}

// statusText is docker's human status ("Up 3 seconds", "Exited (0) 2
// minutes ago", "Created").
func statusText(s State, now time.Time) string {
	switch {
	case s.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, humanDuration(now.Sub(s.FinishedAt)))
	case s.Running:
		up := "Up " + humanDuration(now.Sub(s.StartedAt))
		switch h := s.Health; {
		case s.Paused:
			up += " (Paused)"
		case h == nil || h.Status == "" || h.Status == "none":
		case h.Status == container.Starting:
			up += " (health: starting)" // as dockerd words it
		default:
			up += " (" + string(h.Status) + ")"
		}
		return up
	case s.Status == container.StateRemoving:
		return "Removal In Progress"
	case s.Dead:
		return "Dead"
	case s.StartedAt.IsZero():
		return "Created"
	case s.FinishedAt.IsZero():
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, humanDuration(now.Sub(s.FinishedAt)))
}

// humanDuration is docker's go-units HumanDuration.
func humanDuration(d time.Duration) string {
	if seconds := int(d.Seconds()); seconds < 1 {
		return "Less than a second"
	} else if seconds == 1 {
		return "1 second"
	} else if seconds < 60 {
		return fmt.Sprintf("%d seconds", seconds)
	} else if minutes := int(d.Minutes()); minutes == 1 {
		return "About a minute"
	} else if minutes < 60 {
		return fmt.Sprintf("%d minutes", minutes)
	} else if hours := int(d.Hours() + 0.5); hours == 1 {
		return "About an hour"
	} else if hours < 48 {
		return fmt.Sprintf("%d hours", hours)
	} else if hours < 24*7*2 {
		return fmt.Sprintf("%d days", hours/24)
	} else if hours < 24*30*2 {
		return fmt.Sprintf("%d weeks", hours/24/7)
	} else if hours < 24*365*2 {
		return fmt.Sprintf("%d months", hours/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}

// commandLine is the COMMAND of docker's list: the path, then the
// arguments, those with a space in single quotes (dockerd quotes no
// further: a quote inside an argument stays as it is).
func commandLine(path string, args []string) string {
	if len(args) == 0 {
		return path
	}
	var b strings.Builder
	b.WriteString(path)
	for _, a := range args {
		b.WriteByte(' ')
		if strings.Contains(a, " ") {
			b.WriteString("'" + a + "'")
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// graphDriverData is inspect's GraphDriver.Data of container id, as
// dockerd's overlay2 shows it: the merged root (mounted while it runs),
// and the overlay's upper, work and lower directories (":"-separated,
// topmost first).
func (e *Engine) graphDriverData(id, dir string) map[string]string {
	data := map[string]string{"MergedDir": dir + "/rootfs"}
	if e.cfg.Images == nil {
		return data
	}
	mounts, err := e.cfg.Images.Mounts(context.Background(), id)
	if err != nil || len(mounts) != 1 || mounts[0].Type != "overlay" {
		return data
	}
	for _, o := range mounts[0].Options {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "upperdir":
			data["UpperDir"] = v
		case "workdir":
			data["WorkDir"] = v
		case "lowerdir":
			data["LowerDir"] = v
		}
	}
	return data
}
