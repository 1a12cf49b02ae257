package testutil

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMakeBusyboxRootfs(t *testing.T) {
	if _, err := os.Stat(HostBusybox); err != nil {
		t.Skipf("skipping: %s missing (install busybox-static)", HostBusybox)
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := MakeBusyboxRootfs(root); err != nil {
		t.Fatal(err)
	}
	bb, err := os.Stat(filepath.Join(root, "bin/busybox"))
	if err != nil {
		t.Fatal(err)
	}
	applets, err := BusyboxApplets()
	if err != nil {
		t.Fatal(err)
	}
	if len(applets) < 100 {
		t.Errorf("only %d applets listed by busybox --list-full", len(applets))
	}
	for _, a := range append(applets, "bin/sh", "bin/ls", "bin/sleep") {
		fi, err := os.Stat(filepath.Join(root, a))
		if err != nil {
			t.Errorf("applet %s: %v", a, err)
			continue
		}
		if !os.SameFile(fi, bb) {
			t.Errorf("applet %s is not a hard link to /bin/busybox", a)
		}
	}
	host, _ := os.Stat(HostBusybox)
	if os.SameFile(bb, host) {
		t.Errorf("rootfs /bin/busybox shares its inode with the host's %s", HostBusybox)
	}
	for path, mode := range map[string]os.FileMode{
		"tmp": os.ModeDir | os.ModeSticky | 0o777, "root": os.ModeDir | 0o700,
		"proc": os.ModeDir | 0o555, "etc/passwd": 0o644,
	} {
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
		} else if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	for _, want := range []string{"root:x:0:0:", "nobody:x:65534:65534:"} {
		if !bytes.Contains(passwd, []byte(want)) {
			t.Errorf("/etc/passwd lacks %q", want)
		}
	}
}

func TestBusyboxRootfsRunsShell(t *testing.T) {
	RequireRoot(t)
	bundle := BusyboxBundle(t, "sh")
	out, err := exec.Command("chroot", filepath.Join(bundle, "rootfs"), "/bin/sh", "-c", "echo hi $(id -u)").CombinedOutput()
	if err != nil {
		t.Fatalf("chroot sh: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "hi 0" {
		t.Errorf("chroot sh printed %q, want %q", got, "hi 0")
	}
	spec := LoadSpec(t, bundle)
	if !reflect.DeepEqual(spec.Process.Args, []string{"sh"}) || spec.Process.Terminal {
		t.Errorf("bundle spec process: args %q terminal %v", spec.Process.Args, spec.Process.Terminal)
	}
}

// TestDefaultSpecMatchesRunc compares DefaultSpec with what `runc spec`
// writes, apart from the documented differences.
func TestDefaultSpecMatchesRunc(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("skipping: runc not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command(runc, "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	want := LoadSpec(t, dir)
	got := DefaultSpec()
	// Documented differences: no terminal, and a cgroup namespace.
	got.Process.Terminal = true
	ns := got.Linux.Namespaces[:0]
	for _, n := range got.Linux.Namespaces {
		if n.Type != "cgroup" {
			ns = append(ns, n)
		}
	}
	got.Linux.Namespaces = ns
	gj, _ := json.MarshalIndent(got, "", " ")
	wj, _ := json.MarshalIndent(want, "", " ")
	if !bytes.Equal(gj, wj) {
		t.Errorf("DefaultSpec differs from runc spec:\n got %s\nwant %s", gj, wj)
	}
}

// TestCheckerReport builds test/runtimetest, runs it on the host and decodes
// its report strictly, so CheckerReport cannot drift from the program.
func TestCheckerReport(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds test/runtimetest")
	}
	bin, err := BuildChecker(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "-readable", "/etc/hostname", "-writable", dir,
		"-try", "mkdir:"+filepath.Join(dir, "x"), "-try", "open:/nonexistent",
		"-spawn", "2", "-spawn-path", "/bin/sleep", "-alloc", "1",
		"-write", filepath.Join(dir, "marker")+"=hello", "-cat", filepath.Join(dir, "marker"))
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("runtimetest: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	var r CheckerReport
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out)
	}
	if r.Pid != cmd.Process.Pid {
		t.Errorf("pid %d, want %d", r.Pid, cmd.Process.Pid)
	}
	if r.Cwd != dir {
		t.Errorf("cwd %q, want %q", r.Cwd, dir)
	}
	if len(r.Errors) != 0 {
		t.Errorf("report errors: %q", r.Errors)
	}
	if p := r.Tries["open:/nonexistent"]; p.OK || p.Errno != 2 {
		t.Errorf("open:/nonexistent = %+v, want errno 2 (ENOENT)", p)
	}
	if p := r.Tries["mkdir:"+filepath.Join(dir, "x")]; !p.OK {
		t.Errorf("mkdir in temp dir failed: %+v", p)
	}
	if !r.Writable[dir].OK {
		t.Errorf("temp dir not writable: %+v", r.Writable[dir])
	}
	if r.Spawn == nil || r.Spawn.Started != 2 {
		t.Errorf("spawn = %+v, want 2 started", r.Spawn)
	}
	if r.Alloc != 1 {
		t.Errorf("alloc = %d, want 1", r.Alloc)
	}
	if got := r.Files[filepath.Join(dir, "marker")]; got != "hello" {
		t.Errorf("-cat of the marker = %q, want %q", got, "hello")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "marker")); string(data) != "hello" {
		t.Errorf("-write left %q, want %q", data, "hello")
	}
	for _, k := range []string{"CapEff", "CapBnd", "NoNewPrivs", "Seccomp"} {
		if r.Status[k] == "" {
			t.Errorf("status %s missing", k)
		}
	}
	if r.Namespaces["pid"] == 0 || r.Namespaces["mnt"] == 0 {
		t.Errorf("namespaces: %v", r.Namespaces)
	}
	var lim = r.Rlimits["RLIMIT_NOFILE"]
	if lim.Hard == 0 || lim.Soft == 0 {
		t.Errorf("RLIMIT_NOFILE = %+v", lim)
	}
}

// TestCheckerInheritedNofile asserts the checker reports the soft
// RLIMIT_NOFILE it was started with, not the one the Go runtime raised.
func TestCheckerInheritedNofile(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds test/runtimetest")
	}
	bin, err := BuildChecker(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/sh", "-c", "ulimit -Sn 123 && exec "+bin).Output()
	if err != nil {
		t.Fatalf("runtimetest: %v", err)
	}
	r, err := ParseCheckerReport(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Rlimits["RLIMIT_NOFILE"].Soft; got != 123 {
		t.Errorf("RLIMIT_NOFILE soft = %d, want 123", got)
	}
}
