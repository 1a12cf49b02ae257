package runtime

import (
	"errors"
	"os"
	"path"
	"strings"
	"syscall"
)

// The path functions of package path/filepath this package needs, on
// package path: see child, which says why path/filepath is not linked here.

// absPath is filepath.Abs: p made absolute against the working directory,
// and cleaned.
func absPath(p string) (string, error) {
	if path.IsAbs(p) {
		return path.Clean(p), nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return path.Join(wd, p), nil
}

// evalSymlinksMax bounds the symbolic links evalSymlinks follows, as
// filepath.EvalSymlinks does.
const evalSymlinksMax = 255

// evalSymlinks is filepath.EvalSymlinks: p with every symbolic link in it
// resolved, made absolute (against the working directory) and cleaned. Each
// element must exist; an element followed by more must be a directory.
func evalSymlinks(p string) (string, error) {
	rest := p
	if !path.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		// Not cleaned: ".." applies to what the links before it resolve to.
		rest = wd + "/" + p
	}
	resolved := "/"
	links := 0
	for rest != "" {
		var elem string
		var more bool
		elem, rest, more = strings.Cut(strings.TrimLeft(rest, "/"), "/")
		switch elem {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, elem)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			if !fi.IsDir() && more {
				return "", syscall.ENOTDIR
			}
			resolved = next
			continue
		}
		if links++; links > evalSymlinksMax {
			return "", errors.New("EvalSymlinks: too many links")
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			resolved = "/"
		}
		if more {
			target += "/" + rest
		}
		rest = target
	}
	return resolved, nil
}

// splitPathList is filepath.SplitList: the elements of a PATH-like list.
func splitPathList(list string) []string {
	if list == "" {
		return nil
	}
	return strings.Split(list, ":")
}
