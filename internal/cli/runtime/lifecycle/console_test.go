package lifecycle

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMakeRaw checks the raw mode a foreground `run -t` gives our terminal:
// on a new pty's slave, what cfmakeraw clears is cleared, the old state is
// returned and can be put back; a file that is no terminal is refused.
func TestMakeRaw(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	slave, err := unix.IoctlRetInt(int(ptmx.Fd()), unix.TIOCGPTPEER)
	if err != nil {
		t.Skipf("TIOCGPTPEER: %v", err)
	}
	fd := slave
	defer unix.Close(fd)

	before, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if before.Lflag&(unix.ICANON|unix.ECHO) == 0 {
		t.Fatalf("a new pty is not in canonical mode with echo: lflag %#x", before.Lflag)
	}
	old, err := makeRaw(fd)
	if err != nil {
		t.Fatalf("makeRaw: %v", err)
	}
	if *old != *before {
		t.Errorf("makeRaw returned %+v, want the state before %+v", *old, *before)
	}
	raw, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG|unix.IEXTEN) != 0 || raw.Iflag&(unix.ICRNL|unix.IXON) != 0 ||
		raw.Oflag&unix.OPOST != 0 || raw.Cflag&unix.CSIZE != unix.CS8 || raw.Cc[unix.VMIN] != 1 || raw.Cc[unix.VTIME] != 0 {
		t.Errorf("not raw: iflag %#x oflag %#x lflag %#x cflag %#x vmin %d vtime %d",
			raw.Iflag, raw.Oflag, raw.Lflag, raw.Cflag, raw.Cc[unix.VMIN], raw.Cc[unix.VTIME])
	}
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, old); err != nil {
		t.Fatal(err)
	}
	if back, _ := unix.IoctlGetTermios(fd, unix.TCGETS); back == nil || back.Lflag&unix.ICANON == 0 {
		t.Errorf("the old state did not come back")
	}

	f, err := os.CreateTemp(t.TempDir(), "notty")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := makeRaw(int(f.Fd())); err == nil {
		t.Errorf("makeRaw of a regular file succeeded")
	}
}
