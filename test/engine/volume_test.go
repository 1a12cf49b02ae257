package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

func TestVolumeDataSurvivesContainerRemoval(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "--name", "writer", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
	d.mustDocker(t, "rm", "writer")
	if got := d.mustDocker(t, "run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/f"); got != "kept\n" {
		t.Errorf("volume content after the writer was removed = %q, want kept", got)
	}
	// In use by a container (even stopped): remove is a conflict.
	d.mustDocker(t, "create", "--name", "holder", "-v", "data:/data", "busybox", "true")
	_, errOut, err := d.docker(t, "volume", "rm", "data")
	if err == nil || !strings.Contains(errOut, "volume is in use") {
		t.Errorf("volume rm of a volume in use: err %v, stderr %q; want 'volume is in use'", err, errOut)
	}
	// After a daemon restart the reference is still held.
	d.Stop(t)
	d.Start(t)
	if _, errOut, err = d.docker(t, "volume", "rm", "data"); err == nil {
		t.Errorf("volume rm after a daemon restart succeeded, want in use (%s)", errOut)
	}
	d.mustDocker(t, "rm", "holder")
	d.mustDocker(t, "volume", "rm", "data")
}

func TestVolumeCopyUpAndAnonymous(t *testing.T) {
	d := newDaemon(t)
	// /etc of the image is copied into a new empty named volume.
	got := d.mustDocker(t, "run", "--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/passwd")
	if !strings.Contains(got, "root:") {
		t.Errorf("copied-up /etc/passwd = %q, want the image's", got)
	}
	mp := strings.TrimSpace(d.mustDocker(t, "volume", "inspect", "-f", "{{.Mountpoint}}", "etcvol"))
	if _, err := os.Stat(filepath.Join(mp, "passwd")); err != nil {
		t.Errorf("volume etcvol lacks passwd: %v", err)
	}
	// The copy happens at create, as dockerd's: a data container that
	// never ran shares its image's content through --volumes-from and -v.
	d.mustDocker(t, "create", "--name", "datac", "-v", "/etc", "-v", "binvol:/bin", "busybox", "true")
	if got := d.mustDocker(t, "run", "--rm", "--volumes-from", "datac", "busybox", "cat", "/etc/group"); !strings.Contains(got, "root:") {
		t.Errorf("--volumes-from a created container: /etc/group = %q, want the image's", got)
	}
	mp = strings.TrimSpace(d.mustDocker(t, "volume", "inspect", "-f", "{{.Mountpoint}}", "binvol"))
	if _, err := os.Lstat(filepath.Join(mp, "sh")); err != nil {
		t.Errorf("volume binvol of a created container lacks sh: %v", err)
	}
	d.mustDocker(t, "rm", "-v", "datac")
	d.mustDocker(t, "volume", "rm", "binvol")
	// -v /path makes an anonymous volume; rm -v removes it.
	d.mustDocker(t, "run", "--name", "anon", "-v", "/scratch", "busybox", "sh", "-c", "echo x > /scratch/f")
	name := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anon"))
	if len(name) != 64 {
		t.Fatalf("anonymous volume name %q, want 64 hex", name)
	}
	if ls := d.mustDocker(t, "volume", "ls", "-q"); !strings.Contains(ls, name) {
		t.Fatalf("volume ls lacks %s:\n%s", name, ls)
	}
	d.mustDocker(t, "rm", "-v", "anon")
	if ls := d.mustDocker(t, "volume", "ls", "-q"); strings.Contains(ls, name) {
		t.Errorf("anonymous volume %s left after rm -v:\n%s", name, ls)
	}
	// --rm removes it too; a named one stays.
	d.mustDocker(t, "run", "--rm", "-v", "/scratch", "-v", "keep:/keep", "busybox", "true")
	if ls := strings.Fields(d.mustDocker(t, "volume", "ls", "-q")); len(ls) != 2 || !contains(ls, "keep") || !contains(ls, "etcvol") {
		t.Errorf("volumes after run --rm = %v, want etcvol and keep", ls)
	}
	// system df counts them; none is in use.
	if df := d.mustDocker(t, "system", "df", "--format", "{{.Type}}={{.TotalCount}}/{{.Active}}"); !strings.Contains(df, "Local Volumes=2/0") {
		t.Errorf("system df = %q, want Local Volumes=2/0", df)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestVolumeBindsAndTmpfs(t *testing.T) {
	d := newDaemon(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "in"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := d.mustDocker(t, "run", "--rm", "-v", src+":/h:ro", "busybox", "cat", "/h/in"); got != "from host\n" {
		t.Errorf("read-only bind read = %q", got)
	}
	_, errOut, err := d.docker(t, "run", "--rm", "-v", src+":/h:ro", "busybox", "touch", "/h/new")
	if err == nil || !strings.Contains(errOut, "Read-only file system") {
		t.Errorf("write into a read-only bind: err %v, stderr %q; want Read-only file system", err, errOut)
	}
	if _, err := os.Stat(filepath.Join(src, "new")); err == nil {
		t.Errorf("a file appeared on the host through a read-only bind (%s)", errOut)
	}
	d.mustDocker(t, "run", "--rm", "--mount", "type=bind,src="+src+",dst=/w", "busybox", "sh", "-c", "echo back > /w/out")
	if b, err := os.ReadFile(filepath.Join(src, "out")); err != nil || string(b) != "back\n" {
		t.Errorf("write through --mount type=bind: %q, %v", b, err)
	}
	out := d.mustDocker(t, "run", "--rm", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m", "busybox", "sh", "-c", "grep ' /t ' /proc/mounts")
	if !strings.Contains(out, "tmpfs /t tmpfs") {
		t.Errorf("--mount type=tmpfs: %q", out)
	}
	// ps --filter volume= matches a bind by its host path, as dockerd.
	d.mustDocker(t, "create", "--name", "bound", "-v", src+":/b", "busybox", "true")
	if got := d.mustDocker(t, "ps", "-a", "--format", "{{.Names}}", "--filter", "volume="+src); got != "bound\n" {
		t.Errorf("ps --filter volume=<host path>: %q, want bound", got)
	}
	d.mustDocker(t, "rm", "bound")
	// A bind of the data root (a monitoring agent's) is rslave, as with
	// dockerd: the host's later mounts show inside, and their unmounts too,
	// so the container never keeps another container's rootfs busy.
	d.mustDocker(t, "run", "-d", "--name", "watcher", "-v", d.DataRoot+":/x:ro", "busybox", "sleep", "60")
	if got := d.mustDocker(t, "inspect", "--format", "{{range .Mounts}}{{.Propagation}}{{end}}", "watcher"); got != "rslave\n" {
		t.Errorf("propagation of a data-root bind: %q, want rslave", got)
	}
	d.mustDocker(t, "run", "-d", "--name", "watched", "busybox", "sleep", "60")
	watched := strings.TrimSpace(d.mustDocker(t, "inspect", "--format", "{{.GraphDriver.Data.MergedDir}}", "watched"))
	if watched == "" || !strings.HasPrefix(watched, d.DataRoot) {
		t.Fatalf("merged dir of watched: %q", watched)
	}
	inside := "/x" + strings.TrimPrefix(watched, d.DataRoot) + "/bin/busybox"
	if _, errOut, err := d.docker(t, "exec", "watcher", "test", "-f", inside); err != nil {
		t.Errorf("a rootfs mounted after the data-root bind is not seen inside it (%s): %v %s", inside, err, errOut)
	}
	d.mustDocker(t, "rm", "-f", "watched")
	if _, _, err := d.docker(t, "exec", "watcher", "test", "-e", inside); err == nil {
		t.Errorf("the removed container's rootfs is still mounted inside the data-root bind (%s)", inside)
	}
	d.mustDocker(t, "rm", "-f", "watcher")
	for _, spec := range []string{d.DataRoot + ":/x:private", d.DataRoot + "/containers:/x:rprivate"} {
		_, errOut, err := d.docker(t, "run", "--rm", "-v", spec, "busybox", "true")
		if code := exitCode(err); code != 125 || !strings.Contains(errOut, `must use either propagation mode "rslave" or "rshared" when mount source is within the daemon root`) {
			t.Errorf("-v %s: exit %d, stderr %q; want 125 and dockerd's propagation message", spec, code, errOut)
		}
	}
	// --volumes-from shares the other container's volumes.
	d.mustDocker(t, "run", "--name", "src", "-v", "shared:/s", "busybox", "sh", "-c", "echo via > /s/f")
	if got := d.mustDocker(t, "run", "--rm", "--volumes-from", "src", "busybox", "cat", "/s/f"); got != "via\n" {
		t.Errorf("--volumes-from read = %q", got)
	}
	// inspect's Mode of a --mount volume is dockerd's "z", as a -v one's.
	d.mustDocker(t, "create", "--name", "mz", "--mount", "type=volume,src=mzvol,dst=/m", "-v", "mzvol2:/n", "busybox")
	if got := d.mustDocker(t, "inspect", "-f", "{{range .Mounts}}{{.Destination}}={{.Mode}} {{end}}", "mz"); !strings.Contains(got, "/m=z ") || !strings.Contains(got, "/n=z ") {
		t.Errorf("Mode of volume mounts: %q, want z for both", got)
	}
	d.mustDocker(t, "rm", "-v", "mz")
	d.mustDocker(t, "volume", "rm", "mzvol", "mzvol2")
	// Two sources with the same mount point: the last named wins, as
	// with dockerd.
	d.mustDocker(t, "run", "--name", "src2", "-v", "shared2:/s", "busybox", "sh", "-c", "echo two > /s/f")
	if got := d.mustDocker(t, "run", "--rm", "--volumes-from", "src", "--volumes-from", "src2", "busybox", "cat", "/s/f"); got != "two\n" {
		t.Errorf("--volumes-from src --volumes-from src2 read %q, want two", got)
	}
	// An anonymous volume inherited from a removed container goes with
	// rm -v of the one that inherited it; a named one stays.
	d.mustDocker(t, "run", "--name", "vfparent", "-v", "vfnamed:/foo", "-v", "/bar", "busybox", "true")
	anon := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", `{{range .Mounts}}{{if eq .Destination "/bar"}}{{.Name}}{{end}}{{end}}`, "vfparent"))
	d.mustDocker(t, "run", "--name", "vfchild", "--volumes-from", "vfparent", "busybox", "true")
	d.mustDocker(t, "rm", "-f", "vfparent")
	d.mustDocker(t, "rm", "-fv", "vfchild")
	if vols := d.mustDocker(t, "volume", "ls", "-q"); strings.Contains(vols, anon) || !strings.Contains(vols, "vfnamed") {
		t.Errorf("volumes after rm -v of the inheriting container: %q; want %s gone, vfnamed kept", vols, anon)
	}
	// ":rw" keeps a read-only mount of the source read-only (a volume and
	// a host directory alike); ":ro" makes a writable one read-only.
	host := t.TempDir()
	d.mustDocker(t, "create", "--name", "rosrc", "-v", "rov:/r:ro", "-v", host+":/h:ro", "-v", "rwv:/w", "busybox", "true")
	for _, mode := range []string{"rosrc", "rosrc:rw"} {
		out, _, _ := d.docker(t, "run", "--rm", "--volumes-from", mode, "busybox", "sh", "-c",
			"touch /r/x 2>/dev/null && echo r-writable; touch /h/y 2>/dev/null && echo h-writable; touch /w/z && echo w-writable")
		if out != "w-writable\n" {
			t.Errorf("--volumes-from %s: %q, want only the writable volume writable", mode, out)
		}
	}
	if _, err := os.Stat(filepath.Join(host, "y")); err == nil {
		t.Errorf("--volumes-from rosrc:rw wrote into a read-only bound host directory")
	}
	if out, _, _ := d.docker(t, "run", "--rm", "--volumes-from", "rosrc:ro", "busybox", "sh", "-c", "touch /w/z 2>/dev/null || echo w-ro"); out != "w-ro\n" {
		t.Errorf("--volumes-from rosrc:ro: %q, want /w read-only", out)
	}
	if _, errOut, err := d.docker(t, "run", "--rm", "--volumes-from", "rosrc:bogus", "busybox", "true"); err == nil || !strings.Contains(errOut, "invalid mode: bogus") {
		t.Errorf("--volumes-from rosrc:bogus: %v %q", err, errOut)
	}
}

// TestBindPropagationShared: a bind with rshared propagation needs a
// shared source mount, and then what the container mounts below it is
// seen on the host (the container's root is shared too), as with dockerd;
// a private source is refused at start with dockerd's words.
func TestBindPropagationShared(t *testing.T) {
	d := newDaemon(t)
	shared, private := t.TempDir(), t.TempDir()
	mustRun := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	mustRun("mount", "-t", "tmpfs", "berth-prop", shared)
	t.Cleanup(func() { exec.Command("umount", "-R", shared).Run() })
	mustRun("mount", "--make-shared", shared)
	mustRun("mount", "-t", "tmpfs", "berth-prop", private)
	t.Cleanup(func() { exec.Command("umount", "-R", private).Run() })
	mustRun("mount", "--make-private", private)

	d.mustDocker(t, "run", "--rm", "--privileged", "--mount", "type=bind,src="+shared+",dst=/m,bind-propagation=rshared",
		"busybox", "sh", "-c", "mkdir /m/sub && mount -t tmpfs inner /m/sub && touch /m/sub/seen")
	t.Cleanup(func() { exec.Command("umount", filepath.Join(shared, "sub")).Run() })
	if _, err := os.Stat(filepath.Join(shared, "sub", "seen")); err != nil {
		t.Errorf("the container's mount below an rshared bind did not reach the host: %v", err)
	}
	_, errOut, err := d.docker(t, "run", "--rm", "--mount", "type=bind,src="+private+",dst=/m,bind-propagation=rshared", "busybox", "true")
	if exitCode(err) != 125 || !strings.Contains(errOut, "is mounted on "+private+" but it is not a shared mount") {
		t.Errorf("rshared bind of a private mount: exit %d %q", exitCode(err), errOut)
	}
}

// TestReadOnlyBindIsRecursive: a read-only bind is read-only all the way
// down, mounts below its source included, as with dockerd 25 and later;
// bind-recursive=writable keeps those writable, and so does a client of
// API 1.43, as before 1.44.
func TestReadOnlyBindIsRecursive(t *testing.T) {
	d := newDaemon(t)
	src := t.TempDir()
	sub := filepath.Join(src, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "berth-rro", sub).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", sub).Run() })
	try := "touch /r/sub/x 2>/dev/null && echo writable || echo read-only"
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"-v ro", nil, []string{"-v", src + ":/r:ro"}, "read-only"},
		{"--mount readonly", nil, []string{"--mount", "type=bind,src=" + src + ",dst=/r,readonly"}, "read-only"},
		{"bind-recursive=readonly", nil, []string{"--mount", "type=bind,src=" + src + ",dst=/r,readonly,bind-recursive=readonly,bind-propagation=rprivate"}, "read-only"},
		{"bind-recursive=writable", nil, []string{"--mount", "type=bind,src=" + src + ",dst=/r,readonly,bind-recursive=writable"}, "writable"},
		{"-v ro through API 1.43", []string{"DOCKER_API_VERSION=1.43"}, []string{"-v", src + ":/r:ro"}, "writable"},
	} {
		args := append(append([]string{"run", "--rm"}, c.args...), "busybox", "sh", "-c", "touch /r/top 2>/dev/null && echo top-writable; "+try)
		r := d.Run(t, dockerCLI(t), testutil.RunOptions{Env: c.env}, args...)
		if r.Err != nil || strings.TrimSpace(r.Stdout) != c.want {
			t.Errorf("%s: %v %q %s, want %q below a read-only top", c.name, r.Err, r.Stdout, r.Stderr, c.want)
		}
	}
}

// TestVolumeSubpath: --mount volume-subpath mounts that directory (or
// file) of the volume only; a missing one, or one that leads out of the
// volume through a link, is refused at start; nothing is left mounted.
func TestVolumeSubpath(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "--rm", "-v", "subv:/v", "busybox", "sh", "-c",
		"mkdir -p /v/a/b && echo in-b > /v/a/b/f && echo top > /v/top && ln -s /etc /v/esc && ln -s b /v/a/lnk")
	for _, c := range []struct{ sub, cmd, want string }{
		{"a/b", "cat /m/f; ls /m", "in-b\nf\n"},
		{"top", "cat /m", "top\n"},
		{"a/lnk", "cat /m/f", "in-b\n"},
	} {
		got := d.mustDocker(t, "run", "--rm", "--mount", "type=volume,src=subv,dst=/m,volume-subpath="+c.sub, "busybox", "sh", "-c", c.cmd)
		if got != c.want {
			t.Errorf("volume-subpath=%s: %q, want %q", c.sub, got, c.want)
		}
	}
	for sub, want := range map[string]string{"nosuch": "cannot access path", "esc": "path concatenation escapes the base directory"} {
		_, errOut, err := d.docker(t, "run", "--rm", "--mount", "type=volume,src=subv,dst=/m,volume-subpath="+sub, "busybox", "ls", "/m")
		if err == nil || !strings.Contains(errOut, want) {
			t.Errorf("volume-subpath=%s: %v %q, want it refused with %q", sub, err, errOut, want)
		}
	}
	// An empty subpath directory over an image directory is filled from
	// the image, as dockerd does (the volume itself is not empty).
	d.mustDocker(t, "run", "--rm", "-v", "subv:/v", "busybox", "mkdir", "/v/bin")
	if out, errOut, err := d.docker(t, "run", "--rm", "--mount", "type=volume,src=subv,dst=/bin,volume-subpath=bin", "busybox", "ls", "/bin/busybox"); err != nil || out != "/bin/busybox\n" {
		t.Errorf("an empty subpath over /bin: %q %v %s", out, err, errOut)
	}
	if out, _ := exec.Command("sh", "-c", "grep -c subpaths /proc/self/mountinfo").Output(); strings.TrimSpace(string(out)) != "0" {
		t.Errorf("subpath mounts left: %s", out)
	}
}

// TestVolumeEventsOfContainers: volumes a container makes (-v NAME, an
// anonymous one) have dockerd's "create" event, an existing one none, and
// an anonymous one removed with the container (--rm) its "destroy".
func TestVolumeEventsOfContainers(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "volume", "create", "pre")
	// events --since counts whole seconds: start at the next one.
	since := time.Now().Unix() + 1
	time.Sleep(time.Until(time.Unix(since, 0)))
	d.mustDocker(t, "run", "--rm", "-v", "evnamed:/n", "-v", "pre:/p", "-v", "/anon", "busybox", "true")
	out := d.eventsSince(t, since, "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}}", "type=volume", "event=create", "event=destroy")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var creates, destroys []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[2] != "local" {
			t.Errorf("volume event %q, want ACTION NAME local", l)
			continue
		}
		switch f[0] {
		case "create":
			creates = append(creates, f[1])
		case "destroy":
			destroys = append(destroys, f[1])
		}
	}
	if len(creates) != 2 || !contains(creates, "evnamed") || contains(creates, "pre") {
		t.Errorf("create events for %v, want evnamed and the anonymous volume (not pre):\n%s", creates, out)
	}
	if len(destroys) != 1 || contains(destroys, "evnamed") || !contains(creates, destroys[0]) {
		t.Errorf("destroy events for %v, want the anonymous volume only:\n%s", destroys, out)
	}
}

