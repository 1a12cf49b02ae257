package engine

import (
	"bytes"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// berth runs the berth CLI against d and returns stdout, stderr and the
// error.
func (d *daemon) berth(t testing.TB, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"-H", d.Host}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

var imageIDLine = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

// TestCommit: docker commit and berth commit make an image of the
// container's changes with -c, -a and -m applied; the new image runs and
// sees the file; a running container is paused while its diff is taken
// (pause and unpause events around commit) unless -p=false, and keeps
// running; bad input gets docker's status codes.
func TestCommit(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "--name", "src", "busybox", "sh", "-c", "echo committed-content > /f; rm /etc/group")

	id := d.mustDocker(t, "commit", "-c", `CMD ["cat","/f"]`, "-c", "ENV FOO=bar", "-m", "the message", "-a", "Ann <ann@example.org>", "src", "committed:1")
	if !imageIDLine.MatchString(id) {
		t.Fatalf("docker commit printed %q, want the image ID", id)
	}
	if out := d.mustDocker(t, "run", "--rm", "committed:1"); out != "committed-content\n" {
		t.Fatalf("run of the committed image: %q, want the file's content", out)
	}
	if out := d.mustDocker(t, "run", "--rm", "committed:1", "sh", "-c", "echo $FOO; test -e /etc/group || echo no-group"); out != "bar\nno-group\n" {
		t.Fatalf("committed env and deletion: %q", out)
	}
	got := d.mustDocker(t, "image", "inspect", "-f", "{{.ID}}|{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}", "committed:1")
	if want := strings.TrimSpace(id) + `|Ann <ann@example.org>|the message|["cat","/f"]` + "\n"; got != want {
		t.Errorf("image inspect = %q, want %q", got, want)
	}
	if hist := d.mustDocker(t, "history", "--no-trunc", "--format", "{{.Comment}}|{{.CreatedBy}}", "committed:1"); !strings.HasPrefix(hist, "the message|sh -c echo committed-content > /f; rm /etc/group\n") {
		t.Errorf("history's top entry: %q", hist)
	}

	// The container's healthcheck goes into the image, as dockerd writes
	// the container's config.
	d.mustDocker(t, "run", "--name", "hc", "--health-cmd", "true", "--health-interval", "2s", "busybox", "true")
	d.mustDocker(t, "commit", "hc", "committed:hc")
	if got := d.mustDocker(t, "image", "inspect", "-f", "{{json .Config.Healthcheck}}", "committed:hc"); got != `{"Test":["CMD-SHELL","true"],"Interval":2000000000}`+"\n" {
		t.Errorf("committed healthcheck = %q", got)
	}

	// The files the engine mounts over /etc are not the container's
	// changes (dockerd keeps them in an init layer).
	d.mustDocker(t, "run", "--name", "noop", "busybox", "true")
	if diff := d.mustDocker(t, "diff", "noop"); diff != "" {
		t.Errorf("diff of a container that changed nothing: %q", diff)
	}
	if diff := d.mustDocker(t, "diff", "src"); diff != "C /etc\nD /etc/group\nA /f\n" {
		t.Errorf("diff of src: %q", diff)
	}

	// The berth CLI: no reference gives a dangling image, printed the same
	// way.
	bid, errOut, err := d.berth(t, "commit", "--change", "WORKDIR /tmp", "src")
	if err != nil || !imageIDLine.MatchString(bid) {
		t.Fatalf("berth commit: %v %q %s", err, bid, errOut)
	}
	if out := d.mustDocker(t, "run", "--rm", strings.TrimSpace(bid), "sh", "-c", "pwd; cat /f"); out != "/tmp\ncommitted-content\n" {
		t.Fatalf("run of berth's committed image: %q", out)
	}
	if out, errOut, err := d.berth(t, "commit", "src", "bcommit:2"); err != nil || !imageIDLine.MatchString(out) {
		t.Fatalf("berth commit with a reference: %v %q %s", err, out, errOut)
	}
	if out := d.mustDocker(t, "run", "--rm", "bcommit:2", "cat", "/f"); out != "committed-content\n" {
		t.Fatalf("run of bcommit:2: %q", out)
	}

	// A running container: paused during the commit, running after it.
	d.mustDocker(t, "run", "-d", "--name", "live", "busybox", "sh", "-c", "echo live > /g; sleep 300")
	waitFor(t, "the running container's write", func() bool {
		out, _, _ := d.docker(t, "exec", "live", "cat", "/g")
		return out == "live\n"
	})
	since := time.Now().Add(-time.Second).Unix()
	d.mustDocker(t, "commit", "live", "live:1")
	d.mustDocker(t, "commit", "-p=false", "live", "live:2")
	until := time.Now().Add(time.Second).Unix()
	if st := d.mustDocker(t, "inspect", "-f", "{{.State.Status}}", "live"); st != "running\n" {
		t.Errorf("after commit the container is %q, want running", st)
	}
	ev := d.mustDocker(t, "events", "--since", itoa(since), "--until", itoa(until), "--filter", "container=live", "--format", "{{.Action}} {{index .Actor.Attributes \"imageRef\"}}")
	if i := strings.Index(ev, "pause \n"); i >= 0 {
		ev = ev[i:] // --since has a resolution of seconds: drop the run's events
	}
	if want := "pause \ncommit live:1\nunpause \ncommit live:2\n"; ev != want {
		t.Errorf("events of the commits = %q, want %q", ev, want)
	}
	for _, ref := range []string{"live:1", "live:2"} {
		if out := d.mustDocker(t, "run", "--rm", ref, "cat", "/g"); out != "live\n" {
			t.Errorf("run of %s: %q", ref, out)
		}
	}

	// Bad input.
	if _, errOut, err := d.docker(t, "commit", "nosuch"); exitCode(err) != 1 || !strings.Contains(errOut, "No such container: nosuch") {
		t.Errorf("commit of an unknown container: exit %d, %q", exitCode(err), errOut)
	}
	if _, errOut, err := d.docker(t, "commit", "-c", "FROBNICATE x", "src"); exitCode(err) != 1 || !strings.Contains(errOut, "FROBNICATE") {
		t.Errorf("commit with a bad change: exit %d, %q", exitCode(err), errOut)
	}
	for _, tc := range []struct {
		path, body string
		code       int
		msg        string
	}{
		{"/commit?container=nosuch", "", 404, "No such container: nosuch"},
		{"/commit?container=src&repo=Bad%20Name", "", 400, "invalid reference format"},
		{"/commit?container=src&changes=FROBNICATE%20x", "", 400, "FROBNICATE"},
		{"/commit?container=src", "{not json", 400, "invalid JSON"},
		{"/commit?container=nosuch", "{not json", 400, "invalid JSON"}, // the body first, as dockerd
		{"/commit?container=src", `{"Cmd":["true"]} {}`, 400, "unexpected content after JSON"},
		{"/commit?container=src", `{"Cmd":["cat","/f"],"Env":["A=1"]}`, 201, `"Id":"sha256:`},
	} {
		code, body := rawRequest(t, d, "POST", tc.path, "application/json", tc.body)
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("POST %s: %d %s, want %d with %q", tc.path, code, body, tc.code, tc.msg)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestForceRemoveImageOfStoppedContainer: rmi -f of an image only a
// stopped container uses deletes it, as dockerd's; the container still
// starts (its layers stay with it), and nothing is left once it is
// removed. With a running container the image only loses its name.
func TestForceRemoveImageOfStoppedContainer(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "--name", "base", "busybox", "sh", "-c", "echo from-image > /img")
	d.mustDocker(t, "commit", "base", "rf:1")
	d.mustDocker(t, "rm", "base")
	d.mustDocker(t, "create", "--name", "rfc", "rf:1", "cat", "/img")
	out := d.mustDocker(t, "rmi", "-f", "rf:1")
	if !strings.Contains(out, "Untagged: rf:1\n") || !strings.Contains(out, "Deleted: sha256:") {
		t.Errorf("rmi -f of an image a stopped container uses: %q, want Untagged and Deleted", out)
	}
	if got := d.mustDocker(t, "images", "-aq", "--filter", "dangling=true"); got != "" {
		t.Errorf("dangling images after rmi -f: %q", got)
	}
	if got := d.mustDocker(t, "start", "-a", "rfc"); got != "from-image\n" {
		t.Errorf("the container after its image was removed: %q", got)
	}
	d.mustDocker(t, "rm", "rfc")
	if got := d.mustDocker(t, "images", "-aq"); strings.Count(got, "\n") != 1 {
		t.Errorf("images after the container went: %q, want busybox only", got)
	}
	// A running container keeps the image, nameless.
	d.mustDocker(t, "tag", "busybox", "rr:1")
	d.mustDocker(t, "run", "-d", "--name", "rrc", "rr:1", "sleep", "300")
	// By ID, with two names and a running user: the running user is
	// what dockerd names first.
	bbID := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "rr:1"))
	if _, errOut, err := d.docker(t, "rmi", bbID[7:19]); err == nil || !strings.Contains(errOut, "(cannot be forced) - image is being used by running container") {
		t.Errorf("rmi by ID of a tagged-twice image a running container uses: %v %q", err, errOut)
	}
	d.mustDocker(t, "rmi", "-f", "busybox")
	if out := d.mustDocker(t, "rmi", "-f", "rr:1"); out != "Untagged: rr:1\n" {
		t.Errorf("rmi -f of an image a running container uses: %q, want only Untagged", out)
	}
	if got := d.mustDocker(t, "exec", "rrc", "true"); got != "" {
		t.Errorf("exec after rmi -f: %q", got)
	}
}
