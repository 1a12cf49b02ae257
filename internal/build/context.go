package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"
)

// buildContext is the build context: a directory (the caller's, or one a
// context tar was unpacked into) and its .dockerignore patterns.
type buildContext struct {
	dir    string
	root   *os.Root
	tmp    string
	ignore *patternmatcher.PatternMatcher
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (b *Builder) openContext(ctx context.Context, opts *BuildOptions) (*buildContext, error) {
	bc := &buildContext{}
	if opts.ContextDir != "" {
		d, err := filepath.Abs(opts.ContextDir)
		if err != nil {
			return nil, fmt.Errorf("build context %s: %w", opts.ContextDir, err)
		}
		bc.dir = d
	} else {
		d, err := os.MkdirTemp(filepath.Join(b.root, "tmp"), "context-")
		if err != nil {
			return nil, fmt.Errorf("build context: %w", err)
		}
		bc.dir, bc.tmp = d, d
	}
	r, err := os.OpenRoot(bc.dir)
	if err != nil {
		bc.close()
		return nil, fmt.Errorf("build context: %w", err)
	}
	bc.root = r
	if opts.ContextDir == "" && opts.Context != nil {
		if err := b.unpackContext(ctx, bc, opts.Context); err != nil {
			bc.close()
			return nil, err
		}
	}
	return bc, nil
}

func (bc *buildContext) close() {
	if bc.root != nil {
		bc.root.Close()
	}
	if bc.tmp != "" {
		os.RemoveAll(bc.tmp)
	}
}

func (bc *buildContext) readFile(name string) ([]byte, error) {
	name = filepath.Clean(name)
	if filepath.IsAbs(name) {
		if rel, err := filepath.Rel(bc.dir, name); err == nil && !strings.HasPrefix(rel, "..") {
			name = rel
		} else {
			return os.ReadFile(name)
		}
	}
	fi, err := bc.root.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.Size() > MaxDockerfileBytes {
		return nil, invalid("%d bytes, more than the limit of %d", fi.Size(), MaxDockerfileBytes)
	}
	return bc.root.ReadFile(name)
}

// loadIgnore reads <Dockerfile>.dockerignore when it exists, else
// .dockerignore.
func (bc *buildContext) loadIgnore(dockerfile string) error {
	names := []string{".dockerignore"}
	if dockerfile != "" {
		names = append([]string{filepath.Clean(dockerfile) + ".dockerignore"}, names...)
	} else {
		names = append([]string{"Dockerfile.dockerignore"}, names...)
	}
	for _, n := range names {
		f, err := bc.root.Open(n)
		if err != nil {
			continue
		}
		pats, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", n, err)
		}
		pm, err := patternmatcher.New(pats)
		if err != nil {
			return invalid("%s: %v", n, err)
		}
		bc.ignore = pm
		return nil
	}
	return nil
}

func (bc *buildContext) ignored(rel string) bool {
	if bc.ignore == nil || rel == "." {
		return false
	}
	m, _ := bc.ignore.MatchesOrParentMatches(rel)
	return m
}

// source is one matched COPY/ADD source: its host path (after resolving
// a top-level symlink inside its root) and its name relative to the root.
type source struct {
	host string
	rel  string
	info fs.FileInfo
}

// matchSources resolves a COPY/ADD source pattern inside the root
// directory dir (the build context, or a stage's root filesystem),
// leaving out what skip says.
func matchSources(dir string, root *os.Root, pattern string, skip func(rel string) bool) ([]source, error) {
	p := path.Clean(filepath.ToSlash(pattern))
	if p == ".." || strings.HasPrefix(p, "../") {
		return nil, invalid("%s: forbidden path outside the build context", pattern)
	}
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		p = "."
	}
	var rels []string
	if strings.ContainsAny(p, "*?[") {
		if _, err := path.Match(p, ""); err != nil {
			return nil, invalid("%s: bad pattern: %v", pattern, err)
		}
		err := filepath.WalkDir(dir, func(hp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, hp)
			rel = filepath.ToSlash(rel)
			if rel == "." {
				return nil
			}
			if ok, _ := path.Match(p, rel); ok && !skip(rel) {
				rels = append(rels, rel)
				if d.IsDir() {
					return fs.SkipDir
				}
			}
			if d.IsDir() && strings.Count(rel, "/") >= strings.Count(p, "/") {
				return fs.SkipDir
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pattern, err)
		}
		if len(rels) == 0 {
			return nil, invalid("%s: no source files were specified (no match)", pattern)
		}
	} else {
		if skip(p) {
			return nil, invalid("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", pattern)
		}
		rels = []string{p}
	}
	var out []source
	for _, rel := range rels {
		fi, err := root.Lstat(rel)
		host := filepath.Join(dir, rel)
		escapes := err != nil && strings.Contains(err.Error(), "path escapes")
		if err != nil && !escapes {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, invalid("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", pattern)
			}
			return nil, invalid("%s: %v", pattern, err)
		}
		if escapes || fi.Mode()&fs.ModeSymlink != 0 {
			// Symbolic links on the path, and a source that is one, are
			// followed as docker does: inside the root, an absolute
			// target and ".." taken from the root itself.
			if host, fi, err = resolveInRoot(dir, rel); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil, invalid("%s: not found in the build context: a symbolic link on the way leads outside it or to nothing (links are followed inside the context, as docker does)", pattern)
				}
				return nil, invalid("%s: %v", pattern, err)
			}
		}
		out = append(out, source{host: host, rel: rel, info: fi})
	}
	return out, nil
}

// resolveInRoot resolves rel inside dir as if dir were the root directory
// (openat2's RESOLVE_IN_ROOT: an absolute symlink starts at dir, ".."
// stops there, nothing leads out), following a final symlink too, and
// returns the host path it names and its Lstat.
func resolveInRoot(dir, rel string) (string, fs.FileInfo, error) {
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(d)
	fd, err := unix.Openat2(d, rel, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return "", nil, &fs.PathError{Op: "resolve", Path: rel, Err: err}
	}
	defer unix.Close(fd)
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", nil, err
	}
	base, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(d))
	if err != nil {
		return "", nil, err
	}
	if r, err := filepath.Rel(base, real); err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return "", nil, fmt.Errorf("%s resolves outside the build context", rel)
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return "", nil, err
	}
	return real, fi, nil
}
