package engine

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestLogRotationCompressAndLocal: json-file with compress=true keeps its
// rotated files gzipped and logs reads them all, in order; a file never
// grows above max-size; the local driver works as docker's (rotated,
// compressed) for docker logs.
func TestLogRotationCompressAndLocal(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "--name", "zl", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "--log-opt", "compress=true",
		"busybox", "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done")
	path := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.LogPath}}", "zl"))
	waitFor(t, "the rotated files gzipped", func() bool {
		_, e1 := os.Stat(path + ".1.gz")
		_, e2 := os.Stat(path + ".2.gz")
		_, e3 := os.Stat(path + ".1")
		return e1 == nil && e2 == nil && os.IsNotExist(e3)
	})
	for _, p := range []string{path, path + ".1.gz"} {
		if st, err := os.Stat(p); err != nil || st.Size() > 2048 {
			t.Errorf("%s: %v, size above max-size 2k", p, err)
		}
	}
	lines := strings.Split(strings.TrimSpace(d.mustDocker(t, "logs", "zl")), "\n")
	if len(lines) < 40 || lines[len(lines)-1] != "line-199" {
		t.Fatalf("logs of a compressed rotation: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	var first int
	if _, err := fmt.Sscanf(lines[0], "line-%d", &first); err != nil {
		t.Fatalf("first line %q", lines[0])
	}
	for i, l := range lines {
		if want := fmt.Sprintf("line-%d", first+i); l != want {
			t.Fatalf("line %d is %q, want %q: a gap", i, l, want)
		}
	}
	out := d.mustDocker(t, "run", "--name", "local", "--log-driver", "local", "busybox", "sh", "-c", "echo one; echo two >&2")
	if out != "one\n" {
		t.Errorf("run --log-driver local: %q", out)
	}
	if got, errOut, err := d.docker(t, "logs", "local"); err != nil || got != "one\n" || errOut != "two\n" {
		t.Errorf("logs of a local-driver container: %v %q %q", err, got, errOut)
	}
	if _, errOut, err := d.docker(t, "run", "--rm", "--log-driver", "syslog", "busybox", "true"); err == nil || !strings.Contains(errOut, `logging driver "syslog" is not supported`) {
		t.Errorf("--log-driver syslog: %v %q", err, errOut)
	}
}

// TestLogsTailThenUntilAndNone: --tail takes the last lines of the log
// first, then --until filters them, as dockerd's json-file reader; the
// logs of a container with --log-driver none are 501 (Compose skips such
// a service and goes on with the others).
func TestLogsTailThenUntilAndNone(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "--name", "lt", "busybox", "sh", "-c", "echo a; echo b; sleep 1.5; echo c; echo d")
	stamps := strings.Fields(d.mustDocker(t, "logs", "-t", "lt"))
	if len(stamps) != 8 {
		t.Fatalf("logs -t: %q", stamps)
	}
	tb, err := time.Parse(time.RFC3339Nano, stamps[2])
	if err != nil {
		t.Fatal(err)
	}
	until := tb.Add(500 * time.Millisecond).Format(time.RFC3339Nano)
	for tail, want := range map[string]string{"2": "", "3": "b\n", "all": "a\nb\n"} {
		if out := d.mustDocker(t, "logs", "--tail", tail, "--until", until, "lt"); out != want {
			t.Errorf("logs --tail %s --until (between b and c): %q, want %q", tail, out, want)
		}
	}
	// The labels and env log-opts put attributes on every entry, which
	// logs --details shows first, as dockerd's json-file.
	d.mustDocker(t, "run", "--name", "la", "--label", "foo=bar", "--label", "other=x", "-e", "baz=qux", "--log-opt", "labels=foo", "--log-opt", "env=baz", "busybox", "echo", "hello")
	if got := d.mustDocker(t, "logs", "--details", "la"); got != "baz=qux,foo=bar hello\n" {
		t.Errorf("logs --details: %q, want %q", got, "baz=qux,foo=bar hello\n")
	}
	if got := d.mustDocker(t, "logs", "--details", "lt"); !strings.HasPrefix(got, " a\n") {
		t.Errorf("logs --details without attributes: %q, want a leading space", got)
	}
	// until=0 is no limit, as dockerd reads it.
	if code, body := rawRequest(t, d, "GET", "/v1.51/containers/lt/logs?stdout=1&until=0", "", ""); code != 200 || !strings.Contains(body, "d\n") {
		t.Errorf("logs with until=0: %d %q, want every line", code, body)
	}
	d.mustDocker(t, "run", "-d", "--name", "nolog", "--log-driver", "none", "busybox", "sleep", "300")
	if code, body := rawRequest(t, d, "GET", "/v1.47/containers/nolog/logs?stdout=1", "", ""); code != 501 || !strings.Contains(body, "does not support reading") {
		t.Errorf("logs of a --log-driver none container: %d %s, want 501", code, body)
	}
}
