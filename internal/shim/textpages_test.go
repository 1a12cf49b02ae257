package shim

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// Read-only data is dropped only from binaries whose loader writes none of
// it: a static, internally linked Go binary, like the serving image.
func TestELFWritesReadOnly(t *testing.T) {
	dir := t.TempDir()
	// A static, internally linked Go program, as the serving image is.
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module static\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	static := filepath.Join(dir, "static")
	build := exec.Command(testutil.GoTool(), "build", "-buildmode=exe", "-o", static, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	text := filepath.Join(dir, "not-elf")
	if err := os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		static:                    false,
		text:                      true, // not an ELF file
		"/nonexistent/berth-shim": true,
	}
	if p, err := exec.LookPath("true"); err == nil {
		cases[p] = true // dynamically linked: an interpreter, relocations
	}
	if _, err := os.Stat("/bin/busybox"); err == nil {
		cases["/bin/busybox"] = true // static glibc: a RELRO segment
	}
	for path, want := range cases {
		if _, err := os.Stat(path); err != nil && path != "/nonexistent/berth-shim" {
			continue
		}
		if got := elfWritesReadOnly(path); got != want {
			t.Errorf("elfWritesReadOnly(%s) = %v, want %v", path, got, want)
		}
	}
}
