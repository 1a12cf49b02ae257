package engine

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// resolveUser turns docker's --user (name|uid[:group|gid]) into numeric
// IDs with the rootfs's /etc/passwd and /etc/group, plus the user's
// supplementary groups.
func resolveUser(rootfs, u string) (specs.User, error) {
	if u == "" {
		u = "0"
	}
	name, group, _ := strings.Cut(u, ":")
	if name == "" {
		name = "0" // ":GID", as runc's user lookup: root with that group
	}
	passwd := readColonFile(rootfs, "etc/passwd")
	groups := readColonFile(rootfs, "etc/group")
	var out specs.User
	userName := ""
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		out.UID, out.GID = uint32(n), 0
		for _, p := range passwd {
			if len(p) > 3 && p[2] == name {
				gid, _ := strconv.ParseUint(p[3], 10, 32)
				out.GID = uint32(gid)
				userName = p[0]
				break
			}
		}
	} else {
		found := false
		for _, p := range passwd {
			if len(p) > 3 && p[0] == name {
				uid, _ := strconv.ParseUint(p[2], 10, 32)
				gid, _ := strconv.ParseUint(p[3], 10, 32)
				out.UID, out.GID = uint32(uid), uint32(gid)
				userName = name
				found = true
				break
			}
		}
		if !found {
			return out, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unable to find user %s: no matching entries in passwd file", name))
		}
	}
	if group != "" {
		if n, err := strconv.ParseUint(group, 10, 32); err == nil {
			out.GID = uint32(n)
		} else {
			found := false
			for _, g := range groups {
				if len(g) > 2 && g[0] == group {
					gid, _ := strconv.ParseUint(g[2], 10, 32)
					out.GID = uint32(gid)
					found = true
					break
				}
			}
			if !found {
				return out, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unable to find group %s: no matching entries in group file", group))
			}
		}
	}
	// The primary group is among the process's groups, as docker has it;
	// the groups that list the user are added only when --user names no
	// group (docker's implicit form: `-u 0:0` is in group 0 alone).
	out.AdditionalGids = []uint32{out.GID}
	if userName != "" && group == "" {
		for _, g := range groups {
			if len(g) < 4 {
				continue
			}
			for _, m := range strings.Split(g[3], ",") {
				if m == userName {
					gid, _ := strconv.ParseUint(g[2], 10, 32)
					if uint32(gid) != out.GID {
						out.AdditionalGids = append(out.AdditionalGids, uint32(gid))
					}
				}
			}
		}
	}
	return out, nil
}

// readColonFile reads the colon-separated lines of name in rootfs; a
// symlink is followed within rootfs only (the image's /etc/passwd may
// point anywhere).
func readColonFile(rootfs, name string) [][]string {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}

type unixStat struct {
	typ          string
	major, minor int64
	mode         uint32
	uid, gid     uint32
}

func statDevice(p string, st *unixStat) error {
	var s unix.Stat_t
	if err := unix.Stat(p, &s); err != nil {
		return err
	}
	switch s.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		st.typ = "c"
	case unix.S_IFBLK:
		st.typ = "b"
	default:
		return fmt.Errorf("not a device node")
	}
	st.major, st.minor = int64(unix.Major(s.Rdev)), int64(unix.Minor(s.Rdev))
	st.mode, st.uid, st.gid = s.Mode, s.Uid, s.Gid
	return nil
}