// --volume-driver applies to -v volumes and the image's anonymous ones, as
// with dockerd; berth has only the local driver, so another name fails the
// create with dockerd's 404 and words and leaves no volume behind. (The
// docker CLI takes any 404 from create for a missing image and pulls it,
// with dockerd too: the API is checked here, the CLI with a local driver.)
func TestVolumeDriverFlag(t *testing.T) {
	d := newDaemon(t)
	for _, body := range []string{
		`{"Image":"busybox","HostConfig":{"VolumeDriver":"nosuch","Binds":["vdrv:/x"]}}`,
		`{"Image":"busybox","Volumes":{"/anon":{}},"HostConfig":{"VolumeDriver":"nosuch"}}`,
		`{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"volume","Target":"/m","VolumeOptions":{"DriverConfig":{"Name":"nosuch"}}}]}}`,
	} {
		code, out := rawRequest(t, d, "POST", "/v1.51/containers/create", "application/json", body)
		if code != 404 || !strings.Contains(out, `error looking up volume plugin nosuch: plugin \"nosuch\" not found`) {
			t.Errorf("create %s: %d %s; want 404 and dockerd's words", body, code, out)
		}
	}
	if got := d.mustDocker(t, "volume", "ls", "-q"); got != "" {
		t.Errorf("volumes after the failed creates: %q", got)
	}
	if got := d.mustDocker(t, "ps", "-aq"); got != "" {
		t.Errorf("containers after the failed creates: %q", got)
	}
	if got := d.mustDocker(t, "run", "--rm", "--volume-driver", "local", "-v", "vdrv:/x", "busybox", "sh", "-c", "echo ok > /x/f && cat /x/f"); got != "ok\n" {
		t.Errorf("--volume-driver local: %q", got)
	}
	d.mustDocker(t, "volume", "rm", "vdrv")
}
