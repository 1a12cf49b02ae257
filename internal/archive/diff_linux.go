package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// readDirNames returns the names in the open directory fd, sorted, and
// closes fd.
func readDirNames(fd int) ([]string, error) {
	d := os.NewFile(uintptr(fd), "dir")
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// isWhiteout reports whether st is an overlay whiteout (a 0/0 character
// device).
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func isOpaque(p string) bool {
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(p, OverlayOpaqueXattr, buf)
	return err == nil && string(buf[:n]) == "y"
}

// upperEntry is one file met while walking an upper directory.
type upperEntry struct {
	rel  string // slash-separated, relative to the upper dir
	full string
	st   unix.Stat_t
}

// walkUpper calls fn for every file under upper, parents before children,
// names in byte order. fn returning errSkipDir skips a directory's children.
func walkUpper(ctx context.Context, upper string, fn func(e *upperEntry) error) error {
	var walk func(rel, full string) error
	walk = func(rel, full string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		fd, err := unix.Open(full, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", full, err)
		}
		names, err := readDirNames(fd)
		if err != nil {
			return fmt.Errorf("read %s: %w", full, err)
		}
		for _, n := range names {
			e := &upperEntry{rel: path.Join(rel, n), full: filepath.Join(full, n)}
			if err := unix.Lstat(e.full, &e.st); err != nil {
				return fmt.Errorf("stat %s: %w", e.full, err)
			}
			err := fn(e)
			if errors.Is(err, errSkipDir) {
				continue
			}
			if err != nil {
				return err
			}
			if e.st.Mode&unix.S_IFMT == unix.S_IFDIR {
				if err := walk(e.rel, e.full); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("", upper)
}

var errSkipDir = errors.New("skip directory")

// Diff writes the changes recorded in the overlay upper directory upper as an
// uncompressed layer tar to w, in the order the package doc describes:
// whiteout devices become ".wh.NAME" entries and opaque directories get a
// ".wh..wh..opq" entry. lower lists the overlay's lower directories, highest
// first; a whiteout of a name no lower has (nothing to hide) is left out.
func Diff(ctx context.Context, lower []string, upper string, w io.Writer) error {
	lw := newLayerWriter(w)
	err := walkUpper(ctx, upper, func(e *upperEntry) error {
		if isWhiteout(&e.st) {
			if len(lower) > 0 && !inLowers(lower, e.rel) {
				return nil
			}
			return lw.whiteout(e.rel, statMtime(&e.st))
		}
		return lw.file(e)
	})
	if err == nil {
		err = lw.tw.Close()
	}
	if err != nil {
		return fmt.Errorf("diff %s: %w", upper, err)
	}
	return nil
}

// layerWriter writes entries of a layer tar.
type layerWriter struct {
	tw    *tar.Writer
	links map[[2]uint64]string
}

func newLayerWriter(w io.Writer) *layerWriter {
	return &layerWriter{tw: tar.NewWriter(w), links: map[[2]uint64]string{}}
}

// whiteout writes the deletion of rel.
func (lw *layerWriter) whiteout(rel string, mtime time.Time) error {
	dir, base := path.Split(rel)
	return lw.tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     dir + WhiteoutPrefix + base,
		Mode:     0o600,
		ModTime:  mtime,
		Format:   tar.FormatPAX,
	})
}

// file writes e with its contents, and an opaque marker after an opaque
// directory.
func (lw *layerWriter) file(e *upperEntry) error {
	if e.st.Mode&unix.S_IFMT == unix.S_IFSOCK {
		// A socket cannot live in a tar; a process recreates it when it
		// listens again. docker commit skips them too.
		slog.Debug("archive: socket left out of the layer", "path", e.rel)
		return nil
	}
	hdr, err := fileHeader(e, lw.links)
	if err != nil {
		return err
	}
	if err := lw.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write header of %s: %w", e.rel, err)
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := copyFile(lw.tw, e.full, hdr.Size); err != nil {
			return err
		}
	}
	if hdr.Typeflag == tar.TypeDir && isOpaque(e.full) {
		return lw.tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.rel + "/" + WhiteoutOpaque,
			Mode:     0o600,
			ModTime:  hdr.ModTime,
			Format:   tar.FormatPAX,
		})
	}
	return nil
}

func statMtime(st *unix.Stat_t) time.Time {
	return time.Unix(st.Mtim.Sec, 0)
}

