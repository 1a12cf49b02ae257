package snapshot_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/snapshot/mount"
)

// BenchmarkContainerRootfs measures what starting a container costs the
// snapshotter: Prepare on a 10-layer image, mount, unmount, Remove.
func BenchmarkContainerRootfs(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for _, c := range []struct {
		name string
		new  func(string) (snapshot.Snapshotter, error)
	}{{"overlay", snapshot.NewOverlay}, {"native", snapshot.NewNative}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			sn, err := c.new(filepath.Join(dir, "root"))
			if err != nil {
				b.Fatal(err)
			}
			defer sn.Close()
			parent := ""
			for i := range 10 {
				key, name := "k"+strconv.Itoa(i), "layer"+strconv.Itoa(i)
				ms, err := sn.Prepare(ctx, key, parent)
				if err != nil {
					b.Fatal(err)
				}
				d, _, _ := mount.WritableDir(ms)
				for j := range 20 {
					os.WriteFile(filepath.Join(d, "f"+strconv.Itoa(i)+"-"+strconv.Itoa(j)), make([]byte, 4096), 0o644)
				}
				if err := sn.Commit(ctx, name, key); err != nil {
					b.Fatal(err)
				}
				parent = name
			}
			target := filepath.Join(dir, "mnt")
			os.Mkdir(target, 0o755)
			b.ResetTimer()
			for i := range b.N {
				key := "c" + strconv.Itoa(i)
				ms, err := sn.Prepare(ctx, key, parent)
				if err != nil {
					b.Fatal(err)
				}
				if err := mount.All(ms, target); err != nil {
					b.Fatal(err)
				}
				if err := mount.UnmountAll(target); err != nil {
					b.Fatal(err)
				}
				if err := sn.Remove(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
