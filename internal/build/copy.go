package build

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/patternmatcher"
)

// copySpec is what a COPY/ADD step writes into a root filesystem.
type copySpec struct {
	sources  []source
	dest     string // absolute, slash-separated; a trailing "/" means a directory
	destDir  bool
	uid, gid int
	chown    bool
	chmod    *fs.FileMode
	exclude  *patternmatcher.PatternMatcher
	skip     func(rel string) bool // .dockerignore of the context, relative to the context
	// skipDeep is set when skip has exceptions ("!pattern"): a skipped
	// directory is still walked for the names an exception keeps.
	skipDeep bool
	extract  func(src source) bool // ADD: sources unpacked as tars
	untar    func(src source, destDir string) error
	clamp    *time.Time
	// sums, when set, caches file content hashes across builds.
	sums *fileSums
	// keepOwner keeps the sources' owners (exports) instead of uid/gid.
	keepOwner bool
}

// walk calls fn for each file under each source (the source itself first,
// with rel ""), skipping excluded and ignored names.
func (cs *copySpec) walk(fn func(src source, rel string, fi fs.FileInfo) error) error {
	for _, s := range cs.sources {
		if !s.info.IsDir() {
			if err := fn(s, "", s.info); err != nil {
				return err
			}
			continue
		}
		err := filepath.WalkDir(s.host, func(hp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(s.host, hp)
			rel = filepath.ToSlash(rel)
			if rel == "." {
				rel = ""
			}
			if rel != "" {
				if cs.exclude != nil {
					if m, _ := cs.exclude.MatchesOrParentMatches(rel); m {
						if d.IsDir() {
							return fs.SkipDir
						}
						return nil
					}
				}
				if cs.skip != nil && cs.skip(path.Join(s.rel, rel)) {
					if d.IsDir() && !cs.skipDeep {
						return fs.SkipDir
					}
					return nil
				}
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return fn(s, rel, fi)
		})
		if err != nil {
			return fmt.Errorf("walk %s: %w", s.rel, err)
		}
	}
	return nil
}

// hash is the content hash of the sources: names, types, modes, owners,
// link targets and file contents, never times.
func (cs *copySpec) hash() (string, error) {
	h := sha256.New()
	err := cs.walk(func(s source, rel string, fi fs.FileInfo) error {
		st, _ := fi.Sys().(*syscall.Stat_t)
		var uid, gid uint32
		if st != nil && cs.keepOwner {
			// Without keepOwner the sources' owners do not reach the
			// image (--chown's ids, or root's, do): a tar's and the
			// directory read in place give the same key.
			uid, gid = st.Uid, st.Gid
		}
		mode := fi.Mode()
		if rel == "" && fi.IsDir() && !cs.keepOwner {
			mode = fs.ModeDir // a directory source's own mode is not copied
		}
		fmt.Fprintf(h, "%s\x00%s\x00%o\x00%d:%d\x00", s.rel, rel, mode, uid, gid)
		p := filepath.Join(s.host, filepath.FromSlash(rel))
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00", t)
		case fi.Mode().IsRegular():
			sum, err := cs.sums.sum(p, st)
			if err != nil {
				return err
			}
			h.Write(sum)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// fileSums remembers the SHA-256 of files by their identity and change
// times (device, inode, size, mtime, ctime), so an unchanged context file
// is read once per Builder, not once per build. A write changes ctime,
// which no user can set back.
type fileSums struct {
	mu sync.Mutex
	m  map[fileID][]byte
}

type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

// maxFileSums bounds the remembered sums; the table starts over when full.
const maxFileSums = 1 << 17

func idOf(st *syscall.Stat_t) fileID {
	return fileID{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
}

// put remembers sum as the SHA-256 of the file st describes.
func (fs_ *fileSums) put(st *syscall.Stat_t, sum []byte) {
	fs_.mu.Lock()
	defer fs_.mu.Unlock()
	if fs_.m == nil || len(fs_.m) >= maxFileSums {
		fs_.m = map[fileID][]byte{}
	}
	fs_.m[idOf(st)] = sum
}

func (fs_ *fileSums) sum(p string, st *syscall.Stat_t) ([]byte, error) {
	var id fileID
	if fs_ != nil && st != nil {
		id = idOf(st)
		fs_.mu.Lock()
		s, ok := fs_.m[id]
		fs_.mu.Unlock()
		if ok {
			return s, nil
		}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	s := h.Sum(nil)
	if fs_ != nil && st != nil {
		// The file must not have changed while it was read.
		if fi, err := f.Stat(); err == nil {
			if st2, ok := fi.Sys().(*syscall.Stat_t); ok && st2.Ctim.Nano() == id.ctime && st2.Size == id.size {
				fs_.mu.Lock()
				if fs_.m == nil || len(fs_.m) >= maxFileSums {
					fs_.m = map[fileID][]byte{}
				}
				fs_.m[id] = s
				fs_.mu.Unlock()
			}
		}
	}
	return s, nil
}

// apply copies the sources into the root filesystem dir.
func (cs *copySpec) apply(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	dest := strings.TrimPrefix(path.Clean(cs.dest), "/")
	if dest == "" {
		dest = "."
	}
	destIsDir := cs.destDir || dest == "."
	if !destIsDir {
		if fi, err := root.Stat(dest); err == nil && fi.IsDir() {
			destIsDir = true
		}
	}
	// mkdir makes the directories of rel that are missing, 0755 and owned
	// by the step's user (--chown), as docker's builder does; directories
	// already there are left as they are.
	mkdir := func(rel string) error {
		if rel == "." || rel == "" {
			return nil
		}
		if fi, err := root.Stat(rel); err == nil && fi.IsDir() {
			return nil
		}
		p := ""
		for _, part := range strings.Split(rel, "/") {
			p = path.Join(p, part)
			if _, err := root.Lstat(p); err == nil {
				continue // there already (a directory, or a link to one)
			}
			if err := root.Mkdir(p, 0o755); err != nil {
				if errors.Is(err, fs.ErrExist) {
					continue
				}
				return err
			}
			if err := root.Chmod(p, 0o755); err != nil {
				return err
			}
			if err := root.Lchown(p, cs.uid, cs.gid); err != nil {
				return err
			}
		}
		return nil
	}
	// links maps a multiply-linked source file to the first target it
	// was copied to: its other names become hard links to that target,
	// as docker's builders keep them (one copy of the data in the layer).
	links := map[fileID]string{}
	return cs.walk(func(s source, rel string, fi fs.FileInfo) error {
		if cs.extract != nil && rel == "" && cs.extract(s) {
			if err := mkdir(dest); err != nil {
				return fmt.Errorf("mkdir %s: %w", dest, err)
			}
			return cs.untar(s, dest)
		}
		var target string
		switch {
		case s.info.IsDir():
			target = path.Join(dest, rel)
		case destIsDir:
			target = path.Join(dest, path.Base(s.rel))
		default:
			target = dest
		}
		if err := mkdir(path.Dir(target)); err != nil {
			return fmt.Errorf("mkdir %s: %w", path.Dir(target), err)
		}
		hp := filepath.Join(s.host, filepath.FromSlash(rel))
		mode := fi.Mode()
		perm := mode.Perm() | (mode & (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky))
		if cs.chmod != nil {
			perm = *cs.chmod
		}
		switch {
		case fi.IsDir():
			if err := mkdir(target); err != nil {
				return fmt.Errorf("mkdir %s: %w", target, err)
			}
			if rel == "" && (target == "." || !cs.keepOwner) {
				// A directory source's contents go into the
				// destination: the destination keeps its own mode
				// and owner, or mkdir's when it made it (docker
				// does not give it the source's).
				return nil
			}
		case mode&fs.ModeSymlink != 0:
			t, err := os.Readlink(hp)
			if err != nil {
				return err
			}
			root.RemoveAll(target)
			if err := root.Symlink(t, target); err != nil {
				return fmt.Errorf("symlink %s: %w", target, err)
			}
		case mode.IsRegular():
			st, _ := fi.Sys().(*syscall.Stat_t)
			if st != nil && st.Nlink > 1 {
				id := idOf(st)
				if first, ok := links[id]; ok {
					if first == target {
						return nil
					}
					root.RemoveAll(target)
					if err := root.Link(first, target); err != nil {
						return fmt.Errorf("link %s: %w", target, err)
					}
					return nil // owner, mode and times are first's
				}
				links[id] = target
			}
			// A file already there is replaced, not written through: it
			// may be a hard link of another name (busybox's applets).
			if _, err := root.Lstat(target); err == nil {
				root.RemoveAll(target)
			}
			in, err := os.Open(hp)
			if err != nil {
				return err
			}
			out, err := root.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				in.Close()
				return fmt.Errorf("create %s: %w", target, err)
			}
			_, err = io.Copy(out, in)
			in.Close()
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", target, err)
			}
		default:
			return nil // devices, sockets and fifos are not copied
		}
		uid, gid := cs.uid, cs.gid
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && cs.keepOwner {
			uid, gid = int(st.Uid), int(st.Gid)
		}
		if err := root.Lchown(target, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", target, err)
		}
		if mode&fs.ModeSymlink == 0 {
			if err := root.Chmod(target, perm); err != nil {
				return fmt.Errorf("chmod %s: %w", target, err)
			}
			mt := fi.ModTime()
			if cs.clamp != nil && mt.After(*cs.clamp) {
				mt = *cs.clamp
			}
			if err := root.Chtimes(target, mt, mt); err != nil {
				return fmt.Errorf("chtimes %s: %w", target, err)
			}
		}
		return nil
	})
}

// resolveOwner turns a --chown value into ids, looking names up in the
// root filesystem's /etc/passwd and /etc/group.
func resolveOwner(dir, spec string) (int, int, error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, err := lookupID(dir, "etc/passwd", u, 2)
	if err != nil {
		return 0, 0, invalid("--chown=%s: user %s: %v", spec, u, err)
	}
	gid := uid
	if !hasGroup {
		// A user name without a group takes the user's primary group.
		if _, e := strconv.Atoi(u); e != nil {
			if pg, err := lookupField(dir, "etc/passwd", u, 3); err == nil {
				gid = pg
			}
		}
		return uid, gid, nil
	}
	gid, err = lookupID(dir, "etc/group", g, 2)
	if err != nil {
		return 0, 0, invalid("--chown=%s: group %s: %v", spec, g, err)
	}
	return uid, gid, nil
}

func lookupID(dir, file, name string, field int) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative id")
		}
		return n, nil
	}
	return lookupField(dir, file, name, field)
}

func lookupField(dir, file, name string, field int) (int, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	f, err := root.Open(file)
	if err != nil {
		return 0, fmt.Errorf("no /%s in the image", file)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ":")
		if len(parts) > field && parts[0] == name {
			return strconv.Atoi(parts[field])
		}
	}
	return 0, fmt.Errorf("not found in /%s", file)
}
