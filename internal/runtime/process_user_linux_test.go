package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment

daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:100::/home/bob:/bin/sh
broken:x:notanumber:1::/:/bin/sh
`

const testGroup = `root:x:0:
daemon:x:1:
wheel:x:10:alice,root
audio:x:29:bob, alice
users:x:100:
alice:x:1000:
staff:x:50:bob
`

// userRootfs makes a rootfs with etc/passwd and etc/group.
func userRootfs(t *testing.T, passwd, group string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if passwd != "" {
		if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if group != "" {
		if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte(group), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestResolveUser(t *testing.T) {
	root := userRootfs(t, testPasswd, testGroup)
	tests := []struct {
		spec       string
		uid, gid   uint32
		additional []uint32
	}{
		{"root", 0, 0, []uint32{10}},
		{"0", 0, 0, []uint32{10}},
		{"alice", 1000, 1000, []uint32{10, 29}},
		{"1000", 1000, 1000, []uint32{10, 29}},
		{"bob", 1001, 100, []uint32{29, 50}},
		{"alice:audio", 1000, 29, nil},
		{"alice:29", 1000, 29, nil},
		{"alice:4242", 1000, 4242, nil},
		{"4242", 4242, 0, nil},
		{"4242:4343", 4242, 4343, nil},
		{"4242:staff", 4242, 50, nil},
		{"daemon:daemon", 1, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			uid, gid, add, err := resolveUser(root, tt.spec)
			if err != nil {
				t.Fatalf("resolveUser(%q): %v", tt.spec, err)
			}
			if uid != tt.uid || gid != tt.gid || !slices.Equal(add, tt.additional) {
				t.Fatalf("resolveUser(%q) = %d, %d, %v; want %d, %d, %v", tt.spec, uid, gid, add, tt.uid, tt.gid, tt.additional)
			}
		})
	}
}

func TestResolveUserErrors(t *testing.T) {
	root := userRootfs(t, testPasswd, testGroup)
	tests := []struct{ spec, want string }{
		{"foo", "unable to find user foo: no matching entries in passwd file"},
		{"broken", "unable to find user broken: no matching entries in passwd file"},
		{"alice:nogroup", "unable to find group nogroup: no matching entries in group file"},
		{"", `invalid user spec "": want user[:group]`},
		{"alice:", `invalid user spec "alice:": want user[:group]`},
		{"99999999999", "user 99999999999: uid out of range 0-2147483647"},
		{"1:4294967296", "group 4294967296: gid out of range 0-2147483647"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, _, _, err := resolveUser(root, tt.spec)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("resolveUser(%q) error = %v, want %q", tt.spec, err, tt.want)
			}
		})
	}
}

func TestResolveUserWithoutFiles(t *testing.T) {
	root := userRootfs(t, "", "")
	uid, gid, add, err := resolveUser(root, "123:456")
	if err != nil || uid != 123 || gid != 456 || add != nil {
		t.Fatalf("resolveUser(123:456) without passwd = %d, %d, %v, %v; want 123, 456, nil, nil", uid, gid, add, err)
	}
	_, _, _, err = resolveUser(root, "alice")
	if err == nil || err.Error() != "unable to find user alice: no matching entries in passwd file" {
		t.Fatalf("resolveUser(alice) without passwd: %v", err)
	}
	_, _, _, err = resolveUser(root, "0:wheel")
	if err == nil || err.Error() != "unable to find group wheel: no matching entries in group file" {
		t.Fatalf("resolveUser(0:wheel) without group: %v", err)
	}
}

// TestResolveUserSymlinkEscape plants /etc/passwd and /etc/group symlinks
// that point outside the rootfs (absolutely and with ..): the host-side
// targets must never be read; the links resolve inside the rootfs instead.
func TestResolveUserSymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte("evil:x:4242:4242::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "group"), []byte("evilgrp:x:4343:\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, kind := range []string{"absolute", "dotdot", "dir"} {
		t.Run(kind, func(t *testing.T) {
			root := userRootfs(t, "", "")
			etc := filepath.Join(root, "etc")
			var passwdLink, groupLink string
			switch kind {
			case "absolute":
				passwdLink, groupLink = filepath.Join(outside, "passwd"), filepath.Join(outside, "group")
			case "dotdot":
				rel, err := filepath.Rel(etc, outside)
				if err != nil {
					t.Fatal(err)
				}
				passwdLink = strings.Repeat("../", 20) + filepath.Join(outside, "passwd")
				groupLink = filepath.Join(rel, "group")
			case "dir":
				// etc itself is a symlink to the outside directory.
				if err := os.Remove(etc); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(outside, etc); err != nil {
					t.Fatal(err)
				}
			}
			if passwdLink != "" {
				if err := os.Symlink(passwdLink, filepath.Join(etc, "passwd")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(groupLink, filepath.Join(etc, "group")); err != nil {
					t.Fatal(err)
				}
			}
			_, _, _, err := resolveUser(root, "evil")
			if err == nil || err.Error() != "unable to find user evil: no matching entries in passwd file" {
				t.Fatalf("resolveUser(evil) through a %s symlink = %v; the host's file was read", kind, err)
			}
			_, _, _, err = resolveUser(root, "0:evilgrp")
			if err == nil || err.Error() != "unable to find group evilgrp: no matching entries in group file" {
				t.Fatalf("resolveUser(0:evilgrp) through a %s symlink = %v; the host's file was read", kind, err)
			}
		})
	}
}

// TestResolveUserSymlinkInside checks that symlinks that stay inside the
// rootfs are followed, also absolute ones (relative to the rootfs).
func TestResolveUserSymlinkInside(t *testing.T) {
	root := userRootfs(t, "", "")
	if err := os.MkdirAll(filepath.Join(root, "usr/share/base"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/share/base/passwd"), []byte(testPasswd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/share/base/passwd", filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	uid, gid, _, err := resolveUser(root, "alice")
	if err != nil || uid != 1000 || gid != 1000 {
		t.Fatalf("resolveUser(alice) via an in-root symlink = %d, %d, %v", uid, gid, err)
	}
}

// TestOpenInRootByWalk exercises the fallback for kernels without openat2
// directly: the same escapes must resolve inside the root.
func TestOpenInRootByWalk(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, d := range []string{"etc", "lib/data"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The in-root file the escapes land on instead.
	if err := os.WriteFile(filepath.Join(root, "secret"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "lib/data/file"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"etc/abs":    filepath.Join(outside, "secret"),
		"etc/dotdot": strings.Repeat("../", 30) + "secret",
		"etc/rel":    "../lib/data/file",
		"etc/loop":   "loop",
		"etc/absdir": "/lib/data",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(rootFd) })

	read := func(rel string) (string, error) {
		fd, err := openInRootByWalk(rootFd, rel)
		if err != nil {
			return "", err
		}
		f := os.NewFile(uintptr(fd), rel)
		defer f.Close()
		b := make([]byte, 64)
		n, _ := f.Read(b)
		return string(b[:n]), nil
	}
	for rel, want := range map[string]string{
		"etc/abs":          "", // /tmp/.../secret does not exist inside the root
		"etc/dotdot":       "inside",
		"etc/rel":          "data",
		"etc/absdir/file":  "data",
		"../../../secret":  "inside",
		"lib/../../secret": "inside",
	} {
		got, err := read(rel)
		if want == "" {
			if err == nil {
				t.Errorf("openInRootByWalk(%q) read %q, want an error (the target is outside the root)", rel, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("openInRootByWalk(%q) = %q, %v; want %q", rel, got, err, want)
		}
	}
	if _, err := read("etc/loop"); err != unix.ELOOP {
		t.Errorf("openInRootByWalk(etc/loop) error = %v, want ELOOP", err)
	}
}

// TestResolveUserRefusesFifo: a FIFO planted as /etc/passwd must be refused
// at once, not block the runtime.
func TestResolveUserRefusesFifo(t *testing.T) {
	root := userRootfs(t, "", "")
	if err := unix.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, _, err := resolveUser(root, "alice")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "etc/passwd: not a regular file") {
			t.Fatalf("resolveUser with a FIFO passwd = %v, want not a regular file", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("resolveUser blocked on a FIFO /etc/passwd")
	}
}

func TestEnvWithHome(t *testing.T) {
	root := userRootfs(t, testPasswd, testGroup)
	tests := []struct {
		env  []string
		uid  uint32
		want []string
	}{
		{[]string{"PATH=/bin"}, 1000, []string{"PATH=/bin", "HOME=/home/alice"}},
		{nil, 0, []string{"HOME=/root"}},
		{[]string{"A=1"}, 4242, []string{"A=1", "HOME=/"}},
		{[]string{"HOME=/custom", "A=1"}, 1000, []string{"HOME=/custom", "A=1"}},
	}
	for _, tt := range tests {
		env := slices.Clip(slices.Clone(tt.env))
		if got := envWithHome(root, env, tt.uid); !slices.Equal(got, tt.want) {
			t.Errorf("envWithHome(%q, %d) = %q, want %q", tt.env, tt.uid, got, tt.want)
		}
		if !slices.Equal(env, tt.env) {
			t.Errorf("envWithHome changed its input to %q", env)
		}
	}
	if got := envWithHome(userRootfs(t, "", ""), nil, 1000); !slices.Equal(got, []string{"HOME=/"}) {
		t.Errorf("envWithHome without passwd = %q, want HOME=/", got)
	}
}
