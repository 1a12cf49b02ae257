package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Report is the JSON document the checker prints. Field names are part of the
// contract with test/integration; add fields, never rename them.
type Report struct {
	Pid        int               `json:"pid"`
	Ppid       int               `json:"ppid"`
	Hostname   string            `json:"hostname"`
	Domainname string            `json:"domainname"`
	UID        int               `json:"uid"`
	EUID       int               `json:"euid"`
	GID        int               `json:"gid"`
	EGID       int               `json:"egid"`
	Groups     []int             `json:"groups"`
	Status     map[string]string `json:"status"` // CapEff, CapPrm, CapBnd, CapInh, CapAmb, NoNewPrivs, Seccomp, Umask, SigIgn
	Processes  []Process         `json:"processes"`
	Cwd        string            `json:"cwd"`
	Env        []string          `json:"env"`
	Umask      string            `json:"umask"`
	Rlimits    map[string]Rlimit `json:"rlimits"`
	Mounts     []Mount           `json:"mounts"`
	Readable   map[string]Probe  `json:"readable,omitempty"`
	Writable   map[string]Probe  `json:"writable,omitempty"`
	Tries      map[string]Probe  `json:"tries,omitempty"`
	Files      map[string]string `json:"files,omitempty"` // -cat: content, or "error: ..."
	Cgroups    []string          `json:"cgroups"`
	Limits     map[string]string `json:"limits"` // memory and pids limits as seen inside
	Namespaces map[string]uint64 `json:"namespaces"`
	// SessionKeyring is the description of the session keyring
	// (type;uid;gid;perm;name), or "error: ..." (no keyring support).
	SessionKeyring string       `json:"sessionKeyring"`
	Spawn          *SpawnResult `json:"spawn,omitempty"`
	Alloc          int          `json:"alloc,omitempty"` // MiB allocated and touched
	Errors         []string     `json:"errors,omitempty"`
}

// Process is one entry of /proc as seen inside.
type Process struct {
	Pid  int    `json:"pid"`
	Name string `json:"name"`
}

// Rlimit is one resource limit; -1 means unlimited.
type Rlimit struct {
	Soft int64 `json:"soft"`
	Hard int64 `json:"hard"`
}

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	Point        string `json:"point"`
	Type         string `json:"type"`
	Source       string `json:"source"`
	Options      string `json:"options"`
	SuperOptions string `json:"superOptions"`
}

// Probe is the outcome of an attempt: OK, or the errno that stopped it.
type Probe struct {
	OK    bool   `json:"ok"`
	Errno int    `json:"errno,omitempty"`
	Error string `json:"error,omitempty"`
	Kind  string `json:"kind,omitempty"`  // file, dir, chardev, ... (readable only)
	Bytes int    `json:"bytes,omitempty"` // bytes read, at most 4096, or entries for a directory
}

// SpawnResult says how many children -spawn could start.
type SpawnResult struct {
	Wanted  int    `json:"wanted"`
	Started int    `json:"started"`
	Errno   int    `json:"errno,omitempty"`
	Error   string `json:"error,omitempty"`
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var readable, writable, tries, writes, cats listFlag
	flag.Var(&readable, "readable", "try to read `PATH` (repeatable)")
	flag.Var(&writable, "writable", "try to write `PATH` (repeatable)")
	flag.Var(&tries, "try", "attempt `OP` and report its errno (repeatable)")
	flag.Var(&cats, "cat", "report the content of `PATH` (first 4096 bytes; repeatable)")
	flag.Var(&writes, "write", "write `PATH=TEXT` before reporting (repeatable)")
	spawn := flag.Int("spawn", 0, "fork+exec `N` children")
	spawnPath := flag.String("spawn-path", "/bin/sleep", "program -spawn runs with the argument 30")
	alloc := flag.Int("alloc", 0, "allocate and touch `MIB` mebibytes")
	flag.Parse()

	r := &Report{}
	for _, w := range writes {
		path, text, _ := strings.Cut(w, "=")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			r.errorf("write %s: %v", path, err)
		}
	}
	r.identity()
	r.status()
	r.processes()
	r.rlimits()
	r.mounts()
	r.cgroups()
	r.namespaces()
	r.Readable = probeAll(readable, probeRead)
	r.Writable = probeAll(writable, probeWrite)
	r.Tries = probeAll(tries, try)
	r.cat(cats)
	if *spawn > 0 {
		r.Spawn = spawnChildren(*spawn, *spawnPath)
	}
	if *alloc > 0 {
		r.Alloc = allocate(*alloc)
	}

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		fmt.Fprintf(os.Stderr, "runtimetest: encode report: %v\n", err)
		os.Exit(2)
	}
}

