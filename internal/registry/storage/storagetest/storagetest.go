// Package storagetest owns the conformance suite every storage.Driver
// implementation runs from its tests: Run(t, newDriver).
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth/berth/internal/registry/storage"
)

// Run runs the suite; newDriver returns a fresh, empty driver per subtest.
func Run(t *testing.T, newDriver func(t *testing.T) storage.Driver) {
	t.Helper()
	ctx := context.Background()
	t.Run("PutGet", func(t *testing.T) {
		d := newDriver(t)
		if err := d.PutContent(ctx, "a/b/c", []byte("one")); err != nil {
			t.Fatal(err)
		}
		if err := d.PutContent(ctx, "a/b/c", []byte("two")); err != nil {
			t.Fatal(err)
		}
		got, err := d.GetContent(ctx, "a/b/c")
		if err != nil || string(got) != "two" {
			t.Fatalf("GetContent = %q, %v; want two", got, err)
		}
		fi, err := d.Stat(ctx, "a/b/c")
		if err != nil || fi.Size != 3 || fi.IsDir {
			t.Fatalf("Stat = %+v, %v; want a 3-byte file", fi, err)
		}
		fi, err = d.Stat(ctx, "a/b")
		if err != nil || !fi.IsDir {
			t.Fatalf("Stat dir = %+v, %v; want a directory", fi, err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		d := newDriver(t)
		if _, err := d.GetContent(ctx, "missing"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetContent missing: %v, want ErrNotFound", err)
		}
		if _, err := d.Stat(ctx, "missing"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat missing: %v, want ErrNotFound", err)
		}
		if _, err := d.Reader(ctx, "missing", 0); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Reader missing: %v, want ErrNotFound", err)
		}
		if _, err := d.List(ctx, "missing"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("List missing: %v, want ErrNotFound", err)
		}
		if err := d.Delete(ctx, "missing"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Delete missing: %v, want ErrNotFound", err)
		}
		if err := d.Move(ctx, "missing", "x"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Move missing: %v, want ErrNotFound", err)
		}
		if err := d.Touch(ctx, "missing"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Touch missing: %v, want ErrNotFound", err)
		}
	})
	t.Run("InvalidPaths", func(t *testing.T) {
		d := newDriver(t)
		for _, p := range []string{"", "/abs", "a/../b", "a//b", "./a", "a/"} {
			if err := d.PutContent(ctx, p, []byte("x")); err == nil {
				t.Errorf("PutContent(%q) succeeded, want an error", p)
			}
			if _, err := d.GetContent(ctx, p); err == nil {
				t.Errorf("GetContent(%q) succeeded, want an error", p)
			}
		}
	})
	t.Run("WriterAppendAndReaderOffset", func(t *testing.T) {
		d := newDriver(t)
		w, err := d.Writer(ctx, "up/data", false)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "hello ")
		if w.Size() != 6 {
			t.Errorf("Size = %d, want 6", w.Size())
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		w, err = d.Writer(ctx, "up/data", true)
		if err != nil {
			t.Fatal(err)
		}
		if w.Size() != 6 {
			t.Errorf("Size after reopen = %d, want 6", w.Size())
		}
		io.WriteString(w, "world")
		w.Close()
		r, err := d.Reader(ctx, "up/data", 6)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if string(b) != "world" {
			t.Errorf("Reader at 6 = %q, want world", b)
		}
		w, _ = d.Writer(ctx, "up/data", false)
		w.Close()
		if got, _ := d.GetContent(ctx, "up/data"); len(got) != 0 {
			t.Errorf("Writer without append kept %q", got)
		}
		w, _ = d.Writer(ctx, "up/data", true)
		io.WriteString(w, "x")
		if err := w.Cancel(); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Stat(ctx, "up/data"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat after Cancel: %v, want ErrNotFound", err)
		}
	})
	t.Run("ListMoveDelete", func(t *testing.T) {
		d := newDriver(t)
		for _, p := range []string{"r/x/1", "r/y", "r/x/2", "other"} {
			if err := d.PutContent(ctx, p, []byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := d.List(ctx, "r")
		if err != nil || !slices.Equal(got, []string{"r/x", "r/y"}) {
			t.Fatalf("List r = %v, %v; want [r/x r/y]", got, err)
		}
		if err := d.Move(ctx, "r/y", "s/z"); err != nil {
			t.Fatal(err)
		}
		if b, err := d.GetContent(ctx, "s/z"); err != nil || string(b) != "r/y" {
			t.Fatalf("after Move: %q, %v", b, err)
		}
		if _, err := d.Stat(ctx, "r/y"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Move left its source: %v", err)
		}
		if err := d.PutContent(ctx, "s/w", []byte("old")); err != nil {
			t.Fatal(err)
		}
		if err := d.Move(ctx, "s/z", "s/w"); err != nil {
			t.Fatalf("Move over an existing file: %v", err)
		}
		if b, _ := d.GetContent(ctx, "s/w"); string(b) != "r/y" {
			t.Errorf("Move did not replace its destination: %q", b)
		}
		if err := d.Delete(ctx, "r"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.GetContent(ctx, "r/x/1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Delete of a directory left r/x/1: %v", err)
		}
		if b, err := d.GetContent(ctx, "other"); err != nil || string(b) != "other" {
			t.Errorf("Delete touched a sibling: %q, %v", b, err)
		}
	})
	t.Run("Touch", func(t *testing.T) {
		d := newDriver(t)
		d.PutContent(ctx, "f", []byte("x"))
		before, _ := d.Stat(ctx, "f")
		time.Sleep(20 * time.Millisecond)
		if err := d.Touch(ctx, "f"); err != nil {
			t.Fatal(err)
		}
		after, _ := d.Stat(ctx, "f")
		if !after.ModTime.After(before.ModTime) {
			t.Errorf("Touch did not advance the modification time: %v then %v", before.ModTime, after.ModTime)
		}
	})
	t.Run("ConcurrentPutAndDelete", func(t *testing.T) {
		// Writers under one directory while another goroutine deletes
		// siblings (which may remove empty parents): every write must land.
		d := newDriver(t)
		var wg sync.WaitGroup
		errs := make(chan error, 400)
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 50 {
					p := fmt.Sprintf("dir/sub/%d-%d", i, j)
					if err := d.PutContent(ctx, p, []byte(p)); err != nil {
						errs <- err
						continue
					}
					if err := d.Delete(ctx, p); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("ReadersSeeWholeContent", func(t *testing.T) {
		d := newDriver(t)
		a, b := bytes.Repeat([]byte("a"), 1<<16), bytes.Repeat([]byte("b"), 1<<16)
		d.PutContent(ctx, "f", a)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 50 {
				if i%2 == 0 {
					d.PutContent(ctx, "f", b)
				} else {
					d.PutContent(ctx, "f", a)
				}
			}
		}()
		for range 50 {
			got, err := d.GetContent(ctx, "f")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
				t.Fatalf("read a mix of two writes (%d bytes)", len(got))
			}
		}
		<-done
	})
}
