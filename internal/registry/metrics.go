package registry

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
)

// Metrics counts requests, bytes and GC runs and serves them in the
// Prometheus text format.
type Metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // method, status
	bytesIn  atomic.Int64
	bytesOut atomic.Int64
	gcRuns   atomic.Int64
	gcBlobs  atomic.Int64
	gcBytes  atomic.Int64
}

// NewMetrics returns zeroed metrics.
func NewMetrics() *Metrics {
	return &Metrics{requests: map[[2]string]uint64{}}
}

func (m *Metrics) observe(method string, status int, in, out int64) {
	m.mu.Lock()
	m.requests[[2]string{method, fmt.Sprint(status)}]++
	m.mu.Unlock()
	m.bytesIn.Add(in)
	m.bytesOut.Add(out)
}

// ObserveGC records one garbage collection.
func (m *Metrics) ObserveGC(res GCResult) {
	m.gcRuns.Add(1)
	m.gcBlobs.Add(int64(len(res.Deleted)))
	m.gcBytes.Add(res.BytesFreed)
}

// ServeHTTP writes the metrics.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# HELP berth_registry_requests_total HTTP requests by method and status.")
	fmt.Fprintln(w, "# TYPE berth_registry_requests_total counter")
	m.mu.Lock()
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		fmt.Fprintf(w, "berth_registry_requests_total{method=%q,status=%q} %d\n", k[0], k[1], m.requests[k])
	}
	m.mu.Unlock()
	for _, c := range []struct {
		name, help string
		v          int64
	}{
		{"berth_registry_bytes_received_total", "Request body bytes received.", m.bytesIn.Load()},
		{"berth_registry_bytes_sent_total", "Response body bytes sent.", m.bytesOut.Load()},
		{"berth_registry_gc_runs_total", "Garbage collections run.", m.gcRuns.Load()},
		{"berth_registry_gc_blobs_deleted_total", "Blobs deleted by garbage collection.", m.gcBlobs.Load()},
		{"berth_registry_gc_bytes_freed_total", "Bytes freed by garbage collection.", m.gcBytes.Load()},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.name, c.help, c.name, c.name, c.v)
	}
}
