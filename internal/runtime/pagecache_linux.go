package runtime

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// PageCacheDir holds a marker per berth binary (device, inode, size and
// modification time) whose page cache a berth process has refreshed, or
// started a refresh of, since the machine booted (a marker older than the
// boot counts as none, where /run is not a tmpfs). The environment's
// _BERTH_PAGECACHE_DIR replaces it (tests).
const PageCacheDir = "/run/berth/pagecache"

// KeepBinaryCached has the running berth binary's page cache refreshed into
// 2 MB folios, once per binary per boot (docs/runtime.md, "The binary's
// page cache"): a process exec'd from a binary cached in 2 MB folios maps
// its code and read-only data with a few 2 MB page-table entries, where 4
// KB folios cost it a fault per 64 KB (about 200 faults, a fifth of a
// `berth runtime run` in a VM). The page cache loses that shape when the
// file's pages are dropped (a reboot, memory pressure): the next start
// reads them back in 4 KB folios, and they stay so while any process maps
// them.
//
// The refresh is the init image's (pagecache.c), a program that does not
// map berth: it reads the file through a MADV_HUGEPAGE mapping, and only
// when that does not come out in 2 MB pages, drops the file's unmapped
// cached pages first and reads it again. With inPlace false it is started
// detached and works once this process has exited (a command's process);
// with inPlace true this process execs it, and it execs berth again with
// the same arguments (a daemon starting, whose own mappings would keep the
// 4 KB folios for as long as it runs); KeepBinaryCached then returns only
// when there is nothing to do or the exec failed.
//
// After the first time it costs three system calls (a stat of the binary
// and of its marker, sysinfo). A page cache dropped later in the same boot
// (memory pressure) is not refreshed again.
// Nothing is done in a berth without the init image, by a process that
// cannot write the marker, or in the berth process the refresher exec'd
// (_BERTH_PAGECACHE=done).
func KeepBinaryCached(inPlace bool) {
	if v, ok := os.LookupEnv("_BERTH_PAGECACHE"); ok {
		if v == "done" {
			os.Unsetenv("_BERTH_PAGECACHE")
			renameAfterRefresh()
		}
		return
	}
	if len(initImage) == 0 {
		return
	}
	dir := os.Getenv("_BERTH_PAGECACHE_DIR")
	if dir == "" {
		dir = PageCacheDir
	}
	var st unix.Stat_t
	if unix.Stat("/proc/self/exe", &st) != nil {
		return
	}
	marker := dir + "/" + strconv.FormatUint(st.Dev, 16) + "-" + strconv.FormatUint(st.Ino, 16) +
		"-" + strconv.FormatInt(st.Size, 16) + "-" + strconv.FormatInt(st.Mtim.Nano(), 16)
	var ms unix.Stat_t
	switch err := unix.Stat(marker, &ms); {
	case err == nil && !beforeBoot(ms.Mtim.Sec):
		return
	case err == nil:
		// From an earlier boot, where /run is not a tmpfs. Two processes
		// may both take it over; the second refresh then finds the cache
		// in 2 MB folios and drops nothing.
		_ = os.Remove(marker)
	case err != unix.ENOENT:
		return
	}
	if os.MkdirAll(dir, 0o700) != nil {
		return
	}
	// Exclusive: one process per binary and boot starts the refresh.
	fd, err := unix.Open(marker, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	unix.Close(fd)
	startRefresh(dir, inPlace)
}

// beforeBoot reports whether a time (seconds since the epoch) is before the
// machine last booted.
func beforeBoot(sec int64) bool {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return false
	}
	return sec < time.Now().Unix()-int64(si.Uptime)-2 // uptime is in whole seconds
}

// startRefresh runs the init image's refresh of the binary (see
// KeepBinaryCached).
func startRefresh(dir string, inPlace bool) {
	img, err := sealedImage(dir)
	if err != nil {
		return
	}
	defer img.Close()
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return
	}
	defer exe.Close()
	path := "/proc/self/fd/" + strconv.Itoa(int(img.Fd()))
	if inPlace {
		// The binary's descriptor must outlive the exec (the refresher
		// execs berth from it, close-on-exec then).
		if _, err := unix.FcntlInt(exe.Fd(), unix.F_SETFD, 0); err != nil {
			return
		}
		env := append(os.Environ(), "_BERTH_PAGECACHE=exec:"+strconv.Itoa(int(exe.Fd())))
		_ = syscall.Exec(path, os.Args, env)
		return // exec failed: carry on, unrefreshed
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return
	}
	defer null.Close()
	attr := &syscall.ProcAttr{
		Env:   []string{"_BERTH_PAGECACHE=wait:" + strconv.Itoa(os.Getpid())},
		Files: []uintptr{null.Fd(), null.Fd(), null.Fd(), exe.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	}
	pid, err := syscall.ForkExec(path, []string{"berth:[cache]"}, attr)
	if err != nil {
		return
	}
	// It forks the refresher and exits at once.
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, 0, nil)
}

// renameAfterRefresh gives the process back the name a plain exec of berth
// gives it: exec'd again from a descriptor, ps and top would show it as the
// descriptor's number. Every thread's (Go's threads copy the name they were
// started with).
func renameAfterRefresh() {
	name := os.Args[0]
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if len(name) > 15 { // TASK_COMM_LEN - 1
		name = name[:15]
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, t := range tasks {
		_ = os.WriteFile("/proc/self/task/"+t.Name()+"/comm", []byte(name), 0)
	}
}
