package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// Format says how Apply writes whiteouts; see the package doc.
type Format int

const (
	// FormatOverlay writes an overlayfs upper directory (the default).
	FormatOverlay Format = iota
	// FormatNative applies the layer onto a full copy of the layers below.
	FormatNative
)

// Whiteout names of the OCI image-spec.
const (
	WhiteoutPrefix = ".wh."
	WhiteoutOpaque = ".wh..wh..opq"
	whiteoutMeta   = ".wh..wh."
)

// OverlayOpaqueXattr marks an opaque directory in an overlay upper layer.
const OverlayOpaqueXattr = "trusted.overlay.opaque"

// maxTrailing bounds the bytes Apply reads after the end-of-archive blocks.
const maxTrailing = 1 << 20

// MaxLayerSize bounds the uncompressed bytes of one layer stream: the reader
// DecompressStream returns (which Apply, LayerSize and the image service's
// import and commit read through) fails with ErrLayerTooLarge past it, so a
// small compressed stream cannot expand without end, nor an endless one be
// read to its end. 64 GiB: docker has no such bound, and no real layer
// comes near it. A daemon or test may lower it.
var MaxLayerSize int64 = 64 << 30

// ErrLayerTooLarge is matched (errors.Is) by the error of a layer stream
// longer than MaxLayerSize uncompressed, as is ErrUnsafe.
var ErrLayerTooLarge = errors.New("layer too large")

type layerTooLargeError struct{ max int64 }

func (e layerTooLargeError) Error() string {
	return fmt.Sprintf("layer too large: the uncompressed layer exceeds the limit of %d bytes", e.max)
}

func (e layerTooLargeError) Is(target error) bool {
	return target == ErrLayerTooLarge || target == ErrUnsafe
}

// Default bounds of ApplyOptions.
const (
	DefaultMaxNameBytes = 4096
	DefaultMaxPAXBytes  = 256 << 10
)

// IDMap maps Size ids starting at ContainerID to ids starting at HostID, as a
// line of /proc/PID/uid_map.
type IDMap struct {
	ContainerID, HostID, Size int
}

// ApplyOptions tunes Apply. The zero value applies in overlay form with no
// id remapping and no total size bound.
type ApplyOptions struct {
	Format Format
	// UIDMaps and GIDMaps, when set, map the owners in the tar (ids inside a
	// user namespace) to host ids; an id outside every range is an error.
	UIDMaps, GIDMaps []IDMap
	// Lowers, in overlay form, are the layers below the upper directory,
	// highest first (as in overlay's lowerdir). A parent directory the tar
	// does not list but its entries need is then created with the owner,
	// mode and xattrs the lowers give it, instead of root 0755, which would
	// otherwise hide theirs in the merged view.
	Lowers []string
	// Uncompressed, when set, receives every byte of the uncompressed tar
	// stream as Apply reads it: give it a sha256 hash to check the layer's
	// diff ID (the image config's rootfs.diff_ids) without a second pass.
	Uncompressed io.Writer
	// MaxSize bounds the sum of the regular files' sizes (a sparse file
	// counts whole); 0 means no bound. Set it for layers from untrusted
	// sources: a few compressed bytes can declare terabytes of holes.
	MaxSize int64
	// MaxNameBytes bounds an entry's name and link name
	// (DefaultMaxNameBytes when 0).
	MaxNameBytes int
	// MaxPAXBytes bounds the summed keys and values of an entry's PAX
	// records, xattrs included (DefaultMaxPAXBytes when 0).
	MaxPAXBytes int
	// Stats, when set, receives figures about the layer once Apply has
	// applied all of it.
	Stats *ApplyStats
	// NoOverwriteDirNonDir refuses an entry that would replace a directory
	// with something else, or something else with a directory (docker
	// cp's noOverwriteDirNonDir): the copy fails instead of deleting a tree.
	NoOverwriteDirNonDir bool
}

