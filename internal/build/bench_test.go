package build

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

// benchDockerfile is the small multi-stage Dockerfile: a busybox
// base, two RUN steps, a 10 MB COPY and a COPY --from.
const benchDockerfile = `FROM busybox AS tools
RUN echo tool > /tool
FROM busybox
COPY big.bin /big.bin
RUN wc -c /big.bin > /size
COPY --from=tools /tool /tool
`

// BenchmarkBuild measures a cold build (no cache) and a fully cached
// rebuild with the runtime executor.
func BenchmarkBuild(b *testing.B) {
	for _, mode := range []string{"cold", "cached"} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b)
			dir := b.TempDir()
			big := make([]byte, 10<<20)
			rand.Read(big)
			os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644)
			os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(benchDockerfile), 0o644)
			opts := BuildOptions{ContextDir: dir, Tags: []string{"bench"}}
			if mode == "cached" {
				if _, err := e.b.Build(b.Context(), opts, nil); err != nil {
					b.Fatal(err)
				}
			} else {
				opts.NoCache = true
			}
			runs := e.exec.runs.Load()
			b.ResetTimer()
			for range b.N {
				if _, err := e.b.Build(b.Context(), opts, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if mode == "cached" && e.exec.runs.Load() != runs {
				b.Fatalf("cached rebuilds started %d containers", e.exec.runs.Load()-runs)
			}
		})
	}
}
