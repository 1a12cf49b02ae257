package runtime

import (
	"testing"
)

func TestSysctlFile(t *testing.T) {
	for key, want := range map[string]string{
		"net.ipv4.ip_forward":               "/proc/sys/net/ipv4/ip_forward",
		"kernel.shmmax":                     "/proc/sys/kernel/shmmax",
		"net/ipv4/conf/eth0.100/forwarding": "/proc/sys/net/ipv4/conf/eth0.100/forwarding",
	} {
		got, err := sysctlFile(key)
		if err != nil || got != want {
			t.Errorf("sysctlFile(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	for _, bad := range []string{"", "net..ipv4", ".net", "net/../../etc/shadow", "net/ipv4/", "../x"} {
		if got, err := sysctlFile(bad); err == nil {
			t.Errorf("sysctlFile(%q) = %q, want an error", bad, got)
		}
	}
}
