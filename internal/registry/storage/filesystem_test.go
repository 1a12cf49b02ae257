package storage_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth/berth/internal/registry/storage"
	"github.com/berth/berth/internal/registry/storage/storagetest"
)

func TestFilesystem(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		d, err := storage.NewFilesystem(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestMemory(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver { return storage.NewMemory() })
}

// A crash between PutContent's write and its rename leaves a temporary file
// that List never shows.
func TestFilesystemHidesTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	d, err := storage.NewFilesystem(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "x", "link.tmp-1-1"), []byte("half"), 0o644)
	os.WriteFile(filepath.Join(dir, "x", "real"), []byte("r"), 0o644)
	got, err := d.List(t.Context(), "x")
	if err != nil || len(got) != 1 || got[0] != "x/real" {
		t.Fatalf("List = %v, %v; want [x/real]", got, err)
	}
}
