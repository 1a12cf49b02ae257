package container

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

type cpOptions struct {
	followLink, archive, quiet bool
}

func newCpCommand(copts *client.Options) *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcCtr, srcPath := splitCpArg(args[0])
			dstCtr, dstPath := splitCpArg(args[1])
			switch {
			case srcCtr != "" && dstCtr != "":
				return &command.StatusError{Code: 1, Err: errors.New("copying between containers is not supported")}
			case srcCtr == "" && dstCtr == "":
				return &command.StatusError{Code: 1, Err: errors.New("must specify at least one container source")}
			}
			return connectDo(copts, func(c *client.Client) error {
				if srcCtr != "" {
					return copyFromContainer(cmd, c, srcCtr, srcPath, dstPath, o)
				}
				return copyToContainer(cmd, c, srcPath, dstCtr, dstPath, o)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	f.BoolVarP(&o.archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCpArg splits "ctr:path"; a local path containing ':' must start
// with '/' or '.' as with docker.
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok {
		return "", arg
	}
	return ctr, p
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (o cpOptions) report(cmd *cobra.Command, n int64, dst string) {
	if o.quiet {
		return
	}
	if f, ok := cmd.ErrOrStderr().(*os.File); ok {
		if _, isTerm := (streams{out: f}).outFd(); isTerm {
			fmt.Fprintf(f, "Successfully copied %s to %s\n", units.HumanSize(float64(n)), dst)
		}
	}
}

func copyFromContainer(cmd *cobra.Command, c *client.Client, ctr, src, dst string, o cpOptions) error {
	ctx := cmd.Context()
	if o.followLink {
		st, err := c.ContainerStatPath(ctx, ctr, mobyclient.ContainerStatPathOptions{Path: src})
		if err == nil && st.Stat.Mode&os.ModeSymlink != 0 {
			src = st.Stat.LinkTarget
			if !path.IsAbs(src) {
				src = path.Join(path.Dir(src), src)
			}
		}
	}
	res, err := c.CopyFromContainer(ctx, ctr, mobyclient.CopyFromContainerOptions{SourcePath: src})
	if err != nil {
		return err
	}
	defer res.Content.Close()
	if dst == "-" {
		cw := &countingWriter{w: cmd.OutOrStdout()}
		_, err := io.Copy(cw, res.Content)
		return err
	}
	srcBase := res.Stat.Name
	srcIsDir := res.Stat.Mode.IsDir()
	if srcIsDir && (strings.HasSuffix(src, "/.") || src == ".") {
		// "dir/.": the directory's content goes into dst, which is made
		// when it does not exist (the archive's entries are ./name).
		if fi, err := os.Stat(dst); err == nil && !fi.IsDir() {
			return &command.StatusError{Code: 1, Err: fmt.Errorf("cannot copy a directory to a file: %s", dst)}
		} else if err != nil {
			if err := os.Mkdir(dst, 0o755); err != nil {
				return &command.StatusError{Code: 1, Err: err}
			}
		}
		n, err := extractTar(res.Content, dst, ".", ".", o.archive)
		if err != nil {
			return &command.StatusError{Code: 1, Err: err}
		}
		o.report(cmd, n, dst)
		return nil
	}
	// Where the archive's top entry lands: inside an existing directory
	// under its own name, or at dst itself.
	destDir, destName := dst, srcBase
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		destDir = dst
	} else if err == nil {
		if srcIsDir {
			return &command.StatusError{Code: 1, Err: fmt.Errorf("cannot copy a directory to a file: %s", dst)}
		}
		destDir, destName = filepath.Dir(dst), filepath.Base(dst)
	} else {
		if strings.HasSuffix(dst, string(filepath.Separator)) || strings.HasSuffix(dst, string(filepath.Separator)+".") {
			return &command.StatusError{Code: 1, Err: errors.New("no such directory")}
		}
		destDir, destName = filepath.Dir(dst), filepath.Base(dst)
		if _, err := os.Stat(destDir); err != nil {
			return &command.StatusError{Code: 1, Err: err}
		}
	}
	n, err := extractTar(res.Content, destDir, srcBase, destName, o.archive)
	if err != nil {
		return &command.StatusError{Code: 1, Err: err}
	}
	o.report(cmd, n, dst)
	return nil
}

// extractTar writes the archive below dir through an os.Root, so no entry
// can land outside it; the top-level name from is renamed to to.
func extractTar(r io.Reader, dir, from, to string, keepOwner bool) (int64, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	cr := &countingReader{r: r}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			_, _ = io.Copy(io.Discard, cr)
			return cr.n, nil
		}
		if err != nil {
			return cr.n, fmt.Errorf("read archive: %w", err)
		}
		name := path.Clean(h.Name)
		if name == from {
			name = to
		} else if rest, ok := strings.CutPrefix(name, from+"/"); ok {
			name = path.Join(to, rest)
		}
		if name == "." || name == "/" {
			continue
		}
		mode := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return cr.n, fmt.Errorf("create %s: %w", name, err)
			}
			_ = root.Chmod(name, mode|fs.FileMode(h.Mode)&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
		case tar.TypeReg:
			_ = root.Remove(name)
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
			if err != nil {
				return cr.n, fmt.Errorf("create %s: %w", name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return cr.n, fmt.Errorf("write %s: %w", name, err)
			}
			_ = root.Chmod(name, mode)
		case tar.TypeSymlink:
			_ = root.Remove(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return cr.n, fmt.Errorf("symlink %s: %w", name, err)
			}
		case tar.TypeLink:
			target := path.Clean(h.Linkname)
			if rest, ok := strings.CutPrefix(target, from+"/"); ok {
				target = path.Join(to, rest)
			}
			_ = root.Remove(name)
			if err := root.Link(target, name); err != nil {
				return cr.n, fmt.Errorf("link %s: %w", name, err)
			}
		default:
			continue
		}
		if keepOwner {
			_ = root.Lchown(name, h.Uid, h.Gid)
		}
		if h.Typeflag != tar.TypeSymlink {
			_ = root.Chtimes(name, h.ModTime, h.ModTime)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func copyToContainer(cmd *cobra.Command, c *client.Client, src, ctr, dst string, o cpOptions) error {
	ctx := cmd.Context()
	if src == "-" {
		_, err := c.CopyToContainer(ctx, ctr, mobyclient.CopyToContainerOptions{DestinationPath: dst, Content: cmd.InOrStdin(), CopyUIDGID: o.archive})
		return err
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return &command.StatusError{Code: 1, Err: err}
	}
	stat := os.Lstat
	if o.followLink {
		stat = os.Stat
	}
	fi, err := stat(abs)
	if err != nil {
		return &command.StatusError{Code: 1, Err: err}
	}
	// The destination decides the archive's top name and where it is
	// unpacked: into an existing directory, or as dst itself.
	destDir, topName := dst, filepath.Base(abs)
	st, err := c.ContainerStatPath(ctx, ctr, mobyclient.ContainerStatPathOptions{Path: dst})
	switch {
	case err == nil && st.Stat.Mode.IsDir():
	case err == nil:
		if fi.IsDir() {
			return &command.StatusError{Code: 1, Err: fmt.Errorf("cannot copy a directory to a file: %s", dst)}
		}
		destDir, topName = path.Dir(dst), path.Base(dst)
	default:
		if strings.HasSuffix(dst, "/") {
			return &command.StatusError{Code: 1, Err: errors.New("no such directory")}
		}
		destDir, topName = path.Dir(dst), path.Base(dst)
	}
	pr, pw := io.Pipe()
	cw := &countingWriter{w: pw}
	go func() { pw.CloseWithError(writeTar(cw, abs, topName, fi, o.archive)) }()
	_, err = c.CopyToContainer(ctx, ctr, mobyclient.CopyToContainerOptions{DestinationPath: destDir, Content: pr, CopyUIDGID: o.archive})
	pr.Close()
	if err != nil {
		return err
	}
	o.report(cmd, cw.n, ctr+":"+dst)
	return nil
}

// writeTar archives src (a file or a tree) with its top entry named top.
func writeTar(w io.Writer, src, top string, fi os.FileInfo, keepOwner bool) error {
	tw := tar.NewWriter(w)
	add := func(p, name string, fi os.FileInfo) error {
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			link = l
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = name
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uname, h.Gname = "", ""
		if !keepOwner {
			h.Uid, h.Gid = 0, 0
		}
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(tw, f); err != nil {
				return err
			}
		}
		return nil
	}
	if !fi.IsDir() {
		if err := add(src, top, fi); err != nil {
			return err
		}
		return tw.Close()
	}
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		return add(p, path.Join(top, filepath.ToSlash(rel)), fi)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

var _ = container.PathStat{}
