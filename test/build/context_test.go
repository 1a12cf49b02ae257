package build

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// postBuild sends POST /build for tag to d with body as the context tar and
// hdr as extra headers, as a client that waits for 100 Continue, and
// returns the answer's stream.
func postBuild(t *testing.T, d *daemon, tag string, hdr map[string]string, body []byte) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.Sock)
		},
		ExpectContinueTimeout: 10 * time.Second,
	}}
	req, err := http.NewRequest(http.MethodPost, "http://berth/build?t="+tag, io.NopCloser(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // streamed, as the CLIs send it
	req.Header.Set("Content-Type", "application/x-tar")
	req.Header.Set("Expect", "100-continue")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), "Successfully tagged "+tag) {
		t.Fatalf("build %s: %s: %s", tag, resp.Status, out)
	}
	return string(out)
}

func contextTar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	return buf.Bytes()
}

// A root client on the daemon's unix socket that names its context
// directory (X-Berth-Context-Dir, with its device and inode) has it read
// in place: its tar body is never asked for. With an identity that does
// not match, the daemon asks for the body (100 Continue) and builds from
// the tar, as it does for the docker CLI. The directory is left as it was.
func TestBuildContextReadInPlace(t *testing.T) {
	d := newDaemon(t)
	df := "FROM busybox\nCOPY f /f\n"
	dir := writeFiles(t, map[string]string{"Dockerfile": df, "f": "from-dir\n", ".dockerignore": "ignored\n", "ignored": "x"})
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	body := contextTar(t, map[string]string{"Dockerfile": df, "f": "from-tar\n"})

	for _, tc := range []struct {
		tag, id, want string
	}{
		{"inplace:dir", id, "from-dir\n"},
		{"inplace:wrongid", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), "from-tar\n"},
		{"inplace:noid", "", "from-tar\n"},
	} {
		postBuild(t, d, tc.tag, map[string]string{"X-Berth-Context-Dir": dir, "X-Berth-Context-Id": tc.id}, body)
		out, stderr, err := d.berth(t, "run", "--rm", tc.tag, "cat", "/f")
		if err != nil || out != tc.want {
			t.Errorf("%s: /f = %q, %v (%s); want %q", tc.tag, out, err, stderr, tc.want)
		}
	}
	// .dockerignore applies to a directory read in place as to a tar.
	if out, _, err := d.berth(t, "run", "--rm", "inplace:dir", "ls", "/"); err != nil || strings.Contains(out, "ignored") {
		t.Errorf("ls / = %q, %v", out, err)
	}
	for _, f := range []string{"Dockerfile", "f", "ignored", ".dockerignore"} {
		if err := syscall.Stat(filepath.Join(dir, f), &st); err != nil {
			t.Errorf("context file %s after the build: %v", f, err)
		}
	}

	// The berth CLI offers its directory: a change is seen at once, a
	// rebuild of the same content is cached.
	if out, stderr, err := d.berth(t, "build", "-t", "inplace:cli", dir); err != nil || strings.Contains(out, "Sending build context") {
		t.Fatalf("berth build: %v\n%s%s", err, out, stderr)
	}
	out, stderr, err := d.berth(t, "build", "-t", "inplace:cli", dir)
	if err != nil || !strings.Contains(out, "Using cache") {
		t.Fatalf("rebuild: %v, want a cached COPY\n%s%s", err, out, stderr)
	}
	if out, _, err := d.berth(t, "run", "--rm", "inplace:cli", "cat", "/f"); err != nil || out != "from-dir\n" {
		t.Errorf("/f = %q, %v", out, err)
	}
}

// build --add-host puts NAME:IP into the RUN steps' /etc/hosts, through
// the docker CLI and berth's.
func TestBuildAddHost(t *testing.T) {
	d := newDaemon(t)
	dir := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nRUN grep -q '1.2.3.4.*berth-test-host' /etc/hosts\n"})
	if out, errOut, err := d.berth(t, "build", "--no-cache", "--add-host", "berth-test-host:1.2.3.4", dir); err != nil {
		t.Errorf("berth build --add-host: %v\n%s%s", err, out, errOut)
	}
	if _, _, err := d.berth(t, "build", "--no-cache", dir); err == nil {
		t.Errorf("without --add-host the RUN found the entry")
	}
	if out, errOut, err := d.docker(t, dir, "", "build", "--no-cache", "--add-host", "berth-test-host:1.2.3.4", "."); err != nil {
		t.Errorf("docker build --add-host: %v\n%s%s", err, out, errOut)
	}
}

// TestBuildLimits: docker build's -m, --memory-swap, --shm-size,
// --cpu-shares, --cpu-quota, --cpu-period and --ulimit apply to the RUN
// containers, through berth build and the docker CLI alike; a memory limit
// below docker's minimum is refused before anything runs.
func TestBuildLimits(t *testing.T) {
	d := newDaemon(t)
	dir := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\n" +
		"RUN echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) shares=$(cat /sys/fs/cgroup/cpu/cpu.shares) " +
		"quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us) " +
		"shm=$(df -k /dev/shm | awk 'NR==2{print $2}') nofile=$(ulimit -n)\n"})
	want := "mem=67108864 shares=512 quota=50000 period=100000 shm=32768 nofile=1000"
	args := []string{"build", "--no-cache", "-m", "64m", "--memory-swap", "128m", "--shm-size", "32m", "--cpu-shares", "512",
		"--cpu-quota", "50000", "--cpu-period", "100000", "--ulimit", "nofile=1000:1000"}
	out, errOut, err := d.berth(t, append(args, dir)...)
	if err != nil || !strings.Contains(out, want) {
		t.Errorf("berth build with limits: %v: want %q in\n%s%s", err, want, out, errOut)
	}
	out, errOut, err = d.docker(t, dir, "", append(args, ".")...)
	if err != nil || !strings.Contains(out, want) {
		t.Errorf("docker build with limits: %v: want %q in\n%s%s", err, want, out, errOut)
	}
	// Without them: docker's 64 MB /dev/shm and no memory limit.
	out, errOut, err = d.berth(t, "build", "--no-cache", dir)
	if err != nil || !strings.Contains(out, "shm=65536 ") || strings.Contains(out, "mem=67108864") {
		t.Errorf("berth build without limits: %v\n%s%s", err, out, errOut)
	}
	_, errOut, err = d.berth(t, "build", "--no-cache", "-m", "1m", dir)
	if err == nil || !strings.Contains(errOut, "Minimum memory limit allowed is 6MB") {
		t.Errorf("berth build -m 1m: %v %q, want the minimum's error", err, errOut)
	}
}
