package build

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/berth/berth/internal/archive"
)

// unpackContext unpacks the context tar read from r (plain, gzip or zstd)
// into bc's directory in one pass that also hashes each regular file, so
// the COPY steps' cache keys need not read the files again: a fully
// cached rebuild reads its context once, as it streams in.
//
// The tar is hostile: every name is resolved inside the directory
// (os.Root: no "..", no symlink out), a later entry replaces an earlier
// one of the same name, links and symlinks are made as they are (what
// follows them later is checked where it is used), devices, fifos and
// sockets are skipped. A hash is remembered for the file's identity
// (device, inode, size, times) as it is once its metadata is set, so a
// later entry that changes the file (a hard link to it changes its ctime)
// makes the builder hash it from disk again.
func (b *Builder) unpackContext(ctx context.Context, bc *buildContext, r io.Reader) error {
	dr, _, err := archive.DecompressStream(r)
	if err != nil {
		return fmt.Errorf("build context tar: %w", err)
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	type dirTime struct {
		name  string
		mtime time.Time
	}
	var dirs []dirTime
	hs := b.newStreamHasher()
	defer hs.close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("build context tar: %w", err)
		}
		name := path.Clean("/" + h.Name)[1:]
		if name == "" {
			continue
		}
		if err := unpackEntry(bc.root, tr, h, name, hs); err != nil {
			return fmt.Errorf("build context tar: %s: %w", h.Name, err)
		}
		if h.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTime{name, h.ModTime})
		}
	}
	// Directory times last: their entries changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = bc.root.Chtimes(dirs[i].name, dirs[i].mtime, dirs[i].mtime)
	}
	return nil
}

func unpackEntry(root *os.Root, tr *tar.Reader, h *tar.Header, name string, hs *streamHasher) error {
	mode := fs.FileMode(h.Mode).Perm()
	if h.Mode&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if h.Mode&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if h.Mode&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if h.Typeflag == tar.TypeDir {
		fi, err := root.Lstat(name)
		switch {
		case err == nil && fi.IsDir():
		case err == nil:
			if err := root.RemoveAll(name); err != nil {
				return err
			}
			fallthrough
		default:
			if err := root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		if err := root.Lchown(name, h.Uid, h.Gid); err != nil {
			return err
		}
		return root.Chmod(name, mode)
	}
	// A later entry replaces an earlier one, as docker's unpacking does.
	if err := root.RemoveAll(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		err = hs.copy(f, tr)
		if err == nil {
			err = f.Chown(h.Uid, h.Gid)
		}
		if err == nil {
			err = f.Chmod(mode)
		}
		var ino uint64
		if fi, serr := f.Stat(); serr == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				ino = st.Ino
			}
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		atime := h.AccessTime
		if atime.IsZero() {
			atime = h.ModTime
		}
		if err := root.Chtimes(name, atime, h.ModTime); err != nil {
			return err
		}
		var id *syscall.Stat_t
		if fi, err := root.Lstat(name); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Ino == ino && fi.Mode().IsRegular() {
				id = st
			}
		}
		hs.end(id)
		return nil
	case tar.TypeSymlink:
		if err := root.Symlink(h.Linkname, name); err != nil {
			return err
		}
		return root.Lchown(name, h.Uid, h.Gid)
	case tar.TypeLink:
		target := path.Clean("/" + h.Linkname)[1:]
		if target == "" {
			return fmt.Errorf("hard link to the root")
		}
		return root.Link(target, name)
	default:
		// Devices, fifos and sockets have no place in a build context.
		return nil
	}
}

// streamHasher hashes the files the unpacker writes on a goroutine of its
// own, so hashing overlaps with reading the stream and writing the files.
// copy and end are called from one goroutine; the sums go to the
// Builder's table in file order.
type streamHasher struct {
	chunks chan hashChunk
	free   chan []byte
	done   chan struct{}
	closed bool
}

// hashChunk is part of a file's data, or (end) the end of the file with
// its identity, nil when its hash must not be remembered.
type hashChunk struct {
	data []byte
	end  bool
	id   *syscall.Stat_t
}

const (
	hashBufs    = 4
	hashBufSize = 256 << 10
)

func (b *Builder) newStreamHasher() *streamHasher {
	hs := &streamHasher{chunks: make(chan hashChunk, hashBufs+1), free: make(chan []byte, hashBufs), done: make(chan struct{})}
	for range hashBufs {
		hs.free <- make([]byte, hashBufSize)
	}
	go func() {
		defer close(hs.done)
		h := sha256.New()
		for c := range hs.chunks {
			if !c.end {
				h.Write(c.data)
				hs.free <- c.data[:cap(c.data)]
				continue
			}
			if c.id != nil {
				b.sums.put(c.id, h.Sum(nil))
			}
			h.Reset()
		}
	}()
	return hs
}

// copy writes the file's data from r to w and hands it to the hasher.
func (hs *streamHasher) copy(w io.Writer, r io.Reader) error {
	for {
		buf := <-hs.free
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				hs.free <- buf
				hs.end(nil)
				return werr
			}
			hs.chunks <- hashChunk{data: buf[:n]}
		} else {
			hs.free <- buf
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return nil
		case err != nil:
			hs.end(nil)
			return err
		}
	}
}

// end ends the current file: its hash is remembered for id (not when
// nil).
func (hs *streamHasher) end(id *syscall.Stat_t) { hs.chunks <- hashChunk{end: true, id: id} }

// close waits until every file handed over was hashed.
func (hs *streamHasher) close() {
	if !hs.closed {
		hs.closed = true
		close(hs.chunks)
		<-hs.done
	}
}
