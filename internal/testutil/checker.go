package testutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// CheckerPath is where InstallChecker puts the checker inside a rootfs.
const CheckerPath = "/runtimetest"

// ModuleRoot returns the directory holding Berth's go.mod, found from this
// source file's location.
func ModuleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("module root: no caller information")
	}
	for dir := filepath.Dir(file); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if dir == filepath.Dir(dir) {
			return "", fmt.Errorf("module root: no go.mod above %s", file)
		}
	}
}

// GoTool returns the go command that built the test binary, or the one on
// PATH.
func GoTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// GoBuild builds the package pkg (a path relative to the module root, like
// "./cmd/berth") into the file out. env entries (KEY=VALUE) are added to the
// build's environment.
func GoBuild(out, pkg string, env ...string) error {
	return goBuild(out, pkg, "", env...)
}

func goBuild(out, pkg, tags string, env ...string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command(GoTool(), append(args, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return nil
}

// BuildShimImage builds the shim's serving image (internal/shim/cmd/berth-shim
// with the shimserver tag, as hack/build.sh does) into out.
func BuildShimImage(out string) error {
	return goBuild(out, "./internal/shim/cmd/berth-shim", "shimserver", "CGO_ENABLED=0")
}

// BuildBerth builds ./cmd/berth into out with the shim's serving image and
// the init image embedded, as hack/build.sh does (without its build stamp):
// each image is built first, renamed into place so that concurrent builds
// never read half of it.
func BuildBerth(out string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "internal", "shim", "image")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "berth-shim.*")
	if err != nil {
		return err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := BuildShimImage(tmp.Name()); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, "berth-shim")); err != nil {
		return err
	}
	// The init image, and berth without cgo, as hack/build.sh builds them
	// (build-init.sh renames its output into place).
	cmd := exec.Command("bash", filepath.Join(root, "hack", "build-init.sh"), filepath.Join(root, "internal", "runtime", "initimage", "berth-init"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the init image: %w\n%s", err, msg)
	}
	return goBuild(out, "./cmd/berth", "shimimage,initimage", "CGO_ENABLED=0")
}

// BuildChecker builds test/runtimetest statically (CGO_ENABLED=0) into
// outDir/runtimetest and returns its path.
func BuildChecker(outDir string) (string, error) {
	out := filepath.Join(outDir, "runtimetest")
	if err := GoBuild(out, "./test/runtimetest", "CGO_ENABLED=0"); err != nil {
		return "", err
	}
	return out, nil
}

// InstallChecker copies the checker binary at src into bundle's rootfs as
// CheckerPath (mode 0755) and returns CheckerPath, the path to run it by
// inside the container.
func InstallChecker(t testing.TB, bundle, src string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatalf("install checker: %v", err)
	}
	defer in.Close()
	dst := filepath.Join(bundle, "rootfs", CheckerPath)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatalf("install checker: %v", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatalf("install checker: copy to %s: %v", dst, err)
	}
	if err := out.Close(); err != nil {
		t.Fatalf("install checker: %v", err)
	}
	return CheckerPath
}

// CheckerReport is the part of test/runtimetest's JSON report that tests
// read; field names follow that program's Report type.
type CheckerReport struct {
	Pid        int               `json:"pid"`
	Ppid       int               `json:"ppid"`
	Hostname   string            `json:"hostname"`
	Domainname string            `json:"domainname"`
	UID        int               `json:"uid"`
	EUID       int               `json:"euid"`
	GID        int               `json:"gid"`
	EGID       int               `json:"egid"`
	Groups     []int             `json:"groups"`
	Status     map[string]string `json:"status"`
	Processes  []struct {
		Pid  int    `json:"pid"`
		Name string `json:"name"`
	} `json:"processes"`
	Cwd     string   `json:"cwd"`
	Env     []string `json:"env"`
	Umask   string   `json:"umask"`
	Rlimits map[string]struct {
		Soft int64 `json:"soft"`
		Hard int64 `json:"hard"`
	} `json:"rlimits"`
	Mounts []struct {
		Point        string `json:"point"`
		Type         string `json:"type"`
		Source       string `json:"source"`
		Options      string `json:"options"`
		SuperOptions string `json:"superOptions"`
	} `json:"mounts"`
	Readable   map[string]CheckerProbe `json:"readable"`
	Writable   map[string]CheckerProbe `json:"writable"`
	Tries      map[string]CheckerProbe `json:"tries"`
	Files      map[string]string       `json:"files"`
	Cgroups    []string                `json:"cgroups"`
	Limits     map[string]string       `json:"limits"`
	Namespaces map[string]uint64       `json:"namespaces"`
	// SessionKeyring describes the session keyring: type;uid;gid;perm;name.
	SessionKeyring string `json:"sessionKeyring"`
	Spawn          *struct {
		Wanted  int    `json:"wanted"`
		Started int    `json:"started"`
		Errno   int    `json:"errno"`
		Error   string `json:"error"`
	} `json:"spawn"`
	Alloc  int      `json:"alloc"`
	Errors []string `json:"errors"`
}

// CheckerProbe is one probe's outcome in a CheckerReport.
type CheckerProbe struct {
	OK    bool   `json:"ok"`
	Errno int    `json:"errno"`
	Error string `json:"error"`
	Kind  string `json:"kind"`
	Bytes int    `json:"bytes"`
}

// ParseCheckerReport decodes the checker's stdout.
func ParseCheckerReport(out []byte) (*CheckerReport, error) {
	var r CheckerReport
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("parse checker report: %w (output %q)", err, truncate(out, 400))
	}
	return &r, nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
