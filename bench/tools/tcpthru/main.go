// Command tcpthru measures TCP throughput between two endpoints with large
// buffers, so that the network path and not the tool is the bottleneck
// (busybox nc moves data in small reads and writes and is CPU-bound here).
//
//	tcpthru serve [HOST]:PORT      accept connections until killed; each one is
//	                               drained, and when the sender closes its
//	                               side the byte count and the CPU time the
//	                               server used meanwhile are written back
//	tcpthru send HOST:PORT SECONDS send zeros for SECONDS, close the write side,
//	                               wait for the receiver's answer and print
//	                               "MBPS CPUMS": MB/s (10^6 bytes) of what it
//	                               received, and the CPU milliseconds sender
//	                               and receiver spent per GB (10^9 bytes)
//
// The CPU time (user + system, getrusage) includes the kernel's network
// processing that runs in the two processes' context, which on a veth
// path is most of it: it tells a path's cost apart from the machine's
// load better than MB/s does on a shared machine. Run one transfer at a
// time per server, or the server's CPU time mixes them.
//
// The sender retries connecting for up to 10 s, so it can start right
// after the server's container. It is built static (CGO_ENABLED=0) by
// bench/network.sh and copied into an image or run in a bare namespace.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

const bufSize = 256 << 10

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tcpthru:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "serve":
		return serve(args[1])
	case len(args) == 3 && args[0] == "send":
		secs, err := strconv.ParseFloat(args[2], 64)
		if err != nil || secs <= 0 || secs > 3600 {
			return fmt.Errorf("send: seconds %q: want a number in (0, 3600]", args[2])
		}
		mbps, err := send(args[1], time.Duration(secs*float64(time.Second)))
		if err != nil {
			return err
		}
		fmt.Printf("%.0f %.0f\n", mbps[0], mbps[1])
		return nil
	}
	return errors.New("usage: tcpthru serve [HOST]:PORT | tcpthru send HOST:PORT SECONDS")
}

func serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("serve: accept: %w", err)
		}
		go func() {
			defer c.Close()
			cpu0 := cpuTime()
			n, err := io.CopyBuffer(io.Discard, c, make([]byte, bufSize))
			if err != nil {
				fmt.Fprintln(os.Stderr, "tcpthru: serve:", err)
				return
			}
			var b [16]byte
			binary.BigEndian.PutUint64(b[:8], uint64(n))
			binary.BigEndian.PutUint64(b[8:], uint64(cpuTime()-cpu0))
			c.Write(b[:])
		}()
	}
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// send returns MB/s and CPU milliseconds per GB.
func send(addr string, d time.Duration) ([2]float64, error) {
	var zero [2]float64
	var c net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err = net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return zero, fmt.Errorf("send: %w", err)
	}
	defer c.Close()
	tc := c.(*net.TCPConn)
	cpu0 := cpuTime()
	buf := make([]byte, bufSize)
	var sent uint64
	start := time.Now()
	end := start.Add(d)
	for time.Now().Before(end) {
		n, err := tc.Write(buf)
		sent += uint64(n)
		if err != nil {
			return zero, fmt.Errorf("send to %s: %w", addr, err)
		}
	}
	if err := tc.CloseWrite(); err != nil {
		return zero, fmt.Errorf("send to %s: close write: %w", addr, err)
	}
	var b [16]byte
	tc.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(tc, b[:]); err != nil {
		return zero, fmt.Errorf("send to %s: read the receiver's count: %w", addr, err)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0 + time.Duration(binary.BigEndian.Uint64(b[8:]))
	got := binary.BigEndian.Uint64(b[:8])
	if got != sent {
		return zero, fmt.Errorf("send to %s: receiver got %d bytes, %d were sent", addr, got, sent)
	}
	return [2]float64{float64(got) / 1e6 / elapsed.Seconds(), float64(cpu.Microseconds()) / 1e3 / (float64(got) / 1e9)}, nil
}
