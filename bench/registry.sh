#!/bin/bash
# registry.sh benchmarks `berth registry serve` against Debian's
# docker-registry (distribution 2.8.2), both on 127.0.0.1 in one run, with
# skopeo as the client:
#   - push and pull of an image with one 100 MB random layer,
#   - push and pull of a 30-layer image (64 KiB layers),
#   - push and pull of an image of 200 small blobs (4 KiB layers),
#   - manifest GETs and 4 KiB blob GETs per second, 20 concurrent
#     connections for 10 s each (a small Go load tool written to the work
#     directory).
# Each run pushes images of fresh random content to a fresh repository, so
# every blob is uploaded; pulls go to a fresh dir: destination. Times are
# medians of --count runs. Ratios are distribution's time / berth's (above
# 1 means berth is faster); for GETs/s, berth / distribution.
#
#   bench/registry.sh [--berth BIN] [--count 3] [--duration 10]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

berth=""
count=3
duration=10
while [ $# -gt 0 ]; do
	case "$1" in
	--berth) berth="$2"; shift ;;
	--count) count="$2"; shift ;;
	--duration) duration="$2"; shift ;;
	*) echo "usage: $0 [--berth BIN] [--count N] [--duration SECONDS]" >&2; exit 2 ;;
	esac
	shift
done
for tool in skopeo docker-registry; do
	command -v "$tool" >/dev/null || { echo "$tool is not installed (hack/install-deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/berth-bench-registry.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$berth" ]; then
	hack/build.sh "$work/berth"
	berth="$work/berth"
fi

# The helper: writes OCI layouts of random gzip layers, and the load tool.
mkdir -p "$work/tool"
cat >"$work/tool/main.go" <<'GO'
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	switch os.Args[1] {
	case "layout":
		n, _ := strconv.Atoi(os.Args[3])
		size, _ := strconv.Atoi(os.Args[4])
		layout(os.Args[2], n, size)
	case "load":
		conc, _ := strconv.Atoi(os.Args[3])
		dur, _ := time.ParseDuration(os.Args[4])
		load(os.Args[2], conc, dur)
	}
}

func put(dir string, b []byte) map[string]any {
	d := fmt.Sprintf("%x", sha256.Sum256(b))
	p := filepath.Join(dir, "blobs", "sha256", d)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		panic(err)
	}
	return map[string]any{"digest": "sha256:" + d, "size": len(b)}
}

// layout writes an OCI layout with n layers of size random bytes, gzipped
// at the fastest level (so clients push them as they are).
func layout(dir string, n, size int) {
	var descs []map[string]any
	var diffIDs []string
	raw := make([]byte, size)
	for range n {
		rand.Read(raw)
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		zw.Write(raw)
		zw.Close()
		d := put(dir, gz.Bytes())
		d["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
		descs = append(descs, d)
		diffIDs = append(diffIDs, fmt.Sprintf("sha256:%x", sha256.Sum256(raw)))
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	cd := put(dir, cfg)
	cd["mediaType"] = "application/vnd.oci.image.config.v1+json"
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cd, "layers": descs})
	md := put(dir, man)
	md["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
	md["annotations"] = map[string]string{"org.opencontainers.image.ref.name": "latest"}
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{md}})
	os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}

// load GETs url with conc keep-alive connections for dur and prints the
// successful requests per second.
func load(url string, conc int, dur time.Duration) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	c := &http.Client{Transport: tr}
	var ok, bad atomic.Int64
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
				resp, err := c.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("%.0f %d\n", float64(ok.Load())/dur.Seconds(), bad.Load())
}
GO
(cd "$work/tool" && go mod init regbench >/dev/null 2>&1 && go build -o "$work/regbench" .)

# Fresh content for every run: skopeo (as root) remembers where it pushed a
# blob in /var/lib/containers/cache and would mount it instead of uploading
# it again. Each registry sees each blob once.
echo "== building images ($count runs)"
for run in $(seq "$count"); do
	"$work/regbench" layout "$work/img-big-$run" 1 $((100 * 1000 * 1000))
	"$work/regbench" layout "$work/img-30-$run" 30 $((64 * 1024))
	"$work/regbench" layout "$work/img-200-$run" 200 4096
