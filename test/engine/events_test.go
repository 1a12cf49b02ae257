package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLifecycleEvents(t *testing.T) {
	d := newDaemon(t)
	since := time.Now().Unix()
	d.mustDocker(t, "run", "-d", "--name", "ev", "busybox", "sleep", "300")
	d.mustDocker(t, "pause", "ev")
	d.mustDocker(t, "unpause", "ev")
	d.mustDocker(t, "exec", "ev", "true")
	d.mustDocker(t, "rename", "ev", "ev2")
	d.mustDocker(t, "stop", "-t", "1", "ev2")
	d.mustDocker(t, "rm", "ev2")
	until := time.Now().Unix() + 1
	out := d.mustDocker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until),
		"--filter", "type=container", "--format", "{{.Action}}")
	var got []string
	for _, a := range strings.Fields(strings.ReplaceAll(out, ": ", ":")) {
		got = append(got, strings.SplitN(a, ":", 2)[0])
	}
	// sleep as PID 1 ignores SIGTERM: stop sends 15, then 9 after the timeout.
	want := "create start pause unpause exec_create exec_start exec_die rename kill kill die stop destroy"
	if strings.Join(got, " ") != want {
		t.Fatalf("events:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	out = d.mustDocker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until),
		"--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}} {{.Actor.Attributes.name}}")
	if strings.TrimSpace(out) != "137 ev2" {
		t.Fatalf("die event: %q", out)
	}
}

func TestHealthcheck(t *testing.T) {
	d := newDaemon(t)
	since := time.Now().Unix()
	d.mustDocker(t, "run", "-d", "--name", "hc", "--health-cmd", "cat /tmp/ok", "--health-interval", "200ms",
		"--health-retries", "2", "busybox", "sh", "-c", "sleep 1.5; echo fine > /tmp/ok; sleep 300")
	health := func() string {
		return strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Health.Status}}", "hc"))
	}
	waitFor(t, "unhealthy", func() bool { return health() == "unhealthy" })
	waitFor(t, "healthy", func() bool { return health() == "healthy" })
	if ps := d.mustDocker(t, "ps", "--format", "{{.Status}}"); !strings.Contains(ps, "(healthy)") {
		t.Fatalf("ps status %q lacks (healthy)", ps)
	}
	if out := d.mustDocker(t, "inspect", "-f", "{{(index .State.Health.Log 0).Output}}", "hc"); !strings.Contains(out, "No such file") {
		t.Fatalf("first probe output %q", out)
	}
	out := d.mustDocker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(time.Now().Unix()+1),
		"--filter", "container=hc", "--format", "{{.Action}}")
	var statuses []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "health_status: ") {
			statuses = append(statuses, l)
		}
	}
	if !strings.Contains(strings.Join(statuses, "\n"), "health_status: unhealthy\nhealth_status: healthy") {
		t.Fatalf("health events: %q", out)
	}
	// Each probe is an exec, with dockerd's events for one.
	for _, want := range []string{"exec_create: /bin/sh -c cat /tmp/ok\n", "exec_start: /bin/sh -c cat /tmp/ok\n", "exec_die\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("health probe events lack %q:\n%s", want, out)
		}
	}
	// A probe that times out: the message and what it wrote before.
	d.mustDocker(t, "run", "-d", "--name", "hto", "--health-cmd", "echo partial; sleep 5", "--health-interval", "300ms",
		"--health-timeout", "300ms", "busybox", "sleep", "300")
	var last string
	waitFor(t, "a probe that timed out", func() bool {
		last = d.mustDocker(t, "inspect", "-f", "{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}|{{end}}", "hto")
		return strings.Contains(last, "Health check exceeded timeout")
	})
	if !strings.Contains(last, "-1 Health check exceeded timeout (300ms): partial") {
		t.Errorf("timed-out probe: %q, want its message with the output so far", last)
	}
	// An image's HEALTHCHECK NONE and --no-healthcheck: no Health.
	d.mustDocker(t, "run", "-d", "--name", "nohc", "--no-healthcheck", "busybox", "sleep", "300")
	if out := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Health}}", "nohc")); out != "<nil>" {
		t.Fatalf("--no-healthcheck: Health %q", out)
	}
}

