package runtime

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// launch is what create and exec both prepare before starting a child of
// the sealed binary: the binary itself, the sync socket pair and the
// console connection.
type launch struct {
	exe           *os.File
	img           *os.File // the init image, exec'd instead of exe
	parent, child *os.File
	console       *os.File
	ownConsole    bool
}

// newLaunch prepares a launch; consoleSocket (a path to dial) or
// consoleConn (already connected) is where the pty master goes. With
// viaImage the init image is exec'd, and handed the sealed binary to exec
// for the Go init; stateRoot is where its copy goes where memfds may not
// be exec'd.
func newLaunch(consoleSocket string, consoleConn *os.File, viaImage bool, stateRoot string) (*launch, error) {
	// Not a named result: a failure returns nil, and the deferred close
	// must still see what was opened.
	l := &launch{console: consoleConn}
	done := false
	defer func() {
		if !done {
			l.close()
		}
	}()
	var err error
	if consoleSocket != "" {
		if l.console, err = dialUnix(consoleSocket); err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		l.ownConsole = true
	}
	if viaImage {
		if l.img, err = sealedImage(stateRoot); err != nil {
			return nil, err
		}
	}
	if l.exe, err = sealedExe(); err != nil {
		return nil, err
	}
	if l.parent, l.child, err = socketPair(); err != nil {
		return nil, err
	}
	done = true
	return l, nil
}

// command returns the child's command: `berth init` from the sealed binary
// (or the init image) with the sync socket as fd 3, then extra files, then
// the console (its fd in the child is returned), then for the init image
// the sealed binary. Nil stdio means ours.
func (l *launch) command(stdin io.Reader, stdout, stderr io.Writer, extra ...*os.File) (*child, int) {
	exe := l.exe
	if l.img != nil {
		exe = l.img
	}
	cmd := &child{
		Path: "/proc/self/fd/" + strconv.Itoa(int(exe.Fd())),
		Args: []string{"berth", InitArg},
		// The init needs no restartable sequences; glibc's registration of
		// them at start has been seen to fail fatally under load ("rseq
		// registration failed"), so it is turned off for the init only
		// (the container's process gets its own environment at exec).
		Env:         []string{"_BERTH_SYNC=" + strconv.Itoa(syncFd), "GLIBC_TUNABLES=glibc.pthread.rseq=0"},
		ExtraFiles:  append([]*os.File{l.child}, extra...),
		Stdin:       stdin,
		Stdout:      stdout,
		Stderr:      stderr,
		SysProcAttr: &syscall.SysProcAttr{},
	}
	if cmd.Stdin == nil {
		cmd.Stdin = os.Stdin
	}
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	consoleFd := 0
	if l.console != nil {
		consoleFd = syncFd + len(cmd.ExtraFiles)
		cmd.ExtraFiles = append(cmd.ExtraFiles, l.console)
	}
	if l.img != nil {
		cmd.Env = append(cmd.Env, "_BERTH_EXE_FD="+strconv.Itoa(syncFd+len(cmd.ExtraFiles)))
		cmd.ExtraFiles = append(cmd.ExtraFiles, l.exe)
	}
	return cmd, consoleFd
}

// started closes what only the child needs.
func (l *launch) started() {
	if l.child != nil {
		l.child.Close()
		l.child = nil
	}
}

func (l *launch) close() {
	for _, f := range []*os.File{l.exe, l.img, l.parent, l.child} {
		if f != nil {
			f.Close()
		}
	}
	if l.ownConsole && l.console != nil {
		l.console.Close()
	}
}

// CheckPreserveFds makes sure the descriptors --preserve-fds n names, 3 ..
// 3+n-1, are ones the caller passed: open and without close-on-exec (a
// descriptor that survived the exec of berth). One the caller did not pass
// may be the process's own (Go's runtime keeps the cgroup's CPU quota
// files open, for one): it must never reach the container. A command line
// checks before it opens anything itself.
func CheckPreserveFds(n int) error {
	if n < 0 {
		return fmt.Errorf("preserve-fds: %d is negative", n)
	}
	for fd := 3; fd < 3+n; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			return fmt.Errorf("preserve-fds %d: descriptor %d was not passed to berth", n, fd)
		}
	}
	return nil
}

// preservedFiles returns our descriptors 3 .. 3+n-1 for --preserve-fds.
func preservedFiles(n int) ([]*os.File, error) {
	if err := CheckPreserveFds(n); err != nil {
		return nil, err
	}
	files := make([]*os.File, 0, n)
	for fd := 3; fd < 3+n; fd++ {
		files = append(files, os.NewFile(uintptr(fd), "preserved-"+strconv.Itoa(fd)))
	}
	return files, nil
}

// appendPreserved adds files to cmd's descriptors and returns their
// numbers in the child.
func appendPreserved(cmd *child, files []*os.File) []int {
	var fds []int
	for _, f := range files {
		fds = append(fds, syncFd+len(cmd.ExtraFiles))
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	return fds
}
