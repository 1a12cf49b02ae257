package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// maxNetDev bounds what is read of a /proc/<pid>/net/dev: a namespace
// with thousands of interfaces is not a container's.
const maxNetDev = 1 << 20

// netDevStats reads the interface counters of the network namespace of
// process pid from /proc/<pid>/net/dev, by interface name, without the
// loopback: what dockerd's stats report under "networks" (its sandbox's
// interfaces: eth0, eth1, ...).
func netDevStats(pid int) (map[string]container.NetworkStats, error) {
	p := fmt.Sprintf("/proc/%d/net/dev", pid)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("network stats: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxNetDev))
	if err != nil {
		return nil, fmt.Errorf("network stats: read %s: %w", p, err)
	}
	out, err := parseNetDev(b)
	if err != nil {
		return nil, fmt.Errorf("network stats: %s: %w", p, err)
	}
	return out, nil
}

// parseNetDev parses the text of /proc/net/dev: two header lines, then
// "name: rx_bytes rx_packets rx_errs rx_drop fifo frame compressed
// multicast tx_bytes tx_packets tx_errs tx_drop fifo colls carrier
// compressed".
func parseNetDev(b []byte) (map[string]container.NetworkStats, error) {
	out := map[string]container.NetworkStats{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue // the header lines
		}
		name = strings.TrimSpace(name)
		if name == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 16 {
			return nil, fmt.Errorf("interface %s: %d fields, want 16", name, len(f))
		}
		var v [16]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("interface %s: field %d: %w", name, i+1, err)
			}
			v[i] = n
		}
		out[name] = container.NetworkStats{
			RxBytes: v[0], RxPackets: v[1], RxErrors: v[2], RxDropped: v[3],
			TxBytes: v[8], TxPackets: v[9], TxErrors: v[10], TxDropped: v[11],
		}
	}
	return out, sc.Err()
}