func (r *Report) errorf(format string, args ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
}

func (r *Report) identity() {
	r.Pid = os.Getpid()
	r.Ppid = os.Getppid()
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		r.errorf("uname: %v", err)
	} else {
		r.Hostname = cstring(u.Nodename[:])
		r.Domainname = cstring(u.Domainname[:])
	}
	r.UID, r.EUID = syscall.Getuid(), syscall.Geteuid()
	r.GID, r.EGID = syscall.Getgid(), syscall.Getegid()
	groups, err := syscall.Getgroups()
	if err != nil {
		r.errorf("getgroups: %v", err)
	}
	sort.Ints(groups)
	r.Groups = append([]int{}, groups...)
	if r.Cwd, err = os.Getwd(); err != nil {
		r.errorf("getwd: %v", err)
	}
	r.Env = os.Environ()
	sort.Strings(r.Env)
	r.SessionKeyring = sessionKeyring()
}

// sessionKeyring describes the session keyring (KEYCTL_DESCRIBE of
// KEY_SPEC_SESSION_KEYRING), without making one.
func sessionKeyring() string {
	const keyctl, keyctlDescribe, keySpecSessionKeyring = 250, 6, -3 // x86-64
	if runtime.GOARCH != "amd64" {
		return "error: not on amd64"
	}
	buf := make([]byte, 512)
	id := int64(keySpecSessionKeyring)
	n, _, errno := syscall.Syscall6(keyctl, keyctlDescribe, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if errno != 0 {
		return "error: " + errno.Error()
	}
	if int(n) > len(buf) {
		n = uintptr(len(buf))
	}
	return strings.TrimRight(string(buf[:n]), "\x00")
}

func cstring(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

func (r *Report) status() {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		r.errorf("read /proc/self/status: %v", err)
		return
	}
	want := map[string]bool{"CapEff": true, "CapPrm": true, "CapBnd": true, "CapInh": true,
		"CapAmb": true, "NoNewPrivs": true, "Seccomp": true, "Umask": true, "SigIgn": true}
	r.Status = map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && want[k] {
			r.Status[k] = strings.TrimSpace(v)
		}
	}
	r.Umask = r.Status["Umask"]
}

func (r *Report) processes() {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		r.errorf("read /proc: %v", err)
		return
	}
	r.Processes = []Process{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ...; comm may contain spaces and parentheses.
		s := string(data)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		r.Processes = append(r.Processes, Process{Pid: pid, Name: s[open+1 : end]})
	}
	sort.Slice(r.Processes, func(i, j int) bool { return r.Processes[i].Pid < r.Processes[j].Pid })
}

var rlimitNames = []struct {
	name string
	res  int
}{
	{"RLIMIT_CPU", 0}, {"RLIMIT_FSIZE", 1}, {"RLIMIT_DATA", 2}, {"RLIMIT_STACK", 3},
	{"RLIMIT_CORE", 4}, {"RLIMIT_RSS", 5}, {"RLIMIT_NPROC", 6}, {"RLIMIT_NOFILE", 7},
	{"RLIMIT_MEMLOCK", 8}, {"RLIMIT_AS", 9}, {"RLIMIT_LOCKS", 10}, {"RLIMIT_SIGPENDING", 11},
	{"RLIMIT_MSGQUEUE", 12}, {"RLIMIT_NICE", 13}, {"RLIMIT_RTPRIO", 14}, {"RLIMIT_RTTIME", 15},
}