// ApplyStats are figures about an applied layer.
type ApplyStats struct {
	// Size is docker's size of the layer: the apparent sizes of the files
	// it adds (regular files, and symbolic links as the length of their
	// target); directories, whiteouts, devices and hard links count
	// nothing. It is what docker's overlay2 driver reports for a layer (the
	// sum over its diff directory, hard links once) and what `docker
	// images` adds up for an image; a file that the same layer writes twice
	// counts twice.
	Size int64
	// TarSize is the size of the uncompressed tar stream.
	TarSize int64
}

// EntryError is the error Apply returns for an entry it refuses or fails to
// write.
type EntryError struct {
	Entry string // the name as the archive gave it
	Err   error
}

func (e *EntryError) Error() string { return fmt.Sprintf("layer entry %q: %v", e.Entry, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }

// ErrUnsafe is wrapped by every rejection of an entry that tries to leave
// the root or exceeds a bound (errors.Is(err, archive.ErrUnsafe)).
var ErrUnsafe = errors.New("unsafe layer entry")

func unsafeErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsafe, fmt.Sprintf(format, args...))
}

// Compression of a layer stream, found by its magic bytes.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
	Bzip2
	Xz
)

func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	case Bzip2:
		return "bzip2"
	case Xz:
		return "xz"
	}
	return "uncompressed"
}

// DetectCompression reports the compression the first bytes of a stream
// announce: gzip and zstd (layers), bzip2 and xz (what docker also reads in
// `docker load`, `import` and a build's ADD).
func DetectCompression(b []byte) Compression {
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return Gzip
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	case bytes.HasPrefix(b, []byte{'B', 'Z', 'h'}):
		return Bzip2
	case bytes.HasPrefix(b, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return Xz
	}
	return Uncompressed
}

// DecompressStream returns the uncompressed form of a layer stream, detecting
// its compression by its magic bytes (DetectCompression), bounded by
// MaxLayerSize. Close releases the decoder; it does not close r.
func DecompressStream(r io.Reader) (io.ReadCloser, Compression, error) {
	rc, c, err := decompressStream(r)
	if err != nil {
		return nil, c, err
	}
	return &boundedReader{ReadCloser: rc, left: MaxLayerSize, max: MaxLayerSize}, c, nil
}

// boundedReader fails once more than max bytes were read through it.
type boundedReader struct {
	io.ReadCloser
	left, max int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Past the bound only if there is more.
		var one [1]byte
		n, err := b.ReadCloser.Read(one[:])
		if n > 0 {
			return 0, layerTooLargeError{max: b.max}
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

func decompressStream(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("read layer header: %w", err)
	}
	switch c := DetectCompression(magic); c {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("gzip layer: %w", err)
		}
		return zr, c, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, c, fmt.Errorf("zstd layer: %w", err)
		}
		return zr.IOReadCloser(), c, nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(br)), c, nil
	case Xz:
		zr, err := xzReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("xz stream: %w", err)
		}
		return zr, c, nil
	}
	return io.NopCloser(br), Uncompressed, nil
}

// Apply unpacks the layer read from r into the directory root, in the form
// opts.Format says, and returns the number of bytes of the uncompressed tar
// stream it read. It reads the stream to its end (so a compressed stream's
// checksum is verified) and stops at the first error, which names the entry;
// what was written before stays. root must exist; Apply never writes outside
// it (see the package doc).
func Apply(ctx context.Context, root string, r io.Reader, opts ApplyOptions) (int64, error) {
	if opts.MaxNameBytes == 0 {
		opts.MaxNameBytes = DefaultMaxNameBytes
	}
	if opts.MaxPAXBytes == 0 {
		opts.MaxPAXBytes = DefaultMaxPAXBytes
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open layer root %s: %w", root, err)
	}
	defer unix.Close(rootFd)

	dr, _, err := DecompressStream(r)
	if err != nil {
		return 0, err
	}
	defer dr.Close()
	cr := &countingReader{r: dr, w: opts.Uncompressed}
	a := &applier{
		root:    root,
		rootFd:  rootFd,
		opts:    opts,
		lastFd:  -1,
		created: map[string]bool{},
		buf:     make([]byte, 1<<20),
	}
	defer a.closeParent()
	tr := tar.NewReader(cr)
	last := ""
	for {
		if err := ctx.Err(); err != nil {
			return cr.n, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if last == "" {
				return cr.n, fmt.Errorf("read layer: first header: %w", err)
			}
			return cr.n, fmt.Errorf("read layer: header after entry %q: %w", last, err)
		}
		last = hdr.Name
		if err := a.entry(hdr, tr); err != nil {
			return cr.n, &EntryError{Entry: hdr.Name, Err: err}
		}
	}
	// Read what follows the end-of-archive blocks, so that the decompressor
	// checks its trailer (gzip CRC and length, zstd checksum). Padding to a
	// record size is normal; more than maxTrailing bytes is refused, as a
	// small compressed stream can inflate to endless zeros.
	n, err := io.CopyBuffer(io.Discard, io.LimitReader(cr, maxTrailing+1), a.buf)
	if err != nil {
		return cr.n, fmt.Errorf("read layer: after the end of the archive: %w", err)
	}
	if n > maxTrailing {
		return cr.n, fmt.Errorf("read layer: %w: more than %d bytes follow the end of the archive", ErrUnsafe, maxTrailing)
	}
	if err := a.finish(); err != nil {
		return cr.n, err
	}
	if opts.Stats != nil {
		*opts.Stats = ApplyStats{Size: a.total + a.linkBytes, TarSize: cr.n}
	}
	return cr.n, nil
}

