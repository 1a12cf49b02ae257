package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The serving image (see the package doc, "Two images"): berth-shim, a
// small program of this package alone, that a shim execs into once the
// container is created. The daemon holds it in a sealed memfd and hands
// that to each shim it starts.

// ServeArg is argv[1] of the serving image: `berth-shim serve STATE-DIR`,
// with the handover in its environment.
const ServeArg = "serve"

// Environment of a shim: the fd of the serving image (set by the daemon
// for a shim it starts), and the handover (set by a shim for its serving
// image).
const (
	imageFdEnv  = "BERTH_SHIM_IMAGE_FD"
	handoverEnv = "BERTH_SHIM_HANDOVER"
)

// handover is what the serving image is told of the container a shim
// created: the descriptors it inherits and what its task needs.
type handover struct {
	Pid      int `json:"pid"`
	Listener int `json:"listener"`
	Stdin    int `json:"stdin,omitempty"` // the pipe's write end; 0: none (or the console)
	Stdout   int `json:"stdout,omitempty"`
	Stderr   int `json:"stderr,omitempty"`
	Console  int `json:"console,omitempty"`
	// The built-in runtime's container: the berth binary (an O_PATH
	// descriptor) to run `berth runtime` with, the container's state
	// directory and cgroup, and whether its spec has hooks (which only
	// `berth runtime` runs).
	Berth  int               `json:"berth,omitempty"`
	Dir    string            `json:"dir,omitempty"`
	Cgroup map[string]string `json:"cgroup,omitempty"`
	Hooks  bool              `json:"hooks,omitempty"`
}

// image is the serving image the daemon hands to the shims it starts:
// embedded by hack/build.sh (image_embed.go), or set by SetImage.
var (
	imageMu    sync.Mutex
	imageBytes = embeddedImage
	imageFile  *os.File
)

// SetImage makes b the serving image of the shims started from now on
// (nil: none, each shim serves in the process that created its container).
// Tests use it; a berth built by hack/build.sh carries its own.
func SetImage(b []byte) {
	imageMu.Lock()
	defer imageMu.Unlock()
	if imageFile != nil {
		imageFile.Close()
	}
	imageBytes, imageFile = b, nil
}

// servingImage returns the sealed memfd holding the serving image, made on
// first use; nil when there is none. A failure is not kept: the next start
// tries again, and this one serves in place.
func servingImage() (*os.File, error) {
	imageMu.Lock()
	defer imageMu.Unlock()
	if len(imageBytes) == 0 || imageFile != nil {
		return imageFile, nil
	}
	fd, err := memfdExec("berth-shim")
	if err != nil {
		return nil, fmt.Errorf("shim image: %w", err)
	}
	f := os.NewFile(uintptr(fd), "berth-shim")
	if _, err := f.Write(imageBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("shim image: %w", err)
	}
	// Sealed: no shim, and nothing that gets hold of the descriptor, can
	// change what later shims run.
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("shim image: seal: %w", err)
	}
	if len(embeddedImage) > 0 && &imageBytes[0] == &embeddedImage[0] {
		dropPages(imageBytes)
	}
	imageFile = f
	return f, nil
}

// memfdExec makes an executable memfd: with MFD_EXEC where the kernel
// knows it (6.3 on; vm.memfd_noexec=1 makes memfds without it
// non-executable), without before.
func memfdExec(name string) (int, error) {
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_EXEC)
	if err == unix.EINVAL {
		fd, err = unix.MemfdCreate(name, flags)
	}
	return fd, err
}

// dropPages takes the pages of b, read-only data of the binary's file
// mapping, out of this process's resident set: copying the image into the
// memfd faulted them in (2.8 MB that the daemon then kept resident for
// nothing). The data stays the same: it is read from the file again if
// touched.
func dropPages(b []byte) {
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(&b[0]))
	end := start + uintptr(len(b))
	first := (start + page - 1) &^ (page - 1)
	last := end &^ (page - 1)
	if last <= first {
		return
	}
	_ = unix.Madvise(b[first-start:last-start], unix.MADV_DONTNEED)
}

// imageFd is the serving image's descriptor in this shim, -1 for none. It
// is made close-on-exec at once: no runtime or container inherits it (an
// exec through /proc/self/fd still works).
func imageFd() int {
	fd, err := strconv.Atoi(os.Getenv(imageFdEnv))
	if err != nil || fd < 3 {
		return -1
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return -1
	}
	unix.CloseOnExec(fd)
	return fd
}

