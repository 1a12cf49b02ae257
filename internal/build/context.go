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
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
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
			return nil, invalid("%s: file not found in build context or excluded by .dockerignore", pattern)
		}
		rels = []string{p}
	}
	var out []source
	for _, rel := range rels {
		fi, err := root.Lstat(rel)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, invalid("%s: file not found in build context or excluded by .dockerignore", pattern)
			}
			if strings.Contains(err.Error(), "path escapes") {
				return nil, invalid("%s: a symlink on the path leads outside the build context", pattern)
			}
			return nil, invalid("%s: %v", pattern, err)
		}
		host := filepath.Join(dir, rel)
		if fi.Mode()&fs.ModeSymlink != 0 {
			// A top-level symlink is followed, as docker does, but only
			// while it stays inside the root.
			if _, err := root.Stat(rel); err != nil {
				return nil, invalid("%s: symlink points outside the build context or to nothing: %v", pattern, err)
			}
			real, err := filepath.EvalSymlinks(host)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", pattern, err)
			}
			if r, err := filepath.Rel(dir, real); err != nil || r == ".." || strings.HasPrefix(r, "../") {
				return nil, invalid("%s: symlink points outside the build context", pattern)
			}
			host = real
			if fi, err = os.Stat(real); err != nil {
				return nil, err
			}
		}
		out = append(out, source{host: host, rel: rel, info: fi})
	}
	return out, nil
}
