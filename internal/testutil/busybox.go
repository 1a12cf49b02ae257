package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// HostBusybox is the static busybox (Debian's busybox-static) that busybox
// root filesystems are made from.
const HostBusybox = "/bin/busybox"

// Passwd and Group are the /etc/passwd and /etc/group of the busybox root
// filesystem, the same entries as the busybox image on Docker Hub.
const (
	Passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`
	Group = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
staff:x:50:
users:x:100:
nogroup:x:65534:
`
	Hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
)

// busyboxDirs are the directories of the root filesystem besides those the
// applet links need, with their modes.
var busyboxDirs = []struct {
	path string
	mode os.FileMode
}{
	{"bin", 0o755}, {"dev", 0o755}, {"etc", 0o755}, {"home", 0o755}, {"proc", 0o555},
	{"root", 0o700}, {"sys", 0o555}, {"tmp", os.ModeSticky | 0o777}, {"usr", 0o755}, {"usr/bin", 0o755},
	{"usr/sbin", 0o755}, {"sbin", 0o755}, {"var", 0o755}, {"var/spool", 0o755},
	{"var/spool/mail", 0o755}, {"var/www", 0o755},
}

var busybox struct {
	once    sync.Once
	binary  []byte
	applets []string // paths relative to the root, e.g. "bin/sh"
	err     error
}

// loadBusybox reads the host's busybox and its applet list once per test
// binary.
func loadBusybox() ([]byte, []string, error) {
	busybox.once.Do(func() {
		busybox.binary, busybox.err = os.ReadFile(HostBusybox)
		if busybox.err != nil {
			busybox.err = fmt.Errorf("read %s (install busybox-static): %w", HostBusybox, busybox.err)
			return
		}
		out, err := exec.Command(HostBusybox, "--list-full").Output()
		if err != nil {
			busybox.err = fmt.Errorf("%s --list-full: %w", HostBusybox, err)
			return
		}
		for _, line := range strings.Split(string(bytes.TrimSpace(out)), "\n") {
			p := filepath.Clean(strings.TrimPrefix(strings.TrimSpace(line), "/"))
			if p == "." || strings.HasPrefix(p, "..") || p == "bin/busybox" {
				continue
			}
			busybox.applets = append(busybox.applets, p)
		}
		sort.Strings(busybox.applets)
	})
	return busybox.binary, busybox.applets, busybox.err
}

// BusyboxApplets returns the applet paths (relative to the root, like
// "bin/sh") that a busybox root filesystem links to /bin/busybox.
func BusyboxApplets() ([]string, error) {
	_, applets, err := loadBusybox()
	return append([]string(nil), applets...), err
}

// MakeBusyboxRootfs writes a busybox root filesystem into dir (created if
// missing): a private copy of the host's /bin/busybox, every applet as a hard
// link to it, /etc/passwd, /etc/group, /etc/hosts and the usual empty
// directories (/tmp is 1777, /root 0700). Everything is owned by the caller.
func MakeBusyboxRootfs(dir string) error {
	binary, applets, err := loadBusybox()
	if err != nil {
		return err
	}
	for _, d := range busyboxDirs {
		p := filepath.Join(dir, d.path)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("make busybox rootfs: %w", err)
		}
		// Chmod, not the umask-filtered mode of MkdirAll.
		if err := os.Chmod(p, d.mode); err != nil {
			return fmt.Errorf("make busybox rootfs: %w", err)
		}
	}
	bb := filepath.Join(dir, "bin/busybox")
	if err := os.WriteFile(bb, binary, 0o755); err != nil {
		return fmt.Errorf("make busybox rootfs: %w", err)
	}
	for _, a := range applets {
		p := filepath.Join(dir, a)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("make busybox rootfs: %w", err)
		}
		if err := os.Link(bb, p); err != nil {
			return fmt.Errorf("make busybox rootfs: link applet %s: %w", a, err)
		}
	}
	for name, content := range map[string]string{"etc/passwd": Passwd, "etc/group": Group, "etc/hosts": Hosts} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("make busybox rootfs: %w", err)
		}
	}
	return nil
}

// BusyboxBundle makes an OCI bundle in a new temp directory of t: rootfs/ is
// a busybox root filesystem (see MakeBusyboxRootfs) and config.json is
// DefaultSpec(args...). The directory and its parents are made searchable by
// everyone (0755), so a container whose root is mapped to an unprivileged
// host uid can still reach its rootfs. It returns the bundle directory.
func BusyboxBundle(t testing.TB, args ...string) (bundleDir string) {
	t.Helper()
	bundleDir = t.TempDir()
	// t.TempDir makes the per-test parent and the directory 0700.
	for _, d := range []string{filepath.Dir(bundleDir), bundleDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("busybox bundle: %v", err)
		}
	}
	if err := MakeBusyboxRootfs(filepath.Join(bundleDir, "rootfs")); err != nil {
		t.Fatalf("busybox bundle: %v", err)
	}
	WriteSpec(t, bundleDir, DefaultSpec(args...))
	return bundleDir
}

// Chown changes the owner of root and everything below it (symlinks
// themselves, not their targets), e.g. to hand a rootfs to a user
// namespace's root.
func Chown(t testing.TB, root string, uid, gid int) {
	t.Helper()
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatalf("chown %s to %d:%d: %v", root, uid, gid, err)
	}
}