// fileHeader builds the tar header of one file; links remembers the first
// name of each multiply-linked inode so later names become hard links.
func fileHeader(e *upperEntry, links map[[2]uint64]string) (*tar.Header, error) {
	st := &e.st
	hdr := &tar.Header{
		Name:    e.rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: statMtime(st),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		key := [2]uint64{st.Dev, st.Ino}
		if st.Nlink > 1 {
			if first, ok := links[key]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				return hdr, nil
			}
			links[key] = e.rel
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		target, err := os.Readlink(e.full)
		if err != nil {
			return nil, fmt.Errorf("readlink %s: %w", e.full, err)
		}
		hdr.Linkname = target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil, fmt.Errorf("%s: sockets cannot go into a layer", e.rel)
	}
	xa, err := readXattrs(e.full)
	if err != nil {
		return nil, err
	}
	for k, v := range xa {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = v
	}
	return hdr, nil
}

// readXattrs returns the xattrs of p that belong in a layer: all but the
// overlay's own trusted.overlay.* ones.
func readXattrs(p string) (map[string]string, error) {
	return listXattrs(p, unix.Llistxattr, unix.Lgetxattr)
}

// listXattrs returns the xattrs of p but the overlay's own, with the list
// and get calls given (the l-variants not to follow a final symlink, the
// plain ones for a /proc/self/fd path).
func listXattrs(p string, list func(string, []byte) (int, error), get func(string, string, []byte) (int, error)) (map[string]string, error) {
	sz, err := list(p, nil)
	if err != nil || sz == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			err = nil
		}
		if err != nil {
			return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
		}
		return nil, nil
	}
	buf := make([]byte, sz)
	sz, err = list(p, buf)
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	out := map[string]string{}
	for name := range strings.SplitSeq(string(buf[:sz]), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		vsz, err := get(p, name, nil)
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", name, p, err)
		}
		val := make([]byte, vsz)
		vsz, err = get(p, name, val)
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", name, p, err)
		}
		out[name] = string(val[:vsz])
	}
	return out, nil
}

func copyFile(w io.Writer, p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	if n != size {
		return fmt.Errorf("copy %s: file shrank from %d to %d bytes while writing the layer", p, size, n)
	}
	return nil
}

// inLowers reports whether any lower directory has rel (without following
// a final symlink).
func inLowers(lower []string, rel string) bool {
	for _, l := range lower {
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(l, filepath.FromSlash(rel)), &st) == nil {
			return !isWhiteout(&st)
		}
	}
	return false
}

// ChangeKind is what happened to a path, as docker diff prints it.
type ChangeKind int

const (
	ChangeModify ChangeKind = iota // "C"
	ChangeAdd                      // "A"
	ChangeDelete                   // "D"
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeAdd:
		return "A"
	case ChangeDelete:
		return "D"
	}
	return "C"
}

// Change is one line of docker diff: a path (absolute, as seen in the
// container) and what happened to it.
type Change struct {
	Kind ChangeKind
	Path string
}

// Changes lists what the overlay upper directory upper changes over its
// lower directories (highest first), sorted by path: "A" for a path no lower
// has, "C" for one it replaces or a directory it changed, "D" for a whiteout,
// and for each entry of a lower directory hidden by an opaque directory.
func Changes(ctx context.Context, lower []string, upper string) ([]Change, error) {
	var out []Change
	err := walkUpper(ctx, upper, func(e *upperEntry) error {
		p := "/" + e.rel
		if isWhiteout(&e.st) {
			if len(lower) == 0 || inLowers(lower, e.rel) {
				out = append(out, Change{Kind: ChangeDelete, Path: p})
			}
			return nil
		}
		kind := ChangeAdd
		if inLowers(lower, e.rel) {
			kind = ChangeModify
		}
		out = append(out, Change{Kind: kind, Path: p})
		if e.st.Mode&unix.S_IFMT == unix.S_IFDIR && kind == ChangeModify && isOpaque(e.full) {
			hidden, err := lowerNames(lower, e.rel)
			if err != nil {
				return err
			}
			for _, n := range hidden {
				var st unix.Stat_t
				if unix.Lstat(filepath.Join(e.full, n), &st) != nil {
					out = append(out, Change{Kind: ChangeDelete, Path: path.Join(p, n)})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("changes of %s: %w", upper, err)
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// lowerNames lists the names the merged lower directories show in rel.
func lowerNames(lower []string, rel string) ([]string, error) {
	seen := map[string]bool{}
	var names []string
	for _, l := range lower {
		fd, err := unix.Open(filepath.Join(l, filepath.FromSlash(rel)), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		ns, err := readDirNames(fd)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			if !seen[n] {
				seen[n] = true
				var st unix.Stat_t
				if unix.Lstat(filepath.Join(l, filepath.FromSlash(rel), n), &st) == nil && !isWhiteout(&st) {
					names = append(names, n)
				}
			}
		}
		if isOpaque(filepath.Join(l, filepath.FromSlash(rel))) {
			break
		}
	}
	return names, nil
}