done

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_port() {
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$1/v2/" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "registry on port $1 did not come up" >&2; exit 1
}

bport=$(free_port)
"$berth" registry serve --addr "127.0.0.1:$bport" --root "$work/berth-root" 2>/dev/null &
pids+=($!)
dport=$(free_port)
cat >"$work/distribution.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/distribution-root
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$dport
YAML
docker-registry serve "$work/distribution.yml" >/dev/null 2>&1 &
pids+=($!)
wait_port "$bport"
wait_port "$dport"

export HOME="$work/home"
sk() {
	skopeo --insecure-policy "$@" >/dev/null
}
now() { echo "$EPOCHREALTIME"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A result
echo "== push and pull with skopeo, $count runs each, interleaved (load: $(cut -d' ' -f1-3 /proc/loadavg))"
for img in big 30 200; do
	for run in $(seq "$count"); do
		for reg in berth distribution; do
			port=$bport; [ "$reg" = distribution ] && port=$dport
			repo="bench/$img-$run"
			t0=$(now); sk copy --dest-tls-verify=false "oci:$work/img-$img-$run:latest" "docker://127.0.0.1:$port/$repo:latest"; t1=$(now)
			rm -rf "$work/pull"
			t2=$(now); sk copy --src-tls-verify=false "docker://127.0.0.1:$port/$repo:latest" "dir:$work/pull"; t3=$(now)
			echo "$t0 $t1" | awk '{printf "%.3f\n", $2-$1}' >>"$work/push-$img-$reg"
			echo "$t2 $t3" | awk '{printf "%.3f\n", $2-$1}' >>"$work/pull-$img-$reg"
		done
	done
	for op in push pull; do
		for reg in berth distribution; do
			result[$op-$img-$reg]=$(median <"$work/$op-$img-$reg")
		done
	done
done

echo "== manifest and 4 KiB blob GETs, 20 connections, ${duration}s each (load: $(cut -d' ' -f1-3 /proc/loadavg))"
for reg in berth distribution; do
	port=$bport; [ "$reg" = distribution ] && port=$dport
	read -r rps bad < <("$work/regbench" load "http://127.0.0.1:$port/v2/bench/big-1/manifests/latest" 20 "${duration}s")
	result[gets-$reg]=$rps
	[ "$bad" = 0 ] || echo "warning: $reg answered $bad manifest GETs with an error" >&2
	blob=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' "$work/pull/manifest.json")
	read -r rps bad < <("$work/regbench" load "http://127.0.0.1:$port/v2/bench/200-$count/blobs/$blob" 20 "${duration}s")
	result[blobgets-$reg]=$rps
	[ "$bad" = 0 ] || echo "warning: $reg answered $bad blob GETs with an error" >&2
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
printf "%-34s %12s %14s %8s\n" "what" "berth" "distribution" "ratio"
for img in big 30 200; do
	case $img in big) label="1 x 100 MB layer" ;; 30) label="30 x 64 KiB layers" ;; 200) label="200 x 4 KiB layers" ;; esac
	for op in push pull; do
		b=${result[$op-$img-berth]} d=${result[$op-$img-distribution]}
		printf "%-34s %11ss %13ss %7sx\n" "$op $label" "$b" "$d" "$(ratio "$d" "$b")"
	done
done
printf "%-34s %12s %14s %7sx\n" "manifest GETs/s (20 conns)" "${result[gets-berth]}" "${result[gets-distribution]}" "$(ratio "${result[gets-berth]}" "${result[gets-distribution]}")"
printf "%-34s %12s %14s %7sx\n" "4 KiB blob GETs/s (20 conns)" "${result[blobgets-berth]}" "${result[blobgets-distribution]}" "$(ratio "${result[blobgets-berth]}" "${result[blobgets-distribution]}")"
echo "(times: median of $count skopeo runs; ratio for times = distribution/berth, for GETs/s = berth/distribution; load after: $(cut -d' ' -f1-3 /proc/loadavg))"
