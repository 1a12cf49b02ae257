package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"

	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/shim"
)

// docker's healthcheck defaults.
const (
	defaultProbeInterval = 30 * time.Second
	defaultProbeTimeout  = 30 * time.Second
	defaultStartInterval = 5 * time.Second
	defaultProbeRetries  = 3
	maxHealthLog         = 5
	maxProbeOutput       = 4096
)

// imageHealthcheck reads the HEALTHCHECK of docker image configs, which
// the OCI config type does not carry.
func imageHealthcheck(img image.Image) *container.HealthConfig {
	var raw struct {
		Config struct {
			Healthcheck *container.HealthConfig
		} `json:"config"`
	}
	if len(img.ConfigRaw) == 0 || json.Unmarshal(img.ConfigRaw, &raw) != nil {
		return nil
	}
	return raw.Config.Healthcheck
}

// mergeHealthcheck fills what the request's healthcheck leaves empty from
// the image's, as dockerd does.
func mergeHealthcheck(req, img *container.HealthConfig) *container.HealthConfig {
	if req == nil {
		return img
	}
	if img == nil {
		return req
	}
	out := *req
	if len(out.Test) == 0 {
		out.Test = img.Test
	}
	if out.Interval == 0 {
		out.Interval = img.Interval
	}
	if out.Timeout == 0 {
		out.Timeout = img.Timeout
	}
	if out.StartPeriod == 0 {
		out.StartPeriod = img.StartPeriod
	}
	if out.StartInterval == 0 {
		out.StartInterval = img.StartInterval
	}
	if out.Retries == 0 {
		out.Retries = img.Retries
	}
	return &out
}

// probeArgs is the probe's command line, nil when there is no check.
func probeArgs(hc *container.HealthConfig) []string {
	if hc == nil || len(hc.Test) == 0 {
		return nil
	}
	switch hc.Test[0] {
	case "CMD":
		if len(hc.Test) > 1 {
			return hc.Test[1:]
		}
	case "CMD-SHELL":
		if len(hc.Test) > 1 {
			return []string{"/bin/sh", "-c", hc.Test[1]}
		}
	}
	return nil
}

// startHealth runs the container's healthcheck until ctx ends (the run
// ends); c.mu held.
func (e *Engine) startHealth(c *Container, client *shim.Client) {
	hc := c.Config.Healthcheck
	args := probeArgs(hc)
	if args == nil {
		c.State.Health = nil
		return
	}
	if c.State.Health == nil {
		c.State.Health = &container.Health{Status: container.Starting, Log: []*container.HealthcheckResult{}}
	}
	ctx, cancel := context.WithCancel(e.ctx)
	c.healthCancel = cancel
	interval, timeout, retries := hc.Interval, hc.Timeout, hc.Retries
	if interval == 0 {
		interval = defaultProbeInterval
	}
	if timeout == 0 {
		timeout = defaultProbeTimeout
	}
	if retries == 0 {
		retries = defaultProbeRetries
	}
	startInterval := hc.StartInterval
	if startInterval == 0 {
		startInterval = defaultStartInterval
	}
	started := time.Now()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			// The start interval applies in the start period while the
			// container is still starting, as dockerd: once healthy (or
			// unhealthy) it is probed at the interval.
			wait := interval
			if time.Since(started) < hc.StartPeriod && hc.StartInterval > 0 {
				c.mu.Lock()
				starting := c.State.Health == nil || c.State.Health.Status == container.Starting
				c.mu.Unlock()
				if starting {
					wait = startInterval
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			// A random ID as docker's: the shim outlives the daemon and
			// remembers the IDs of recent execs, so a counter restarted
			// with the daemon would collide with them.
			res := e.probe(ctx, c, client, newID(), args, timeout)
			if ctx.Err() != nil {
				return
			}
			e.recordProbe(c, res, retries, time.Since(started) < hc.StartPeriod)
		}
	}()
}

// probe runs one check as an exec and returns its result.
func (e *Engine) probe(ctx context.Context, c *Container, client *shim.Client, id string, args []string, timeout time.Duration) *container.HealthcheckResult {
	res := &container.HealthcheckResult{Start: time.Now()}
	c.mu.Lock()
	p, err := e.execProcess(c, container.ExecCreateRequest{Cmd: args})
	c.mu.Unlock()
	if err != nil {
		res.End, res.ExitCode, res.Output = time.Now(), -1, err.Error()
		return res
	}
	// A probe is an exec, with the events dockerd logs for one.
	attrs := map[string]string{"execID": id}
	e.publish(c, execAction("exec_create", args), attrs)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stream, err := client.Exec(pctx, shim.ExecConfig{ID: id, Process: p})
	if err != nil {
		res.End, res.ExitCode, res.Output = time.Now(), -1, err.Error()
		return res
	}
	e.publish(c, execAction("exec_start", args), attrs)
	defer func() {
		e.publish(c, mevents.ActionExecDie, map[string]string{"execID": id, "exitCode": strconv.Itoa(res.ExitCode)})
	}()
	defer stream.Close()
	_ = stream.CloseStdin()
	var out limitedBuffer
	done := make(chan *shim.Exit, 1)
	go func() {
		ex, _ := stream.Demux(&out, &out)
		done <- ex
	}()
	select {
	case ex := <-done:
		res.ExitCode = -1
		if ex != nil {
			res.ExitCode = ex.Code
		}
	case <-pctx.Done():
		_ = client.KillExec(context.WithoutCancel(ctx), id, 9)
		res.ExitCode = -1
		// What the probe wrote before it was killed goes with the
		// message, as dockerd's; the output is read once the stream
		// has ended (or given up on).
		partial := ""
		select {
		case <-done:
			partial = out.String()
		case <-time.After(5 * time.Second):
		}
		res.End = time.Now()
		res.Output = fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
		if partial != "" {
			res.Output += ": " + partial
		}
		return res
	}
	res.End = time.Now()
	res.Output = out.String()
	return res
}

func (e *Engine) recordProbe(c *Container, res *container.HealthcheckResult, retries int, inStartPeriod bool) {
	c.mu.Lock()
	h := c.State.Health
	if h == nil || !c.State.Running {
		c.mu.Unlock()
		return
	}
	old := h.Status
	if res.ExitCode == 0 {
		h.Status, h.FailingStreak = container.Healthy, 0
	} else if !inStartPeriod || old != container.Starting {
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = container.Unhealthy
		}
	}
	h.Log = append(h.Log, res)
	if len(h.Log) > maxHealthLog {
		h.Log = h.Log[len(h.Log)-maxHealthLog:]
	}
	status := h.Status
	e.saveLogged(c)
	c.mu.Unlock()
	slog.Debug("health probe", "id", c.ID, "exit", res.ExitCode, "status", status)
	if status != old {
		e.publish(c, mevents.Action("health_status: "+string(status)), nil)
	}
}

// limitedBuffer keeps the first maxProbeOutput bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxProbeOutput - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