// countingReader counts what it reads and copies it to w when set.
type countingReader struct {
	r io.Reader
	w io.Writer
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.w != nil && n > 0 {
		if _, werr := c.w.Write(p[:n]); werr != nil {
			return n, fmt.Errorf("copy of the uncompressed layer: %w", werr)
		}
	}
	return n, err
}

// applier carries the state of one Apply.
type applier struct {
	root   string
	rootFd int
	opts   ApplyOptions
	total  int64 // regular files' sizes
	buf    []byte
	// linkBytes is the summed length of the symbolic links' targets
	linkBytes int64

	// the last parent directory opened, reused by consecutive entries
	lastDir string
	lastFd  int

	// directories whose mode and times are set at the end, once nothing
	// more is written into them
	dirs []dirMeta
	// paths this layer created (FormatNative: an opaque marker keeps them)
	created map[string]bool
}

type dirMeta struct {
	name         string
	mode         uint32
	atime, mtime time.Time
}

func (a *applier) closeParent() {
	if a.lastFd >= 0 {
		unix.Close(a.lastFd)
		a.lastFd = -1
		a.lastDir = ""
	}
}

// parent opens the directory dir (clean, relative) beneath the root,
// creating missing components as 0755 directories owned by root.
func (a *applier) parent(dir string) (int, error) {
	if a.lastFd >= 0 && a.lastDir == dir {
		return a.lastFd, nil
	}
	a.closeParent()
	fd, err := openBeneath(a.rootFd, dir, unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) || (errors.Is(err, unix.ENOTDIR) && a.opts.Format == FormatOverlay) {
		fd, err = a.mkdirAll(dir)
	}
	if err != nil {
		return -1, resolveError("parent directory", dir, err)
	}
	a.lastDir, a.lastFd = dir, fd
	return fd, nil
}

