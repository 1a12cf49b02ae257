package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/client"
)

// contextSource is what `build` sends: a tar made from a directory, or a
// tar given on stdin; dockerfile is the name the daemon reads it as.
type contextSource struct {
	dir        string // context directory ("" for a tar on stdin)
	stdinTar   io.Reader
	extraName  string // a Dockerfile added to the tar under this name
	extraBody  []byte
	dockerfile string
}

// prepareContext turns `build`'s PATH and -f into a contextSource, as the
// docker CLI does: "-" reads a tar or, when stdin is not an archive, a
// Dockerfile with an empty context; -f - reads the Dockerfile from stdin;
// a -f outside the context directory is added to the tar under a random
// name.
func prepareContext(path, dockerfile string, stdin io.Reader) (*contextSource, error) {
	if path == "-" {
		if dockerfile == "-" {
			return nil, fmt.Errorf("invalid argument: can't use stdin for both build context and dockerfile")
		}
		br := bufio.NewReader(stdin)
		head, _ := br.Peek(512)
		if isArchive(head) {
			return &contextSource{stdinTar: br, dockerfile: dockerfile}, nil
		}
		body, err := io.ReadAll(br)
		if err != nil {
			return nil, fmt.Errorf("read dockerfile from stdin: %w", err)
		}
		return &contextSource{extraName: "Dockerfile", extraBody: body, dockerfile: "Dockerfile"}, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("unable to prepare context: path %q not found", path)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("unable to prepare context: context must be a directory: %s", path)
	}
	cs := &contextSource{dir: path}
	switch {
	case dockerfile == "-":
		body, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read dockerfile from stdin: %w", err)
		}
		cs.extraName, cs.extraBody = randomDockerfileName(), body
		cs.dockerfile = cs.extraName
	case dockerfile == "":
		cs.dockerfile = "Dockerfile"
		if _, err := os.Stat(filepath.Join(path, "Dockerfile")); err != nil {
			if _, err2 := os.Stat(filepath.Join(path, "dockerfile")); err2 == nil {
				cs.dockerfile = "dockerfile"
			} else {
				abs, _ := filepath.Abs(filepath.Join(path, "Dockerfile"))
				return nil, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat %s: no such file or directory", abs)
			}
		}
	default:
		absCtx, _ := filepath.Abs(path)
		absDf, _ := filepath.Abs(dockerfile)
		if !filepath.IsAbs(dockerfile) {
			// docker resolves a relative -f against the working directory.
			absDf, _ = filepath.Abs(dockerfile)
		}
		body, err := os.ReadFile(absDf)
		if err != nil {
			return nil, fmt.Errorf("unable to prepare context: %w", err)
		}
		if rel, err := filepath.Rel(absCtx, absDf); err == nil && !strings.HasPrefix(rel, "..") {
			cs.dockerfile = filepath.ToSlash(rel)
		} else {
			cs.extraName, cs.extraBody = randomDockerfileName(), body
			cs.dockerfile = cs.extraName
		}
	}
	return cs, nil
}

func randomDockerfileName() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return ".dockerfile." + hex.EncodeToString(b)
}

// isArchive tells a tar, gzip, bzip2, xz or zstd stream by its first bytes.
func isArchive(h []byte) bool {
	for _, m := range [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}} {
		if bytes.HasPrefix(h, m) {
			return true
		}
	}
	return len(h) >= 262 && string(h[257:262]) == "ustar"
}

// offerDir returns the client options of the build request: copts, plus
// for a context directory on a daemon of this host (a unix socket) the
// headers that offer the daemon to read the directory in place
// (client.HeaderContextDir). The tar is still the body; it is sent only if
// the daemon answers Expect: 100-continue with its go-ahead: dockerd
// does, and so does a berth daemon for a client that is not root or a
// directory it does not see as we do.
func (cs *contextSource) offerDir(copts *client.Options) *client.Options {
	if cs.dir == "" || cs.extraName != "" || !strings.HasPrefix(client.ResolveHost(copts.Host), "unix://") {
		return copts
	}
	dir, err := filepath.Abs(cs.dir)
	if err == nil {
		dir, err = filepath.EvalSymlinks(dir)
	}
	var st unix.Stat_t
	if err != nil || unix.Stat(dir, &st) != nil {
		return copts
	}
	o := *copts
	o.Headers = map[string]string{
		client.HeaderContextDir: dir,
		client.HeaderContextID:  fmt.Sprintf("%d:%d", st.Dev, st.Ino),
		"Expect":                "100-continue",
	}
	return &o
}

// writeTo writes the context as a tar to w: the directory's files minus
// those .dockerignore excludes (the Dockerfile and .dockerignore are
// always sent), owned by root as the docker CLI sends them.
func (cs *contextSource) writeTo(w io.Writer) error {
	if cs.stdinTar != nil {
		_, err := io.Copy(w, cs.stdinTar)
		return err
	}
	tw := tar.NewWriter(w)
	if cs.dir != "" {
		if err := cs.writeDir(tw); err != nil {
			return err
		}
	}
	if cs.extraName != "" {
		hdr := &tar.Header{Name: cs.extraName, Mode: 0o600, Size: int64(len(cs.extraBody)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(cs.extraBody); err != nil {
			return err
		}
	}
	return tw.Close()
}

func (cs *contextSource) excludes() ([]string, error) {
	for _, name := range []string{cs.dockerfile + ".dockerignore", ".dockerignore"} {
		if cs.extraName != "" && name != ".dockerignore" {
			continue
		}
		f, err := os.Open(filepath.Join(cs.dir, name))
		if err != nil {
			continue
		}
		defer f.Close()
		pats, err := ignorefile.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return pats, nil
	}
	return nil, nil
}

func (cs *contextSource) writeDir(tw *tar.Writer) error {
	pats, err := cs.excludes()
	if err != nil {
		return err
	}
	pm, err := patternmatcher.New(pats)
	if err != nil {
		return fmt.Errorf("invalid .dockerignore pattern: %w", err)
	}
	keep := map[string]bool{".dockerignore": true, filepath.Clean(cs.dockerfile): true}
	root, err := filepath.Abs(cs.dir)
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("build context %s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if !keep[rel] && len(pats) > 0 {
			skip, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if skip {
				if d.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("build context %s: %w", rel, err)
		}
		hdr.Name = rel
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("build context %s: %w", rel, err)
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("build context %s: %w", rel, err)
			}
		}
		return nil
	})
}
