package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// LayerSize reads a layer (uncompressed, gzip or zstd) and returns the Size
// Apply would report in ApplyStats for it, without writing anything: for
// layers unpacked before their size was recorded.
func LayerSize(r io.Reader) (int64, error) {
	dr, _, err := DecompressStream(r)
	if err != nil {
		return 0, err
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	var size int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return size, nil
		}
		if err != nil {
			return size, fmt.Errorf("read layer: %w", err)
		}
		if strings.HasPrefix(path.Base(hdr.Name), WhiteoutPrefix) {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			size += hdr.Size
		case tar.TypeSymlink:
			size += int64(len(hdr.Linkname))
		}
	}
}
