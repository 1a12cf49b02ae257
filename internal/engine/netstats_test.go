package engine

import (
	"os"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestParseNetDev(t *testing.T) {
	in := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0
  eth0:    1234      10    1    2    0     0          0         0      5678      20    3    4    0     0       0          0
  eth1: 18446744073709551615 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0
`
	got, err := parseNetDev([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]container.NetworkStats{
		"eth0": {RxBytes: 1234, RxPackets: 10, RxErrors: 1, RxDropped: 2, TxBytes: 5678, TxPackets: 20, TxErrors: 3, TxDropped: 4},
		"eth1": {RxBytes: 18446744073709551615, RxPackets: 1, TxBytes: 7, TxPackets: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("parseNetDev = %v, want %v (no lo)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %+v, want %+v", k, got[k], v)
		}
	}
	for _, bad := range []string{"eth0: 1 2 3\n", "eth0: 1 2 3 4 5 6 7 8 x 10 11 12 13 14 15 16\n"} {
		if _, err := parseNetDev([]byte(bad)); err == nil || !strings.Contains(err.Error(), "eth0") {
			t.Errorf("parseNetDev(%q) = %v, want an error naming eth0", bad, err)
		}
	}
}

// TestNetDevStatsOfSelf reads this process's own namespace.
func TestNetDevStatsOfSelf(t *testing.T) {
	got, err := netDevStats(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["lo"]; ok {
		t.Errorf("netDevStats lists lo: %v", got)
	}
	if _, err := netDevStats(1 << 30); err == nil {
		t.Error("netDevStats of a process that does not exist: no error")
	}
}
