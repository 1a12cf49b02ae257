package seccomp

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestTablesUpToDate regenerates zsyscalls.go and compares.
func TestTablesUpToDate(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if _, err := os.Stat(goTool); err != nil {
		t.Skip("no go command to run the generator")
	}
	out := filepath.Join(t.TempDir(), "zsyscalls.go")
	cmd := exec.Command(goTool, "run", "mksyscalls.go", "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run mksyscalls.go: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("zsyscalls.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("zsyscalls.go is stale: run go generate ./internal/runtime/seccomp")
	}
}

func TestTables(t *testing.T) {
	// The native table agrees with the syscall numbers this binary uses.
	native := syscallTables()[string(NativeArch())]
	for name, want := range map[string]uintptr{
		"read": unix.SYS_READ, "mkdirat": unix.SYS_MKDIRAT, "seccomp": unix.SYS_SECCOMP,
		"clone3": unix.SYS_CLONE3, "openat2": unix.SYS_OPENAT2, "exit_group": unix.SYS_EXIT_GROUP,
	} {
		if got, ok := native[name]; !ok || uintptr(got) != want {
			t.Errorf("%s %s: %d (%v), want %d", NativeArch(), name, got, ok, want)
		}
	}
	for _, tc := range []struct {
		arch specs.Arch
		name string
		nr   uint32
		ok   bool
	}{
		{specs.ArchX86_64, "mkdir", 83, true},
		{specs.ArchX86, "mkdir", 39, true},
		{specs.ArchX86, "socketcall", 102, true},
		{specs.ArchX86_64, "socketcall", 0, false},
		{specs.ArchAARCH64, "mkdirat", 34, true},
		{specs.ArchAARCH64, "mkdir", 0, false},
		{specs.ArchARM, "mkdir", 39, true},
		{specs.ArchARM, "set_tls", 0x0f0005, true},
		{specs.ArchARM, "syscall_mask", 0, false},
		{specs.ArchX32, "read", 0 | x32SyscallBit, true},
		{specs.ArchX32, "execve", 520 | x32SyscallBit, true},
		{specs.ArchX32, "pwritev2", 547 | x32SyscallBit, true},
		{specs.ArchX32, "clone3", 435 | x32SyscallBit, true},
		{specs.ArchX32, "uselib", 0, false},
		{specs.ArchS390X, "mkdir", 39, true},
		{specs.ArchMIPS, "mkdir", 4039, true},
		{specs.ArchMIPS64, "mkdir", 5081, true},
	} {
		got, ok := syscallTables()[string(tc.arch)][tc.name]
		if ok != tc.ok || got != tc.nr {
			t.Errorf("%s %s: %d (%v), want %d (%v)", tc.arch, tc.name, got, ok, tc.nr, tc.ok)
		}
	}
	for a := range arches {
		if len(syscallTables()[string(a)]) < 250 {
			t.Errorf("%s: only %d syscalls", a, len(syscallTables()[string(a)]))
		}
	}
}
