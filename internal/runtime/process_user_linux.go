package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxUserDBSize bounds how much of a container's /etc/passwd or /etc/group is
// read; the files come from the image and are not trusted.
const maxUserDBSize = 16 << 20

// maxUserID is the largest uid or gid resolveUser accepts, as in runc.
const maxUserID = math.MaxInt32

var (
	errNoPasswdEntries = errors.New("no matching entries in passwd file")
	errNoGroupEntries  = errors.New("no matching entries in group file")
)

// passwdEntry is one line of /etc/passwd, the fields resolveUser needs.
type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

// groupEntry is one line of /etc/group.
type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// resolveUser resolves a user spec of `exec --user` ("user", "user:group",
// with names or numeric ids) against /etc/passwd and /etc/group of rootfs,
// as runc's libcontainer/user.GetExecUser does:
//   - a user name must have a passwd entry; a numeric uid need not, and then
//     gets gid 0; with an entry it gets the entry's primary gid;
//   - an explicit group (name, or numeric without an entry) replaces the
//     gid, and there are no additional gids;
//   - without an explicit group, the additional gids are those of the groups
//     that list the user's name as a member.
//
// The files are opened inside rootfs (openat2 RESOLVE_IN_ROOT): a symlink in
// the image cannot make the host's files be read. Missing files count as
// empty.
func resolveUser(rootfs string, spec string) (uid, gid uint32, additional []uint32, err error) {
	userArg, groupArg, hasGroup := strings.Cut(spec, ":")
	if userArg == "" || (hasGroup && groupArg == "") {
		return 0, 0, nil, fmt.Errorf("invalid user spec %q: want user[:group]", spec)
	}
	users, err := readPasswdInRoot(rootfs)
	if err != nil {
		return 0, 0, nil, err
	}

	userName := ""
	if n, isNum := parseUserID(userArg); isNum {
		if n < 0 {
			return 0, 0, nil, fmt.Errorf("user %s: uid out of range 0-%d", userArg, maxUserID)
		}
		uid = uint32(n)
		for _, u := range users {
			if u.uid == uid {
				gid, userName = u.gid, u.name
				break
			}
		}
	} else {
		found := false
		for _, u := range users {
			if u.name == userArg {
				uid, gid, userName, found = u.uid, u.gid, u.name, true
				break
			}
		}
		if !found {
			return 0, 0, nil, fmt.Errorf("unable to find user %s: %w", userArg, errNoPasswdEntries)
		}
	}

	if !hasGroup && userName == "" {
		return uid, gid, nil, nil
	}
	groups, err := readGroupInRoot(rootfs)
	if err != nil {
		return 0, 0, nil, err
	}
	if hasGroup {
		n, isNum := parseUserID(groupArg)
		if isNum && n < 0 {
			return 0, 0, nil, fmt.Errorf("group %s: gid out of range 0-%d", groupArg, maxUserID)
		}
		for _, g := range groups {
			if (isNum && int64(g.gid) == n) || (!isNum && g.name == groupArg) {
				return uid, g.gid, nil, nil
			}
		}
		if !isNum {
			return 0, 0, nil, fmt.Errorf("unable to find group %s: %w", groupArg, errNoGroupEntries)
		}
		return uid, uint32(n), nil, nil
	}
	for _, g := range groups {
		for _, m := range g.members {
			if m == userName {
				additional = append(additional, g.gid)
				break
			}
		}
	}
	return uid, gid, additional, nil
}

// parseUserID parses a decimal id. It returns isNum false for a name, and
// -1 with isNum true for a number out of the 0..maxUserID range.
func parseUserID(s string) (n int64, isNum bool) {
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxUserID {
		return -1, true
	}
	return n, true
}

// readPasswdInRoot parses rootfs/etc/passwd; a missing file has no entries.
func readPasswdInRoot(rootfs string) ([]passwdEntry, error) {
	var out []passwdEntry
	err := scanUserDB(rootfs, "/etc/passwd", func(f []string) {
		// name:password:uid:gid:gecos:home:shell
		if len(f) < 4 {
			return
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return
		}
		e := passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid)}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	})
	return out, err
}

