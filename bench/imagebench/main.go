// Command imagebench drives Berth's image service for bench/images.sh: it
// makes images of random layers, pushes and pulls them, and times layer
// unpacking. It is a benchmark helper, not a user command.
//
//	imagebench make   --root DIR --ref REF --layers N --size MB
//	imagebench push   --root DIR --ref REF [--src REF]
//	imagebench pull   --root DIR --ref REF
//	imagebench unpack --dir DIR --size MB     prints MB/s of archive.Apply
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/metadata"
	"github.com/berth/berth/internal/snapshot"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: imagebench make|push|pull|unpack [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	root := fs.String("root", "", "data root of the image service")
	ref := fs.String("ref", "", "image reference")
	layers := fs.Int("layers", 1, "layers of a made image")
	size := fs.Int("size", 100, "MB of random data per layer (make) or in total (unpack)")
	dir := fs.String("dir", "", "directory to unpack into")
	src := fs.String("src", "", "push: tag this image as --ref first")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	verbose := fs.Bool("v", false, "debug log (per layer timings) to stderr")
	fs.IntVar(&downloads, "downloads", 0, "parallel layer downloads (the service's default when 0)")
	fs.Parse(os.Args[2:])
	if *verbose {
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(os.Args[1], *root, *ref, *src, *layers, *size, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "imagebench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// downloads is --downloads.
var downloads int

func open(root string) (*image.Service, func(), error) {
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		return nil, nil, err
	}
	db, err := metadata.Open(filepath.Join(root, "metadata.db"))
	if err != nil {
		return nil, nil, err
	}
	sn, err := snapshot.NewOverlay(filepath.Join(root, "snapshots", "overlay"))
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	s, err := image.New(image.Config{Content: cs, Metadata: db, Snapshotter: sn,
		Registry: image.RegistryConfig{MaxConcurrentDownloads: downloads}})
	if err != nil {
		return nil, nil, err
	}
	return s, func() { sn.Close(); db.Close() }, nil
}

// randomTar is a tar of files of 1 MiB random bytes (the last shorter)
// adding up to mb MiB.
func randomTar(mb int, prefix string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	chunk := make([]byte, 1<<20)
	for i := 0; i < mb; i++ {
		rand.Read(chunk)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%s/f%04d", prefix, i), Mode: 0o644, Size: int64(len(chunk)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)})
		tw.Write(chunk)
	}
	tw.Close()
	return buf.Bytes()
}

func run(cmd, root, ref, src string, layers, size int, dir string) error {
	ctx := context.Background()
	switch cmd {
	case "unpack":
		data := randomTar(size, "data")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		start := time.Now()
		n, err := archive.Apply(ctx, dir, bytes.NewReader(data), archive.ApplyOptions{})
		if err != nil {
			return err
		}
		el := time.Since(start)
		fmt.Printf("%.0f\n", float64(n)/1e6/el.Seconds())
		return nil
	}
	t0 := time.Now()
	s, closeFn, err := open(root)
	if err != nil {
		return err
	}
	defer closeFn()
	slog.Debug("stores opened", "t", time.Since(t0))
	defer func() { slog.Debug(cmd+" done", "t", time.Since(t0)) }()
	switch cmd {
	case "make":
		var img image.Image
		for i := 0; i < layers; i++ {
			t := randomTar(size, fmt.Sprintf("layer%02d", i))
			if i == 0 {
				img, err = s.Import(ctx, bytes.NewReader(t), image.ImportOptions{Ref: ref})
			} else {
				img, err = s.CreateFromDiff(ctx, img, bytes.NewReader(t), image.CommitOptions{Ref: ref, CreatedBy: fmt.Sprintf("layer %d", i)})
			}
			if err != nil {
				return err
			}
		}
		fmt.Println(img.ID)
		return nil
	case "push":
		if src != "" {
			if err := s.Tag(ctx, src, ref); err != nil {
				return err
			}
		}
		return s.Push(ctx, ref, image.PushOptions{})
	case "pull":
		_, err := s.Pull(ctx, ref, image.PullOptions{})
		return err
	}
	return fmt.Errorf("unknown command %q", cmd)
}
