package runtime

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCapabilityNames(t *testing.T) {
	names := capabilityNames()
	if len(names) != 41 {
		t.Fatalf("capabilityNames() has %d names, want 41 (CAP_CHOWN..CAP_CHECKPOINT_RESTORE)", len(names))
	}
	if names[0] != "CAP_CHOWN" || names[10] != "CAP_NET_BIND_SERVICE" || names[21] != "CAP_SYS_ADMIN" || names[40] != "CAP_CHECKPOINT_RESTORE" {
		t.Fatalf("capabilityNames() out of order: %v", names)
	}
	for i, n := range names {
		if !strings.HasPrefix(n, "CAP_") {
			t.Errorf("capabilityNames()[%d] = %q", i, n)
		}
		got, err := parseCapability(n)
		if err != nil || got != i {
			t.Errorf("parseCapability(%q) = %d, %v; want %d", n, got, err, i)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(names)))) != 41 {
		t.Fatal("capabilityNames() has duplicates")
	}
}

func TestParseCapabilityUnknown(t *testing.T) {
	for _, name := range []string{"CAP_FOO", "chown", "cap_chown", "CAP_CHOWN ", "", "CAP_41"} {
		_, err := parseCapability(name)
		want := `unknown capability "` + name + `"`
		if err == nil || err.Error() != want {
			t.Errorf("parseCapability(%q) error = %v, want %q", name, err, want)
		}
	}
}

func TestCapMaskSkipsCapsAboveKernel(t *testing.T) {
	kernelCapLast() // run the Once, then pretend an older kernel
	saved := kernelCapLastVal
	kernelCapLastVal = 37
	t.Cleanup(func() { kernelCapLastVal = saved })

	m, err := capMaskOf("process.capabilities.effective", []string{"CAP_CHOWN", "CAP_AUDIT_READ", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"})
	if err != nil {
		t.Fatal(err)
	}
	if want := capMask(1<<0 | 1<<37); m != want {
		t.Fatalf("capMaskOf = %#x, want %#x (CAP_BPF and CAP_CHECKPOINT_RESTORE skipped)", uint64(m), uint64(want))
	}
	_, err = capMaskOf("process.capabilities.effective", []string{"CAP_CHOWN", "CAP_NOPE"})
	if err == nil || err.Error() != `process.capabilities.effective: unknown capability "CAP_NOPE"` {
		t.Fatalf("capMaskOf(unknown) error = %v", err)
	}
}

// TestKernelCapLastProbe: the PR_CAPBSET_READ probe used without /proc finds
// the same last capability as /proc/sys/kernel/cap_last_cap.
func TestKernelCapLastProbe(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Skip(err)
	}
	want, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if got := kernelCapLast(); got != want {
		t.Fatalf("kernelCapLast() = %d, want %d", got, want)
	}
	if n := probeCapLast(); n != want {
		t.Fatalf("PR_CAPBSET_READ probe found %d, cap_last_cap says %d", n, want)
	}
}
