package runtime

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
)

// mountInfo is one line of /proc/<pid>/mountinfo (see proc(5)).
type mountInfo struct {
	id, parent   int
	root         string // path of the mount's root inside its filesystem
	mountPoint   string // relative to the reader's root
	options      string // per-mount options (rw,nosuid,...)
	optional     []string
	fsType       string
	source       string
	superOptions string
}

// shared reports whether the mount is in a shared peer group.
func (m mountInfo) shared() bool {
	for _, o := range m.optional {
		if strings.HasPrefix(o, "shared:") {
			return true
		}
	}
	return false
}

// readMountInfo parses a mountinfo file such as /proc/self/mountinfo.
func readMountInfo(path string) ([]mountInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	var mounts []mountInfo
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		m, err := parseMountInfoLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("read mount table %s: %w", path, err)
		}
		mounts = append(mounts, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mount table %s: %w", path, err)
	}
	return mounts, nil
}

// parseMountInfoLine parses one mountinfo line:
// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
func parseMountInfoLine(line string) (mountInfo, error) {
	fields := strings.Fields(line)
	sep := -1
	for i, f := range fields {
		if f == "-" && i >= 6 {
			sep = i
			break
		}
	}
	if sep < 0 || len(fields) < sep+3 {
		return mountInfo{}, fmt.Errorf("malformed mountinfo line %q", line)
	}
	id, err := strconv.Atoi(fields[0])
	if err != nil {
		return mountInfo{}, fmt.Errorf("malformed mount id in %q", line)
	}
	parent, err := strconv.Atoi(fields[1])
	if err != nil {
		return mountInfo{}, fmt.Errorf("malformed parent id in %q", line)
	}
	m := mountInfo{
		id:         id,
		parent:     parent,
		root:       unescapeMountInfo(fields[3]),
		mountPoint: unescapeMountInfo(fields[4]),
		options:    fields[5],
		optional:   fields[6:sep],
		fsType:     fields[sep+1],
		source:     unescapeMountInfo(fields[sep+2]),
	}
	if len(fields) > sep+3 {
		m.superOptions = fields[sep+3]
	}
	return m, nil
}

// unescapeMountInfo decodes the octal escapes (\040 for space, ...) the
// kernel writes into mountinfo paths.
func unescapeMountInfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountContaining returns the mount whose mount point is the longest prefix
// of path (the mount path lives on).
func mountContaining(mounts []mountInfo, path string) (mountInfo, bool) {
	var best mountInfo
	found := false
	for _, m := range mounts {
		if pathWithin(path, m.mountPoint) && (!found || len(m.mountPoint) >= len(best.mountPoint)) {
			best, found = m, true
		}
	}
	return best, found
}

// pathWithin reports whether path equals dir or lies beneath it (both clean
// and absolute).
func pathWithin(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}