func (a *applier) mkdirAll(dir string) (int, error) {
	cur, err := unix.Dup(a.rootFd)
	if err != nil {
		return -1, err
	}
	prefix := ""
	for part := range strings.SplitSeq(dir, "/") {
		prefix = path.Join(prefix, part)
		next, err := openBeneath(a.rootFd, prefix, unix.O_PATH|unix.O_DIRECTORY)
		opaque := false
		if errors.Is(err, unix.ENOTDIR) && a.opts.Format == FormatOverlay {
			// ".wh.d" then "d/x": d comes back, holding only this layer's
			// files, which overlay spells as an opaque directory.
			var st unix.Stat_t
			if unix.Fstatat(cur, part, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && isWhiteout(&st) {
				if err := unix.Unlinkat(cur, part, 0); err != nil {
					unix.Close(cur)
					return -1, err
				}
				opaque, err = true, unix.ENOENT
			}
		}
		if errors.Is(err, unix.ENOENT) {
			if err := unix.Mkdirat(cur, part, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(cur)
				return -1, err
			}
			a.created[prefix] = true
			err = a.inheritLower(cur, part, prefix)
			if err == nil && opaque {
				err = a.markOpaque(cur, part)
			}
			if err != nil {
				unix.Close(cur)
				return -1, err
			}
			next, err = openBeneath(a.rootFd, prefix, unix.O_PATH|unix.O_DIRECTORY)
		}
		unix.Close(cur)
		if err != nil {
			return -1, err
		}
		cur = next
	}
	return cur, nil
}

// inheritLower gives a directory that Apply had to create, in overlay form,
// the owner, mode and xattrs of the same directory in the highest lower
// layer that has it, so the merged view keeps them. The lower is read
// beneath its root, never through a symlink leading out.
func (a *applier) inheritLower(pfd int, name, rel string) error {
	for _, l := range a.opts.Lowers {
		lroot, err := unix.Open(l, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open lower layer %s: %w", l, err)
		}
		fd, err := openBeneath(lroot, rel, unix.O_PATH|unix.O_NOFOLLOW)
		unix.Close(lroot)
		if err != nil {
			continue
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil // a whiteout or a file: the new directory replaces it
		}
		if err := unix.Fchownat(pfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("copy owner of %q from the lower layer: %w", rel, err)
		}
		if err := a.chmodAt(pfd, name, st.Mode&0o7777); err != nil {
			return err
		}
		xa, err := listXattrs(procFd(fd), unix.Listxattr, unix.Getxattr)
		if err != nil {
			return err
		}
		dfd, err := unix.Openat(pfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dfd)
		for k, v := range xa {
			if err := unix.Setxattr(procFd(dfd), k, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
				return fmt.Errorf("copy xattr %s of %q from the lower layer: %w", k, rel, err)
			}
		}
		return nil
	}
	return nil
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	if len(hdr.Name) > a.opts.MaxNameBytes {
		return unsafeErr("name is %d bytes long, more than %d", len(hdr.Name), a.opts.MaxNameBytes)
	}
	if len(hdr.Linkname) > a.opts.MaxNameBytes {
		return unsafeErr("link name is %d bytes long, more than %d", len(hdr.Linkname), a.opts.MaxNameBytes)
	}
	pax := 0
	for k, v := range hdr.PAXRecords {
		pax += len(k) + len(v)
	}
	if pax > a.opts.MaxPAXBytes {
		return unsafeErr("PAX records are %d bytes long, more than %d", pax, a.opts.MaxPAXBytes)
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return unsafeErr("name: %v", err)
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeReg, tar.TypeRegA, tar.TypeDir, tar.TypeSymlink, tar.TypeLink,
		tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return unsafeErr("names the root but is not a directory")
		}
		return a.rootDir(hdr)
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}

	if strings.HasPrefix(base, WhiteoutPrefix) {
		return a.whiteout(dir, base, hdr)
	}

	uid, gid, err := a.mapIDs(hdr.Uid, hdr.Gid)
	if err != nil {
		return err
	}
	pfd, err := a.parent(dir)
	if err != nil {
		return err
	}
	a.created[name] = true

	// An entry replaces what is there, except a directory over a directory,
	// which merges.
	var st unix.Stat_t
	replacesWhiteout := false
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		replacesWhiteout = a.opts.Format == FormatOverlay && isWhiteout(&st)
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if a.opts.NoOverwriteDirNonDir && isDir != (hdr.Typeflag == tar.TypeDir) {
			if isDir {
				return fmt.Errorf("cannot overwrite directory %q with non-directory %q", "/"+name, hdr.Name)
			}
			return fmt.Errorf("cannot overwrite non-directory %q with directory %q", "/"+name, hdr.Name)
		}
		if !(isDir && hdr.Typeflag == tar.TypeDir) {
			if err := removeAllAt(pfd, base); err != nil {
				return fmt.Errorf("replace %q: %w", name, err)
			}
		}
	} else if !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("stat %q: %w", name, err)
	}

	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		return a.regular(pfd, base, hdr, r, mode, uid, gid)
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir: %w", err)
		}
		if err := a.meta(pfd, base, hdr, uid, gid, false); err != nil {
			return err
		}
		if replacesWhiteout {
			// ".wh.d" then "d/" in one layer: the lower d is gone and this
			// d starts empty, which overlay spells as an opaque directory.
			if err := a.markOpaque(pfd, base); err != nil {
				return err
			}
		}
		a.dirs = append(a.dirs, dirMeta{name: name, mode: mode, atime: hdr.AccessTime, mtime: hdr.ModTime})
		return nil
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		a.linkBytes += int64(len(hdr.Linkname))
		return a.meta(pfd, base, hdr, uid, gid, true)
	case tar.TypeLink:
		return a.hardlink(pfd, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
		if err := unix.Mknodat(pfd, base, kind|0o600, dev); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
		if err := a.meta(pfd, base, hdr, uid, gid, true); err != nil {
			return err
		}
		return a.chmodAt(pfd, base, mode)
	}
	return nil
}

