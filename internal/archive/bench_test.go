package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// randomLayer builds an uncompressed layer of n files with random contents
// summing to about total bytes.
func randomLayer(tb testing.TB, n int, total int64) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.Grow(int(total) + n*2048)
	tw := tar.NewWriter(&b)
	content := make([]byte, 2*total/int64(n))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	for i := range n {
		if i%50 == 0 {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "d" + strconv.Itoa(i/50) + "/", Mode: 0o755, ModTime: testTime})
		}
		size := rng.Int64N(int64(len(content)))
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "d" + strconv.Itoa(i/50) + "/f" + strconv.Itoa(i), Mode: 0o644, Size: size, ModTime: testTime})
		off := rng.Int64N(int64(len(content)) - size + 1)
		tw.Write(content[off : off+size])
	}
	tw.Close()
	return b.Bytes()
}

// BenchmarkApply unpacks a 100 MB layer of 300 random files; the MB/s it
// reports is the unpack throughput of a plain tar (target: 300 MB/s).
func BenchmarkApply(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	data := randomLayer(b, 300, 100<<20)
	b.SetBytes(int64(len(data)))
	dir := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		root := filepath.Join(dir, strconv.Itoa(i))
		os.Mkdir(root, 0o755)
		b.StartTimer()
		if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(root)
		b.StartTimer()
	}
}

// BenchmarkApplyGzip is BenchmarkApply with the layer gzip-compressed
// (MB/s of uncompressed layer).
func BenchmarkApplyGzip(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	raw := randomLayer(b, 300, 100<<20)
	data := compress(b, Gzip, raw)
	b.SetBytes(int64(len(raw)))
	dir := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		root := filepath.Join(dir, strconv.Itoa(i))
		os.Mkdir(root, 0o755)
		b.StartTimer()
		if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(root)
		b.StartTimer()
	}
}

// BenchmarkApplySmallFiles unpacks 20000 files of 1 KiB in 400 directories
// (a distribution's /usr): the per-entry cost.
func BenchmarkApplySmallFiles(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	var entries []entry
	for i := range 20000 {
		if i%50 == 0 {
			entries = append(entries, dir("usr/d"+strconv.Itoa(i/50)+"/", 0o755))
		}
		entries = append(entries, reg("usr/d"+strconv.Itoa(i/50)+"/f"+strconv.Itoa(i), string(make([]byte, 1024)), 0o644))
	}
	data := makeTar(b, entries...)
	dir := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		root := filepath.Join(dir, strconv.Itoa(i))
		os.Mkdir(root, 0o755)
		b.StartTimer()
		if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(root)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*20000), "µs/file")
}
