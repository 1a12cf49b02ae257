package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth/berth/internal/snapshot/mount"
)

// removeMountStubs removes the runtime's empty mount points that no lower
// layer has, and the directories left empty for them, but keeps what the
// step wrote, a file the image has, and a directory whose mode the step
// changed.
func TestRemoveMountStubs(t *testing.T) {
	lower, upper, work := t.TempDir(), t.TempDir(), t.TempDir()
	mk := func(root, rel string, mode os.FileMode, content *string) {
		p := filepath.Join(root, rel)
		if content == nil {
			if err := os.MkdirAll(p, mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(*content), mode); err != nil {
			t.Fatal(err)
		}
	}
	empty, text := "", "written\n"
	mk(lower, "etc", 0o755, nil)
	mk(lower, "etc/hosts", 0o644, &text)
	mk(lower, "var", 0o755, nil)
	// The step's writable directory: two stubs in a copied-up /etc, a
	// stub for the image's own hosts (kept), a stub dir in a new /mnt, a
	// file the step wrote, and a /var whose mode the step changed.
	mk(upper, "etc/hostname", 0o644, &empty)
	mk(upper, "etc/resolv.conf", 0o644, &empty)
	mk(upper, "etc/hosts", 0o644, &empty)
	mk(upper, "mnt/data", 0o755, nil)
	mk(upper, "out", 0o644, &text)
	mk(upper, "var", 0o700, nil)
	mk(upper, "var/run.sock", 0o644, &empty)
	rootfs := []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + lower, "upperdir=" + upper, "workdir=" + work}}}
	removeMountStubs(rootfs, []string{"/etc/hostname", "/etc/resolv.conf", "/etc/hosts", "/mnt/data", "/out", "/var/run.sock", "/proc"})
	for rel, want := range map[string]bool{
		"etc/hostname": false, "etc/resolv.conf": false, "etc/hosts": true, "etc": true,
		"mnt/data": false, "mnt": false, "out": true, "var/run.sock": false, "var": true,
	} {
		_, err := os.Lstat(filepath.Join(upper, rel))
		if got := err == nil; got != want {
			t.Errorf("%s present: %v, want %v", rel, got, want)
		}
	}
}