func (a *applier) regular(pfd int, base string, hdr *tar.Header, r io.Reader, mode uint32, uid, gid int) error {
	if hdr.Size < 0 {
		return unsafeErr("negative size %d", hdr.Size)
	}
	a.total += hdr.Size
	if a.opts.MaxSize > 0 && a.total > a.opts.MaxSize {
		return unsafeErr("the layer's files exceed the size bound of %d bytes", a.opts.MaxSize)
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	defer unix.Close(fd)
	var written int64
	for written < hdr.Size {
		n, rerr := r.Read(a.buf)
		if n > 0 {
			if err := writeFull(fd, a.buf[:n]); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			written += int64(n)
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				break
			}
			return fmt.Errorf("read contents: %w", rerr)
		}
	}
	if written != hdr.Size {
		return fmt.Errorf("read contents: %d of %d bytes: %w", written, hdr.Size, io.ErrUnexpectedEOF)
	}
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return fmt.Errorf("chown %d:%d: %w", uid, gid, err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod %o: %w", mode, err)
	}
	if err := a.xattrs(hdr, func(k string, v []byte) error { return unix.Fsetxattr(fd, k, v, 0) }); err != nil {
		return err
	}
	return a.times(pfd, base, hdr.AccessTime, hdr.ModTime)
}

func writeFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		b = b[n:]
	}
	return nil
}

func (a *applier) hardlink(pfd int, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return unsafeErr("hard link target %q: %v", hdr.Linkname, err)
	}
	if target == "." {
		return unsafeErr("hard link to the root")
	}
	tdir, tbase := path.Split(target)
	tdir = strings.TrimSuffix(tdir, "/")
	if tdir == "" {
		tdir = "."
	}
	tfd, err := openBeneath(a.rootFd, tdir, unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) && len(a.opts.Lowers) > 0 {
		tfd, err = a.mkdirAll(tdir) // the target may be in a lower layer
	}
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("hard link target %q does not exist in the layer root", hdr.Linkname)
	}
	if err != nil {
		return resolveError("hard link target directory", tdir, err)
	}
	defer unix.Close(tfd)
	// flags 0: a symlink target is linked itself, never followed.
	err = unix.Linkat(tfd, tbase, pfd, base, 0)
	if errors.Is(err, unix.ENOENT) && len(a.opts.Lowers) > 0 {
		// A link to a file of a lower layer: copy it up first, as overlay
		// would on a write through the merged view.
		var found bool
		if found, err = a.copyUp(tfd, tbase, target); err == nil {
			if !found {
				err = unix.ENOENT
			} else {
				err = unix.Linkat(tfd, tbase, pfd, base, 0)
			}
		}
	}
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("hard link target %q does not exist in the layer root or below", hdr.Linkname)
		}
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	return nil
}