func (r *Report) rlimits() {
	r.Rlimits = map[string]Rlimit{}
	for _, l := range rlimitNames {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(l.res, &lim); err != nil {
			r.errorf("getrlimit %s: %v", l.name, err)
			continue
		}
		r.Rlimits[l.name] = Rlimit{Soft: limitValue(lim.Cur), Hard: limitValue(lim.Max)}
	}
	// The Go runtime raised our own soft RLIMIT_NOFILE at start-up; it gives
	// children the inherited one back. Read it from a child stopped by
	// ptrace right after its execve, before any of its code runs.
	soft, err := inheritedNofile()
	if err != nil {
		r.errorf("inherited RLIMIT_NOFILE: %v", err)
		return
	}
	lim := r.Rlimits["RLIMIT_NOFILE"]
	lim.Soft = soft
	r.Rlimits["RLIMIT_NOFILE"] = lim
}

func inheritedNofile() (int64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"runtimetest"}, &syscall.ProcAttr{
		Sys: &syscall.SysProcAttr{Ptrace: true},
	})
	if err != nil {
		return 0, fmt.Errorf("start child: %w", err)
	}
	defer func() {
		syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	}()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "Max open files") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "Max open files"))
		if len(f) < 2 {
			break
		}
		if f[0] == "unlimited" {
			return -1, nil
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, errors.New("no \"Max open files\" line in /proc/PID/limits")
}

func limitValue(v uint64) int64 {
	if v == ^uint64(0) {
		return -1
	}
	return int64(v)
}

func (r *Report) mounts() {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		r.errorf("read /proc/self/mountinfo: %v", err)
		return
	}
	r.Mounts = []Mount{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		// id parent major:minor root point options [optional...] - type source superopts
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 6 || len(g) < 3 {
			continue
		}
		r.Mounts = append(r.Mounts, Mount{Point: unescape(f[4]), Options: f[5],
			Type: g[0], Source: g[1], SuperOptions: g[2]})
	}
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (r *Report) cgroups() {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		r.errorf("read /proc/self/cgroup: %v", err)
		return
	}
	r.Cgroups = strings.Split(strings.TrimSpace(string(data)), "\n")
	r.Limits = map[string]string{}
	// cgroup v2 files first, then v1 (hybrid hosts have both).
	for key, path := range map[string]string{
		"memory.max":                  "/sys/fs/cgroup/memory.max",
		"pids.max":                    "/sys/fs/cgroup/pids.max",
		"memory.limit_in_bytes":       "/sys/fs/cgroup/memory/memory.limit_in_bytes",
		"memory.memsw.limit_in_bytes": "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
		"pids/pids.max":               "/sys/fs/cgroup/pids/pids.max",
	} {
		if data, err := os.ReadFile(path); err == nil {
			r.Limits[key] = strings.TrimSpace(string(data))
		}
	}
}

func (r *Report) namespaces() {
	r.Namespaces = map[string]uint64{}
	entries, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		r.errorf("read /proc/self/ns: %v", err)
		return
	}
	for _, e := range entries {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join("/proc/self/ns", e.Name()), &st); err != nil {
			r.errorf("stat /proc/self/ns/%s: %v", e.Name(), err)
			continue
		}
		r.Namespaces[e.Name()] = st.Ino
	}
}

func (r *Report) cat(paths []string) {
	if len(paths) == 0 {
		return
	}
	r.Files = map[string]string{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			r.Files[p] = "error: " + err.Error()
			continue
		}
		buf := make([]byte, 4096)
		n, err := io.ReadFull(f, buf)
		f.Close()
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			r.Files[p] = "error: " + err.Error()
			continue
		}
		r.Files[p] = string(buf[:n])
	}
}

func probeAll(args []string, fn func(string) Probe) map[string]Probe {
	if len(args) == 0 {
		return nil
	}
	m := map[string]Probe{}
	for _, a := range args {
		m[a] = fn(a)
	}
	return m
}

func result(err error) Probe {
	if err == nil {
		return Probe{OK: true}
	}
	p := Probe{Error: err.Error()}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		p.Errno = int(errno)
	}
	return p
}

