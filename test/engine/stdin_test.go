package engine

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// TestStdinAcrossAttaches: the container's stdin as docker keeps it.
// `run -i` (StdinOnce) gets its piped input and ends at its EOF; `start
// -ai` of that stopped container gives the new run a fresh stdin, with the
// docker and the berth CLI. A `run -d -i` container (no StdinOnce) keeps
// its stdin open across attaches: what each attach sends reaches the
// process, also after the previous client went away.
func TestStdinAcrossAttaches(t *testing.T) {
	d := newDaemon(t)
	if out, errOut, err := d.dockerIn(t, []byte("one\n"), "run", "-i", "--name", "si", "busybox", "sh", "-c", "read a; echo got-$a; cat"); err != nil || out != "got-one\n" {
		t.Fatalf("run -i: %v %q %s", err, out, errOut)
	}
	if out, errOut, err := d.dockerIn(t, []byte("two\nmore\n"), "start", "-ai", "si"); err != nil || out != "got-two\nmore\n" {
		t.Fatalf("docker start -ai: %v %q %s", err, out, errOut)
	}
	cmd := exec.Command(berthBin, "-H", d.Host, "start", "-ai", "si")
	cmd.Stdin = strings.NewReader("three\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || out.String() != "got-three\n" {
		t.Fatalf("berth start -ai: %v %q %s", err, out.String(), errb.String())
	}

	d.mustDocker(t, "run", "-d", "-i", "--name", "kept", "busybox", "cat")
	c := d.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, word := range []string{"first", "second", "third"} {
		at, err := c.ContainerAttach(ctx, "kept", client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := at.Conn.Write([]byte(word + "\n")); err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe()
		go func() { _, err := stdcopy.StdCopy(pw, io.Discard, at.Reader); pw.CloseWithError(err) }()
		stop := time.AfterFunc(10*time.Second, at.Close)
		line, err := bufio.NewReader(pr).ReadString('\n')
		stop.Stop()
		if err != nil || line != word+"\n" {
			t.Fatalf("attach sending %q: read %q, %v", word, line, err)
		}
		at.Close() // the client goes away without closing stdin first
	}
	// A client that ends its stdin (half-close) ends its attach, as with
	// dockerd, and the container's stdin stays open.
	at, err := c.ContainerAttach(ctx, "kept", client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := at.Conn.Write([]byte("fourth\n")); err != nil {
		t.Fatal(err)
	}
	if err := at.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, at.Reader); ended <- err }()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the attach's output did not end after its stdin ended")
	}
	at.Close()
	if st := d.mustDocker(t, "inspect", "-f", "{{.State.Status}}", "kept"); st != "running\n" {
		t.Fatalf("after four attaches the container is %q, want running", st)
	}
	waitFor(t, "the fourth line in the log", func() bool {
		return d.mustDocker(t, "logs", "kept") == "first\nsecond\nthird\nfourth\n"
	})
}