// handOver execs the serving image with the created container, keeping the
// shim's pid (the init stays its child, its session and subreaper role
// stay). It returns only if that could not be done, and the shim then
// serves in this process: the output, not read until now (see create), is
// wired before the reaper's lock is let go, so that an exit waits for it.
func (s *shim) handOver(img int, term chan os.Signal) (err error) {
	s.reaper.lock()
	defer s.reaper.unlock()
	defer func() {
		if err != nil {
			s.wirePendingLocked()
		}
	}()
	if !s.reaper.watching(s.pid) {
		return errors.New("the container's init already exited")
	}
	// One SIGTERM (or SIGINT) that Go already took is handled here,
	// without the exec. From here on they are ignored, not held: held
	// across the exec, one would end the serving image as it starts (Go
	// unblocks them before the image can ask for them). Start sends one
	// only until it has "ok", and when the shim then does not exit it
	// deletes the container through the socket or, the shim gone, from
	// the runtime (see proc.await).
	signal.Ignore(unix.SIGTERM, unix.SIGINT)
	defer signal.Notify(term, unix.SIGTERM, unix.SIGINT)
	select {
	case sig := <-term:
		term <- sig
		return errors.New("terminated before the handover")
	default:
	}
	h, err := s.task.handover()
	if err != nil {
		return err
	}
	if h.Berth > 0 {
		defer unix.Close(h.Berth)
	}
	h.Pid = s.pid
	lf, err := s.l.File()
	if err != nil {
		return err
	}
	defer lf.Close()
	keep := []int{h.Berth}
	inherit := func(f *os.File) int {
		fd := rawFd(f)
		keep = append(keep, fd)
		return fd
	}
	h.Listener = inherit(lf)
	h.Stdin = inherit(s.io.stdin)
	h.Stdout = inherit(s.pending.stdout)
	h.Stderr = inherit(s.pending.stderr)
	h.Console = inherit(s.pendingConsole)
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	env := append(baseEnv(), "GOGC="+strconv.Itoa(gcPercent), handoverEnv+"="+string(b))
	// Inherited by the image only: close-on-exec again on every way out
	// but the exec, so that no runtime command or hook gets them.
	defer func() {
		for _, fd := range keep {
			if fd > 0 {
				unix.CloseOnExec(fd)
			}
		}
	}()
	for _, fd := range keep {
		if fd <= 0 {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return err
		}
	}
	err = unix.Exec("/proc/self/fd/"+strconv.Itoa(img), []string{"berth-shim", ServeArg, s.dir}, env)
	return fmt.Errorf("exec the serving image: %w", err)
}

// rawFd is f's descriptor, without Fd's switch to blocking mode; 0 for
// nil.
func rawFd(f *os.File) int {
	if f == nil {
		return 0
	}
	fd := 0
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(u uintptr) { fd = int(u) })
	}
	return fd
}

// ServeMain is the serving image, `berth-shim serve STATE-DIR`: it goes on
// with the container the shim that exec'd it created, as that shim would
// have. It never returns.
func ServeMain() {
	if len(os.Args) < 3 || os.Args[1] != ServeArg {
		fmt.Fprintln(os.Stderr, "usage: berth-shim serve STATE-DIR (run by berth shim, not by hand)")
		os.Exit(2)
	}
	// First: until then a SIGTERM ends this process (see handOver).
	term := notifyTerm()
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(memoryLimit)
	var h handover
	err := json.Unmarshal([]byte(os.Getenv(handoverEnv)), &h)
	if err == nil {
		os.Unsetenv(handoverEnv)
		var s *shim
		if s, err = newServed(os.Args[2], &h); err == nil {
			go s.terminateOn(term)
			s.serve()
		}
	}
	fmt.Fprintf(os.Stderr, "shim: serving image: %v\n", err)
	// Nobody serves the container: do not leave it running unseen.
	if h.Pid > 0 {
		_ = unix.Kill(h.Pid, unix.SIGKILL)
	}
	os.Exit(1)
}

// newServed is newShim in the serving image: the container exists, its
// descriptors are inherited.
func newServed(dir string, h *handover) (*shim, error) {
	s, err := newState(dir)
	if err != nil {
		return nil, err
	}
	s.served = true
	// Kept across exec by the kernel; set again, so that orphans of
	// `berth runtime exec` are surely ours.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become subreaper: %w", err)
	}
	if h.Pid <= 0 || h.Listener < 3 {
		return nil, fmt.Errorf("handover %+v: no init or no socket", *h)
	}
	s.pid = h.Pid
	if s.task, err = servedTaskFor(&s.cfg, h); err != nil {
		return nil, err
	}
	lf := inherited(h.Listener, "shim.sock")
	l, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		return nil, fmt.Errorf("shim socket: %w", err)
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, errors.New("shim socket: not a unix socket")
	}
	ul.SetUnlinkOnClose(false)
	s.l = ul
	p := &procIO{stdinOnce: s.cfg.StdinOnce}
	if s.cfg.LogPath != "" {
		if p.log, err = openJSONLog(s.cfg.LogPath, s.cfg.LogMaxSize, s.cfg.LogMaxFiles, s.cfg.LogCompress); err != nil {
			return nil, err
		}
		p.log.setAttrs(s.cfg.LogAttrs)
	}
	p.stdin = inherited(h.Stdin, "stdin")
	outs := stdioFiles{stdout: inherited(h.Stdout, "stdout"), stderr: inherited(h.Stderr, "stderr")}
	s.io = p
	s.reaper = newReaper()
	s.reaper.lock()
	s.pidfd = openPidfd(s.pid) // a zombie at worst until unlock reaps it
	p.wire(outs, inherited(h.Console, "console"), s.cfg.OpenStdin)
	s.reaper.watchPid(s.pid, s.initExited)
	// unlock reaps an init that exited before this image watched it.
	s.reaper.unlock()
	return s, nil
}

// inherited is the file of an inherited descriptor (nil for 0), made
// close-on-exec and non-blocking so that Go's poller reads it.
func inherited(fd int, name string) *os.File {
	if fd <= 0 {
		return nil
	}
	unix.CloseOnExec(fd)
	_ = syscall.SetNonblock(fd, true)
	return os.NewFile(uintptr(fd), name)
}

// newState is a shim for the state directory dir, its container created
// (not started), its config read and checked.
func newState(dir string) (*shim, error) {
	cfg, err := loadConfig(dir)
	if err != nil {
		return nil, err
	}
	return &shim{cfg: cfg, dir: dir, status: Created, exited: make(chan struct{}), execs: map[string]*execProc{}, idle: time.Now(), pidfd: -1}, nil
}

// loadConfig reads and checks config.json of the state directory dir.
func loadConfig(dir string) (Config, error) {
	var cfg Config
	b, err := os.ReadFile(filepath.Join(dir, configName))
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("read config: %s: %w", filepath.Join(dir, configName), err)
	}
	return cfg, cfg.validate()
}