func probeRead(path string) Probe {
	fi, err := os.Stat(path)
	if err != nil {
		return result(err)
	}
	kind := kindOf(fi.Mode())
	if fi.IsDir() {
		entries, err := os.ReadDir(path)
		p := result(err)
		p.Kind, p.Bytes = kind, len(entries)
		return p
	}
	f, err := os.Open(path)
	if err != nil {
		p := result(err)
		p.Kind = kind
		return p
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	p := result(err)
	p.Kind, p.Bytes = kind, n
	return p
}

func kindOf(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "dir"
	case m&os.ModeCharDevice != 0:
		return "chardev"
	case m&os.ModeDevice != 0:
		return "blockdev"
	case m&os.ModeSymlink != 0:
		return "symlink"
	case m&os.ModeNamedPipe != 0:
		return "fifo"
	case m&os.ModeSocket != 0:
		return "socket"
	default:
		return "file"
	}
}

func probeWrite(path string) Probe {
	fi, err := os.Stat(path)
	if err == nil && fi.IsDir() {
		f, err := os.CreateTemp(path, ".runtimetest-*")
		if err != nil {
			return result(err)
		}
		f.Close()
		os.Remove(f.Name())
		return Probe{OK: true}
	}
	// Open without truncating and write nothing: probing /proc/sys must not
	// change it.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return result(err)
	}
	f.Close()
	return Probe{OK: true}
}

var unshareFlags = map[string]int{
	"mnt": syscall.CLONE_NEWNS, "uts": syscall.CLONE_NEWUTS, "ipc": syscall.CLONE_NEWIPC,
	"net": syscall.CLONE_NEWNET, "pid": syscall.CLONE_NEWPID, "user": syscall.CLONE_NEWUSER,
	"cgroup": 0x02000000,
}

func try(op string) Probe {
	name, arg, _ := strings.Cut(op, ":")
	switch name {
	case "mkdir":
		err := syscall.Mkdir(arg, 0o755)
		if err == nil {
			syscall.Rmdir(arg)
		}
		return result(err)
	case "rmdir":
		return result(syscall.Rmdir(arg))
	case "open":
		fd, err := syscall.Open(arg, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == nil {
			syscall.Close(fd)
		}
		return result(err)
	case "create":
		fd, err := syscall.Open(arg, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_CLOEXEC, 0o644)
		if err == nil {
			syscall.Close(fd)
		}
		return result(err)
	case "sethostname":
		return result(syscall.Sethostname([]byte(arg)))
	case "unshare":
		if arg == "" {
			arg = "mnt"
		}
		flags, ok := unshareFlags[arg]
		if !ok {
			return Probe{Error: fmt.Sprintf("unknown namespace %q", arg)}
		}
		// unshare changes the calling thread only; the checker exits soon.
		return result(syscall.Unshare(flags))
	case "syscall":
		nr, err := strconv.Atoi(arg)
		if err != nil {
			return Probe{Error: fmt.Sprintf("syscall number %q: %v", arg, err)}
		}
		_, _, e := syscall.Syscall(uintptr(nr), 0, 0, 0)
		if e != 0 {
			return result(e)
		}
		return Probe{OK: true}
	}
	return Probe{Error: fmt.Sprintf("unknown operation %q", op)}
}

func spawnChildren(n int, path string) *SpawnResult {
	res := &SpawnResult{Wanted: n}
	var pids []int
	for i := 0; i < n; i++ {
		pid, err := syscall.ForkExec(path, []string{filepath.Base(path), "30"}, &syscall.ProcAttr{
			Files: []uintptr{0, 1, 2},
		})
		if err != nil {
			p := result(err)
			res.Errno, res.Error = p.Errno, p.Error
			break
		}
		pids = append(pids, pid)
	}
	res.Started = len(pids)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	}
	return res
}

var sink [][]byte

func allocate(mib int) int {
	for i := 0; i < mib; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		sink = append(sink, b)
	}
	time.Sleep(10 * time.Millisecond)
	return len(sink)
}
