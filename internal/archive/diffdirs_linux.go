package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// DiffDirs writes, as an uncompressed layer tar, what turns the full tree
// lower into the full tree upper: the native snapshotter's counterpart of
// Diff, where an active snapshot is a copy of its parent. A path only in
// upper, or whose type, mode, owner, size, mtime, device, link target or
// xattrs differ, is written (a new directory with all it holds); a path only
// in lower becomes a whiteout. File contents are not compared: a copy keeps
// mtimes to the nanosecond and every write moves them, as docker's native
// driver assumes. Order and determinism are Diff's.
func DiffDirs(ctx context.Context, lower, upper string, w io.Writer) error {
	lw := newLayerWriter(w)
	err := compareTrees(ctx, lower, upper, func(kind ChangeKind, rel string, e *upperEntry, ldel *unix.Stat_t) error {
		if kind == ChangeDelete {
			return lw.whiteout(rel, statMtime(ldel))
		}
		return lw.file(e)
	})
	if err == nil {
		err = lw.tw.Close()
	}
	if err != nil {
		return fmt.Errorf("diff %s against %s: %w", upper, lower, err)
	}
	return nil
}

// ChangesDirs lists, docker-diff style and sorted by path, what turns the
// full tree lower into the full tree upper (see DiffDirs).
func ChangesDirs(ctx context.Context, lower, upper string) ([]Change, error) {
	var out []Change
	err := compareTrees(ctx, lower, upper, func(kind ChangeKind, rel string, _ *upperEntry, _ *unix.Stat_t) error {
		out = append(out, Change{Kind: kind, Path: "/" + rel})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("changes of %s against %s: %w", upper, lower, err)
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// compareTrees walks upper and lower together, depth first, names in byte
// order, and calls fn for each difference (e for an added or changed path,
// the lower's stat for a deleted one).
func compareTrees(ctx context.Context, lower, upper string, fn func(ChangeKind, string, *upperEntry, *unix.Stat_t) error) error {
	var cmp func(rel string) error
	cmp = func(rel string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		lnames, err := dirNames(filepath.Join(lower, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		unames, err := dirNames(filepath.Join(upper, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		inLower := map[string]bool{}
		for _, n := range lnames {
			inLower[n] = true
		}
		inUpper := map[string]bool{}
		for _, n := range unames {
			inUpper[n] = true
		}
		all := slices.Sorted(maps.Keys(mergeSets(inLower, inUpper)))
		for _, n := range all {
			crel := path.Join(rel, n)
			lfull := filepath.Join(lower, filepath.FromSlash(crel))
			if !inUpper[n] {
				var lst unix.Stat_t
				if err := unix.Lstat(lfull, &lst); err != nil {
					return err
				}
				if err := fn(ChangeDelete, crel, nil, &lst); err != nil {
					return err
				}
				continue
			}
			e := &upperEntry{rel: crel, full: filepath.Join(upper, filepath.FromSlash(crel))}
			if err := unix.Lstat(e.full, &e.st); err != nil {
				return err
			}
			isDir := e.st.Mode&unix.S_IFMT == unix.S_IFDIR
			if !inLower[n] {
				if err := fn(ChangeAdd, crel, e, nil); err != nil {
					return err
				}
			} else {
				changed, err := differs(lfull, e)
				if err != nil {
					return err
				}
				if changed {
					if err := fn(ChangeModify, crel, e, nil); err != nil {
						return err
					}
				}
			}
			if isDir {
				if err := cmp(crel); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return cmp("")
}

func mergeSets(a, b map[string]bool) map[string]bool {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// dirNames lists the directory p; a path that is missing or not a
// directory lists nothing (its children are all added or deleted).
func dirNames(p string) ([]string, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	names, err := readDirNames(fd)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return names, nil
}

// differs reports whether the lower file at lfull and the upper entry e
// differ in anything a layer records.
func differs(lfull string, e *upperEntry) (bool, error) {
	var l unix.Stat_t
	if err := unix.Lstat(lfull, &l); err != nil {
		return false, err
	}
	u := &e.st
	if l.Mode != u.Mode || l.Uid != u.Uid || l.Gid != u.Gid || l.Mtim != u.Mtim || l.Rdev != u.Rdev {
		return true, nil
	}
	switch u.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if l.Size != u.Size {
			return true, nil
		}
	case unix.S_IFLNK:
		lt, err := os.Readlink(lfull)
		if err != nil {
			return false, err
		}
		ut, err := os.Readlink(e.full)
		if err != nil {
			return false, err
		}
		if lt != ut {
			return true, nil
		}
	}
	lx, err := readXattrs(lfull)
	if err != nil {
		return false, err
	}
	ux, err := readXattrs(e.full)
	if err != nil {
		return false, err
	}
	return !maps.Equal(lx, ux), nil
}
