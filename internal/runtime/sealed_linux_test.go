package runtime

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
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
	// Any static program stands for the image here: a copy of true.
	img, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	saved := initImage
	initImage = img
	defer func() { initImage = saved }()
	f, err := sealedImage()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Fd() < sealedExeMinFd {
		t.Errorf("sealed image at descriptor %d, want %d or above", f.Fd(), sealedExeMinFd)
	}
	p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	got, err := os.ReadFile(p)
	if err != nil || string(got) != string(img) {
		t.Fatalf("sealed image reads back %d bytes (%v), want the %d of the image", len(got), err, len(img))
	}
	if err := exec.Command(p).Run(); err != nil {
		t.Fatalf("exec of the sealed image: %v", err)
	}
	if err := tryWrite(p); err == nil {
		t.Fatal("wrote to the sealed image")
	}
}