// copyUp copies the regular file rel from the highest lower layer that has
// it to name in the directory dirFd of the upper layer.
func (a *applier) copyUp(dirFd int, name, rel string) (bool, error) {
	for _, l := range a.opts.Lowers {
		lroot, err := unix.Open(l, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return false, fmt.Errorf("open lower layer %s: %w", l, err)
		}
		src, err := openBeneath(lroot, rel, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
		unix.Close(lroot)
		if err != nil {
			continue
		}
		in := os.NewFile(uintptr(src), rel) // owns src from here
		defer in.Close()
		var st unix.Stat_t
		if err := unix.Fstat(src, &st); err != nil {
			return false, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return false, nil // a whiteout, or not a file: nothing to link to
		}
		dst, err := unix.Openat(dirFd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return false, fmt.Errorf("copy up %q: %w", rel, err)
		}
		out := os.NewFile(uintptr(dst), rel) // owns dst from here
		defer out.Close()
		if _, err := io.Copy(out, in); err != nil {
			return false, fmt.Errorf("copy up %q: %w", rel, err)
		}
		if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil {
			return false, fmt.Errorf("copy up %q: %w", rel, err)
		}
		if err := unix.Fchmod(dst, st.Mode&0o7777); err != nil {
			return false, fmt.Errorf("copy up %q: %w", rel, err)
		}
		xa, err := listXattrs(procFd(src), unix.Listxattr, unix.Getxattr)
		if err != nil {
			return false, err
		}
		for k, v := range xa {
			if err := unix.Fsetxattr(dst, k, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
				return false, fmt.Errorf("copy up %q: xattr %s: %w", rel, k, err)
			}
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		if err := unix.UtimesNanoAt(dirFd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return false, fmt.Errorf("copy up %q: %w", rel, err)
		}
		return true, nil
	}
	return false, nil
}

// meta sets owner, xattrs and (unless deferred, for directories) times on
// base in pfd without following a symlink there.
func (a *applier) meta(pfd int, base string, hdr *tar.Header, uid, gid int, setTimes bool) error {
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %d:%d: %w", uid, gid, err)
	}
	if hdr.Typeflag == tar.TypeSymlink {
		p := procFd(pfd) + "/" + base
		if err := a.xattrs(hdr, func(k string, v []byte) error { return unix.Lsetxattr(p, k, v, 0) }); err != nil {
			return err
		}
	} else if len(hdr.PAXRecords) > 0 {
		fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		p := procFd(fd)
		err = a.xattrs(hdr, func(k string, v []byte) error { return unix.Setxattr(p, k, v, 0) })
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	if setTimes {
		return a.times(pfd, base, hdr.AccessTime, hdr.ModTime)
	}
	return nil
}

// chmodAt sets the mode of base in pfd, which must not be a symlink; the
// O_PATH descriptor pins the very file that was checked.
func (a *applier) chmodAt(pfd int, base string, mode uint32) error {
	fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	defer unix.Close(fd)
	return chmodFd(fd, mode)
}

func chmodFd(fd int, mode uint32) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil
	}
	if err := unix.Chmod(procFd(fd), mode); err != nil {
		return fmt.Errorf("chmod %o: %w", mode, err)
	}
	return nil
}

