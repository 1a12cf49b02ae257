package runtime

import (
	"os"
	"os/exec"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// The init's binary must not be writable through /proc/<pid>/exe, whichever
// way it was sealed.
func TestSealedExeNotWritable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (open_tree)")
	}
	for name, fn := range map[string]func() (*os.File, error){"ro-bind": roBindExe, "memfd": memfdExe} {
		t.Run(name, func(t *testing.T) {
			f, err := fn()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			defer f.Close()
			p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
			// Run it (the test binary itself) briefly, and try to open its
			// exe for writing while it runs, as an attacker would.
			cmd := exec.Command(p, "-test.run=^$")
			if err := cmd.Start(); err != nil {
				t.Fatalf("exec sealed binary: %v", err)
			}
			err = tryWrite("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/exe")
			_ = cmd.Wait()
			if err == nil {
				t.Fatal("wrote to the running init's exe")
			}
			// And not after it exited either (the attack waits for that).
			if err := tryWrite(p); err == nil {
				t.Fatal("wrote to the sealed binary")
			}
		})
	}
}

// tryWrite opens p for writing and writes one byte at its start.
func tryWrite(p string) error {
	w, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer w.Close()
	_, err = w.WriteAt([]byte{0x7f}, 0)
	return err
}

// The init image runs from a sealed memfd: neither writable through it nor
// through /proc/<pid>/exe of a process running it.
func TestSealedImageNotWritable(t *testing.T) {
	img := testImage(t)
	dir := t.TempDir()
	for name, fn := range map[string]func() (*os.File, error){
		"sealed": func() (*os.File, error) { return sealedImage(dir) },
		"memfd":  memfdImage,
		"file":   func() (*os.File, error) { return fileImage(dir) },
	} {
		t.Run(name, func(t *testing.T) {
			f, err := fn()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if name == "sealed" && f.Fd() < sealedExeMinFd {
				t.Errorf("sealed image at descriptor %d, want %d or above", f.Fd(), sealedExeMinFd)
			}
			p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
			got, err := os.ReadFile(p)
			if err != nil || string(got) != string(img) {
				t.Fatalf("image reads back %d bytes (%v), want the %d of the image", len(got), err, len(img))
			}
			if err := exec.Command(p).Run(); err != nil {
				t.Fatalf("exec of the image: %v", err)
			}
			if err := tryWrite(p); err == nil {
				t.Fatal("wrote to the image")
			}
		})
	}
	// The file's copy is gone from dir once its mount holds it.
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("%d files left in the state root: %v", len(left), left[0].Name())
	}
}

// Where the state root's file system is mounted noexec (as /run often is),
// the file copy of the image is still executable.
func TestFileImageOnNoexec(t *testing.T) {
	testImage(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOEXEC, "size=4m"); err != nil {
		t.Skipf("mount a noexec tmpfs: %v", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	f, err := fileImage(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := exec.Command("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))).Run(); err != nil {
		t.Fatalf("exec of the image copied to a noexec file system: %v", err)
	}
}

// testImage makes a copy of true the init image for the test, and returns it.
func testImage(t *testing.T) []byte {
	t.Helper()
	img, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	saved := initImage
	initImage = img
	t.Cleanup(func() { initImage = saved })
	return img
}
