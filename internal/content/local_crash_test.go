package content_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
)

const crashEnv = "BERTH_CONTENT_CRASH_ROOT"

// crashBlob is the blob the crashing writer writes: deterministic, so the
// parent knows its digest.
func crashBlob() []byte {
	b := make([]byte, 8<<20)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestMain(m *testing.M) {
	if root := os.Getenv(crashEnv); root != "" {
		crashWriter(root)
		return
	}
	os.Exit(m.Run())
}

// crashWriter runs in the re-executed test binary: it writes crashBlob
// slowly, says "ready" after the first chunk, and waits to be killed.
func crashWriter(root string) {
	s, err := content.Open(root)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	b := crashBlob()
	w, err := s.Writer(context.Background(), "crash", int64(len(b)), digest.FromBytes(b))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	chunk := 64 << 10
	for off := 0; off < len(b)-chunk; off += chunk {
		if _, err := w.Write(b[off : off+chunk]); err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		if off == 0 {
			fmt.Println("ready")
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Never commits: the parent kills it before it runs out of chunks.
	time.Sleep(time.Minute)
	os.Exit(3)
}

func TestKilledWriterLeavesNoBlob(t *testing.T) {
	root := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("writer said %q, %v; want ready", line, err)
	}
	time.Sleep(20 * time.Millisecond) // let it write a few more chunks
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	b := crashBlob()
	d := ocispec.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}
	ingests, _ := os.ReadDir(filepath.Join(root, "ingest"))
	if len(ingests) != 1 {
		t.Fatalf("the killed writer left %d ingests, want 1 (the test did not kill it mid-ingest)", len(ingests))
	}

	s, err := content.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if ingests, _ := os.ReadDir(filepath.Join(root, "ingest")); len(ingests) != 0 {
		t.Fatalf("Open left %d ingests behind", len(ingests))
	}
	if _, err := s.Info(context.Background(), d.Digest); !errdefs.IsNotFound(err) {
		t.Fatalf("Info of the partial blob = %v, want not found", err)
	}
	n := 0
	s.Walk(context.Background(), func(content.Info) error { n++; return nil })
	if n != 0 {
		t.Fatalf("Walk after the crash saw %d blobs, want 0", n)
	}
	// Repeated, the write completes.
	if err := content.WriteBlob(context.Background(), s, "crash", bytes.NewReader(b), d); err != nil {
		t.Fatalf("repeat after the crash: %v", err)
	}
	if st, err := s.GC(context.Background(), func() []digest.Digest { return []digest.Digest{d.Digest} }); err != nil || st.Kept != 1 || len(st.Removed) != 0 {
		t.Fatalf("GC after the repeat = %+v, %v; want the blob kept", st, err)
	}
}

func TestOpenKeepsRecentIngestsWithMaxAge(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	s, err := content.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"old", "new"} {
		w, err := s.Writer(ctx, ref, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(ref))
		w.Close()
	}
	st, err := s.Status(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	// Age the "old" ingest by an hour (layout: ingest/<sha256(ref)>/data).
	data := filepath.Join(root, "ingest", digest.FromString(st.Ref).Encoded(), "data")
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(data, past, past); err != nil {
		t.Fatal(err)
	}
	s, err = content.Open(root, content.WithIngestMaxAge(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Status(ctx, "old"); !errdefs.IsNotFound(err) {
		t.Fatalf("stale ingest after Open = %v, want removed", err)
	}
	if st, err := s.Status(ctx, "new"); err != nil || st.Offset != 3 {
		t.Fatalf("recent ingest after Open = %+v, %v; want kept at offset 3", st, err)
	}
	if _, err := content.Open(root); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Status(ctx, "new"); !errdefs.IsNotFound(err) {
		t.Fatalf("ingest after Open without max age = %v, want removed", err)
	}
}

func TestHostileRefStaysInRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "content")
	s, err := content.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ref := range []string{"../../escape", "/etc/passwd", "a/../../b", "\x00nul"} {
		w, err := s.Writer(ctx, ref, 0, "")
		if err != nil {
			t.Fatalf("Writer(%q): %v", ref, err)
		}
		w.Write([]byte(ref))
		if err := w.Commit(ctx, 0, ""); err != nil {
			t.Fatalf("commit %q: %v", ref, err)
		}
	}
	entries, err := os.ReadDir(parent)
	if err != nil || len(entries) != 1 || entries[0].Name() != "content" {
		t.Fatalf("beside the root: %v, %v; want only content/", entries, err)
	}
}