// readGroupInRoot parses rootfs/etc/group; a missing file has no entries.
func readGroupInRoot(rootfs string) ([]groupEntry, error) {
	var out []groupEntry
	err := scanUserDB(rootfs, "/etc/group", func(f []string) {
		// name:password:gid:member,member
		if len(f) < 3 {
			return
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			return
		}
		g := groupEntry{name: f[0], gid: uint32(gid)}
		if len(f) > 3 && f[3] != "" {
			for _, m := range strings.Split(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					g.members = append(g.members, m)
				}
			}
		}
		out = append(out, g)
	})
	return out, err
}

// scanUserDB calls fn with the colon-separated fields of every line of the
// file at name inside rootfs that is not blank or a comment.
func scanUserDB(rootfs, name string, fn func([]string)) error {
	f, err := openFileInRoot(rootfs, name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxUserDBSize))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fn(strings.Split(line, ":"))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s in %s: %w", name, rootfs, err)
	}
	return nil
}

// openFileInRoot opens the regular file at name (an absolute path as seen
// from inside root) for reading, resolving every component inside root:
// symlinks, absolute or with "..", cannot leave it. It uses openat2
// RESOLVE_IN_ROOT and falls back to a component-by-component walk on kernels
// without openat2. Anything but a regular file is refused (a FIFO would
// block).
func openFileInRoot(root, name string) (*os.File, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(rootFd)
	rel := strings.TrimLeft(path.Clean("/"+name), "/")
	display := path.Join(root, rel)

	fd, err := unix.Openat2(rootFd, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		// No openat2 (before Linux 5.6, or blocked by a seccomp filter).
		fd, err = openInRootByWalk(rootFd, rel)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: display, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: display, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("open %s: not a regular file", display)
	}
	return os.NewFile(uintptr(fd), display), nil
}

// maxSymlinkHops bounds the symlinks followed by openInRootByWalk, as the
// kernel's MAXSYMLINKS does.
const maxSymlinkHops = 40

// openInRootByWalk resolves rel inside the directory rootFd one component at
// a time with O_PATH|O_NOFOLLOW, expanding symlinks itself: an absolute
// target restarts at rootFd and ".." never climbs above it. The final file
// is opened read-only, O_NONBLOCK.
func openInRootByWalk(rootFd int, rel string) (int, error) {
	// stack holds the fds of the directories from root (exclusive) down.
	var stack []int
	defer func() {
		for _, fd := range stack {
			unix.Close(fd)
		}
	}()
	cur := func() int {
		if len(stack) == 0 {
			return rootFd
		}
		return stack[len(stack)-1]
	}
	pending := strings.Split(rel, "/")
	hops := 0
	for len(pending) > 0 {
		comp := pending[0]
		pending = pending[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			if len(stack) > 0 {
				unix.Close(stack[len(stack)-1])
				stack = stack[:len(stack)-1]
			}
			continue
		}
		last := len(pending) == 0
		fd, err := unix.Openat(cur(), comp, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(fd)
			hops++
			if hops > maxSymlinkHops {
				return -1, unix.ELOOP
			}
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(cur(), comp, buf)
			if err != nil {
				return -1, err
			}
			target := string(buf[:n])
			if strings.HasPrefix(target, "/") {
				for _, d := range stack {
					unix.Close(d)
				}
				stack = stack[:0]
			}
			pending = append(strings.Split(target, "/"), pending...)
			continue
		}
		if last {
			unix.Close(fd)
			return unix.Openat(cur(), comp, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			unix.Close(fd)
			return -1, unix.ENOTDIR
		}
		stack = append(stack, fd)
	}
	// rel named root itself or only "..": not a file.
	return -1, unix.EISDIR
}

// envWithHome returns env with HOME set, as runc does, when env has no HOME
// or an empty one:
// the home directory of uid in rootfs's /etc/passwd, or "/" when uid has no
// entry (or the entry no home). The init calls it after pivot_root with
// rootfs "/".
func envWithHome(rootfs string, env []string, uid uint32) []string {
	for i, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			if e != "HOME=" {
				return env
			}
			// An empty HOME counts as none, as runc's getenv test.
			env = append(env[:i:i], env[i+1:]...)
			break
		}
	}
	home := "/"
	if users, err := readPasswdInRoot(rootfs); err == nil {
		for _, u := range users {
			if u.uid == uid {
				if u.home != "" {
					home = u.home
				}
				break
			}
		}
	}
	return append(env[:len(env):len(env)], "HOME="+home)
}