// TestHealthStartInterval: in the start period a container is probed at
// --health-start-interval only while it is starting; once healthy, at
// --health-interval, as dockerd.
func TestHealthStartInterval(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "hsi", "--health-cmd", "true", "--health-interval", "1h",
		"--health-start-period", "1h", "--health-start-interval", "100ms", "busybox", "sleep", "300")
	waitFor(t, "healthy", func() bool {
		return strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Health.Status}}", "hsi")) == "healthy"
	})
	count := func() int {
		return len(strings.Fields(d.mustDocker(t, "inspect", "-f", "{{range .State.Health.Log}}x {{end}}", "hsi")))
	}
	before := count()
	time.Sleep(time.Second)
	if after := count(); after > before+1 {
		t.Errorf("probes after healthy, in 1 s: %d (from %d to %d), want at most one more (the interval is 1h)", after-before, before, after)
	}
}

// TestExecWhileRestarting: an exec into a container that waits to be
// restarted gets dockerd's answer.
func TestExecWhileRestarting(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "rs", "--restart", "always", "busybox", "false")
	waitFor(t, "exec refused as restarting", func() bool {
		_, errOut, err := d.docker(t, "exec", "rs", "true")
		return err != nil && strings.Contains(errOut, "is restarting, wait until the container is running")
	})
}

// TestImageEventAttributes: image events carry the image's labels (so
// --filter label= works on them) and a load names the image by ID, as
// dockerd's LogImageEvent.
func TestImageEventAttributes(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "create", "--name", "lsrc", "busybox")
	since := time.Now().Unix()
	d.mustDocker(t, "commit", "-c", "LABEL io.test=image", "lsrc", "labelled:1")
	id := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "labelled:1"))
	d.mustDocker(t, "tag", "labelled:1", "labelled:2")
	tar := t.TempDir() + "/l.tar"
	d.mustDocker(t, "save", "-o", tar, "labelled:2")
	d.mustDocker(t, "rmi", "labelled:1", "labelled:2")
	d.mustDocker(t, "load", "-i", tar)
	until := time.Now().Unix() + 1
	out := d.mustDocker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until),
		"--filter", "type=image", "--filter", "label=io.test=image", "--format", "{{.Action}}")
	for _, want := range []string{"tag", "save", "load"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("image events with the image's label lack %s:\n%s", want, out)
		}
	}
	out = d.mustDocker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until),
		"--filter", "type=image", "--filter", "event=load", "--format", "{{.Actor.ID}}")
	if out != id+"\n" {
		t.Errorf("load event: %q, want one, by the image ID %s", out, id)
	}
}

// TestResizeAndCopyEvents: resize, docker cp out of and into a container
// log resize, archive-path and extract-to-dir, as dockerd's.
func TestResizeAndCopyEvents(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "-t", "--name", "rc", "busybox", "sleep", "300")
	since := time.Now().Unix()
	if code, body := rawRequest(t, d, "POST", "/v1.51/containers/rc/resize?h=30&w=100", "", ""); code != 200 {
		t.Fatalf("resize: %d %s", code, body)
	}
	dir := t.TempDir()
	d.mustDocker(t, "cp", "rc:/etc/group", dir)
	d.mustDocker(t, "cp", dir+"/group", "rc:/tmp/")
	until := time.Now().Unix() + 1
	out := d.mustDocker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until),
		"--filter", "container=rc", "--format", `{{.Action}} {{index .Actor.Attributes "path"}}{{index .Actor.Attributes "height"}}x{{index .Actor.Attributes "width"}}`)
	for _, want := range []string{"resize 30x100\n", "archive-path /etc/groupx\n", "extract-to-dir /tmp/x\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("events lack %q:\n%s", want, out)
		}
	}
}
