package build

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/image"
)

// clampWriter rewrites a tar stream so that no entry is newer than t
// (SOURCE_DATE_EPOCH), for reproducible layers.
type clampWriter struct {
	pw   *io.PipeWriter
	done chan error
}

func newClampWriter(w io.Writer, t time.Time) *clampWriter {
	pr, pw := io.Pipe()
	c := &clampWriter{pw: pw, done: make(chan error, 1)}
	go func() {
		tr := tar.NewReader(pr)
		tw := tar.NewWriter(w)
		var err error
		for {
			var h *tar.Header
			h, err = tr.Next()
			if err != nil {
				break
			}
			if h.ModTime.After(t) {
				h.ModTime = t
			}
			h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
			h.Format = tar.FormatPAX
			if err = tw.WriteHeader(h); err != nil {
				break
			}
			if _, err = io.Copy(tw, tr); err != nil {
				break
			}
		}
		if err == io.EOF {
			err = tw.Close()
		}
		pr.CloseWithError(err)
		c.done <- err
	}()
	return c
}

func (c *clampWriter) Write(p []byte) (int, error) { return c.pw.Write(p) }

// Close ends the input and waits for the rewritten stream.
func (c *clampWriter) Close() error {
	c.pw.Close()
	return <-c.done
}

// export writes the root filesystem of img where o says.
func (b *Builder) export(ctx context.Context, img image.Image, o Output) error {
	r := &buildRun{b: b}
	dir, cleanup, err := r.mountImage(ctx, img)
	if err != nil {
		return fmt.Errorf("output %s: %w", o.Type, err)
	}
	defer cleanup()
	switch o.Type {
	case "local":
		if o.Dest == "" {
			return invalid("output type=local: dest is required")
		}
		if err := os.MkdirAll(o.Dest, 0o755); err != nil {
			return fmt.Errorf("output %s: %w", o.Dest, err)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		cs := &copySpec{sources: []source{{host: dir, rel: ".", info: fi}}, dest: "/", destDir: true, keepOwner: true}
		if err := cs.apply(o.Dest); err != nil {
			return fmt.Errorf("output %s: %w", o.Dest, err)
		}
		return nil
	case "tar":
		w := o.Writer
		if w == nil {
			if o.Dest == "" {
				return invalid("output type=tar: dest is required")
			}
			f, err := os.Create(o.Dest)
			if err != nil {
				return fmt.Errorf("output %s: %w", o.Dest, err)
			}
			defer f.Close()
			w = f
		}
		if err := archive.Diff(ctx, nil, dir, w); err != nil {
			return fmt.Errorf("output tar: %w", err)
		}
		return nil
	}
	return invalid("output type=%s: want local or tar", o.Type)
}
