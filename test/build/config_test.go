package build

import (
	"strings"
	"testing"
	"time"
)

// TestDockerBuildConfigFieldsAndCache: through the docker CLI, a built
// image's HEALTHCHECK, SHELL and ONBUILD show in docker inspect, a
// container from it gets its healthcheck, a build FROM it runs the
// triggers with its shell; docker images hides the step images; system
// df -v lists the build cache.
func TestDockerBuildConfigFieldsAndCache(t *testing.T) {
	d := newDaemon(t)
	ctx := writeFiles(t, map[string]string{"Dockerfile": `FROM busybox
ENV A=1
HEALTHCHECK --interval=1s --timeout=5s --retries=2 CMD test -e /tmp
SHELL ["/bin/sh", "-c", "echo \"ran: $1\" >> /shell.log; eval \"$1\"", "logsh"]
ONBUILD RUN echo trig > /trig
RUN echo parent > /parent
`})
	if out, errOut, err := d.docker(t, ctx, "", "build", "-t", "hc:1", "."); err != nil {
		t.Fatalf("docker build: %v\n%s\n%s", err, out, errOut)
	}
	out, errOut, err := d.docker(t, "", "", "image", "inspect", "--format", "{{json .Config.Healthcheck}}|{{json .Config.Shell}}|{{json .Config.OnBuild}}", "hc:1")
	if err != nil {
		t.Fatalf("inspect: %v %s", err, errOut)
	}
	want := `{"Test":["CMD-SHELL","test -e /tmp"],"Interval":1000000000,"Timeout":5000000000,"Retries":2}|["/bin/sh","-c","echo \"ran: $1\" >> /shell.log; eval \"$1\"","logsh"]|["RUN echo trig > /trig"]` + "\n"
	if out != want {
		t.Errorf("inspect gave\n%s want\n%s", out, want)
	}

	out, errOut, err = d.docker(t, "", "", "images", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil || out != "hc:1\nbusybox:latest\n" {
		t.Errorf("docker images: %v %s\n%q, want hc:1 and busybox only", err, errOut, out)
	}
	// -a adds the step images, nameless as docker's intermediates.
	out, errOut, err = d.docker(t, "", "", "images", "-a", "--format", "{{.Repository}}:{{.Tag}}")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); err != nil || len(lines) < 4 || strings.Count(out, "<none>:<none>\n") != len(lines)-2 {
		t.Errorf("docker images -a: %v %s\n%q, want hc:1, busybox and nameless step images", err, errOut, out)
	}
	out, errOut, err = d.docker(t, "", "", "system", "df", "-v")
	if err != nil {
		t.Fatalf("system df -v: %v %s", err, errOut)
	}
	_, cache, _ := strings.Cut(out, "Build cache usage:")
	if n := strings.Count(cache, " regular "); n != 5 {
		t.Errorf("system df -v lists %d regular build cache entries, want 5 (ENV, HEALTHCHECK, SHELL, ONBUILD, RUN):\n%s", n, out)
	}
	out, _, _ = d.docker(t, "", "", "system", "df", "--format", "{{.Type}} {{.TotalCount}}")
	if !strings.Contains(out, "Build Cache 5\n") {
		t.Errorf("system df: %q, want 5 build cache entries", out)
	}

	id, errOut, err := d.docker(t, "", "", "run", "-d", "hc:1", "sleep", "30")
	if err != nil {
		t.Fatalf("run -d hc:1: %v %s", err, errOut)
	}
	id = strings.TrimSpace(id)
	t.Cleanup(func() { d.docker(t, "", "", "rm", "-f", id) })
	status := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, _, _ = d.docker(t, "", "", "inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", id)
		if status = strings.TrimSpace(out); status == "healthy" {
			break
		}
	}
	if status != "healthy" {
		t.Errorf("container of hc:1 health %q, want healthy from the image's HEALTHCHECK", status)
	}

	child := writeFiles(t, map[string]string{"Dockerfile": "FROM hc:1\nRUN echo child > /child\n"})
	out, errOut, err = d.docker(t, child, "", "build", "-t", "child:1", ".")
	if err != nil || !strings.Contains(out, "# Executing 1 build trigger") {
		t.Fatalf("child build: %v\n%s\n%s", err, out, errOut)
	}
	out, errOut, err = d.docker(t, "", "", "run", "--rm", "child:1", "cat", "/trig", "/shell.log")
	if err != nil || out != "trig\nran: echo parent > /parent\nran: echo trig > /trig\nran: echo child > /child\n" {
		t.Errorf("child image: %v %s\n%q", err, errOut, out)
	}
}