func (a *applier) times(pfd int, base string, atime, mtime time.Time) error {
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Sec: 0}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// xattrs applies the SCHILY.xattr. PAX records of hdr with set.
func (a *applier) xattrs(hdr *tar.Header, set func(string, []byte) error) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		if err := set(name, []byte(v)); err != nil {
			if errors.Is(err, unix.ENOTSUP) && !strings.HasPrefix(name, "security.") {
				continue // the filesystem has no such namespace; docker skips too
			}
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

func (a *applier) mapIDs(uid, gid int) (int, int, error) {
	u, err := mapID(a.opts.UIDMaps, uid)
	if err != nil {
		return 0, 0, fmt.Errorf("uid %d: %w", uid, err)
	}
	g, err := mapID(a.opts.GIDMaps, gid)
	if err != nil {
		return 0, 0, fmt.Errorf("gid %d: %w", gid, err)
	}
	return u, g, nil
}

func mapID(maps []IDMap, id int) (int, error) {
	if id < 0 {
		return 0, errors.New("negative id")
	}
	if len(maps) == 0 {
		return id, nil
	}
	for _, m := range maps {
		if id >= m.ContainerID && id < m.ContainerID+m.Size {
			return m.HostID + id - m.ContainerID, nil
		}
	}
	return 0, errors.New("not in the id mappings")
}

// whiteout handles ".wh.*" entries in dir.
func (a *applier) whiteout(dir, base string, hdr *tar.Header) error {
	pfd, err := a.parent(dir)
	if err != nil {
		return err
	}
	if base == WhiteoutOpaque {
		if a.opts.Format == FormatNative {
			return a.clearOpaque(dir, pfd)
		}
		return a.markOpaque(pfd, ".")
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // aufs metadata (.wh..wh.plnk and the like)
	}
	victim := strings.TrimPrefix(base, WhiteoutPrefix)
	if victim == "" || victim == "." || victim == ".." {
		return unsafeErr("whiteout of %q", victim)
	}
	if vrel := path.Join(dir, victim); a.created[vrel] {
		// A whiteout hides the lower layers' files only (image-spec): what
		// this layer made stays, and a directory of it loses the lower
		// layers' children.
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, victim, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil
		}
		if a.opts.Format == FormatOverlay {
			return a.markOpaque(pfd, victim)
		}
		vfd, err := unix.Openat(pfd, victim, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %q: %w", vrel, err)
		}
		defer unix.Close(vfd)
		return a.clearOpaque(vrel, vfd)
	}
	if a.opts.Format == FormatNative {
		if err := removeAllAt(pfd, victim); err != nil {
			return fmt.Errorf("remove %q: %w", path.Join(dir, victim), err)
		}
		a.lastDir = "" // the cached parent may be gone; reopen next time
		a.closeParent()
		return nil
	}
	if err := removeAllAt(pfd, victim); err != nil {
		return fmt.Errorf("replace %q: %w", path.Join(dir, victim), err)
	}
	if err := unix.Mknodat(pfd, victim, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("whiteout device %q: %w", path.Join(dir, victim), err)
	}
	return a.times(pfd, victim, hdr.AccessTime, hdr.ModTime)
}

// markOpaque sets the overlay opaque xattr on name in pfd.
func (a *applier) markOpaque(pfd int, name string) error {
	fd, err := unix.Openat(pfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("mark opaque: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Setxattr(procFd(fd), OverlayOpaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("mark opaque: %w", err)
	}
	return nil
}

// clearOpaque removes every child of dir this layer did not create.
func (a *applier) clearOpaque(dir string, pfd int) error {
	fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	names, err := readDirNames(fd)
	if err != nil {
		return fmt.Errorf("read %q: %w", dir, err)
	}
	for _, n := range names {
		if a.created[path.Join(dir, n)] {
			continue
		}
		if err := removeAllAt(pfd, n); err != nil {
			return fmt.Errorf("remove %q: %w", path.Join(dir, n), err)
		}
	}
	return nil
}

// rootDir applies a "./" entry's owner, mode and times to the root itself.
func (a *applier) rootDir(hdr *tar.Header) error {
	uid, gid, err := a.mapIDs(hdr.Uid, hdr.Gid)
	if err != nil {
		return err
	}
	if err := unix.Fchownat(a.rootFd, "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("chown root: %w", err)
	}
	a.dirs = append(a.dirs, dirMeta{name: ".", mode: uint32(hdr.Mode) & 0o7777, atime: hdr.AccessTime, mtime: hdr.ModTime})
	return nil
}

// finish sets the modes and times of directories once nothing more goes
// into them; of two entries for one directory, the later wins.
func (a *applier) finish() error {
	a.closeParent()
	for _, d := range a.dirs {
		fd, err := openBeneath(a.rootFd, d.name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue // removed by a later whiteout
		}
		if err != nil {
			return &EntryError{Entry: d.name, Err: resolveError("directory", d.name, err)}
		}
		err = chmodFd(fd, d.mode)
		if err == nil {
			atime := d.atime
			if atime.IsZero() {
				atime = d.mtime
			}
			err = unix.UtimesNanoAt(unix.AT_FDCWD, procFd(fd), []unix.Timespec{timespec(atime), timespec(d.mtime)}, 0)
		}
		unix.Close(fd)
		if err != nil {
			return &EntryError{Entry: d.name, Err: err}
		}
	}
	return nil
}
