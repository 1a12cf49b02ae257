package api

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/moby/moby/api/pkg/stdcopy"
)

func TestMuxWriterWireFormat(t *testing.T) {
	var buf bytes.Buffer
	m := NewMuxWriter(&buf)
	if n, err := m.Stream(Stdout).Write([]byte("hello-stdout\n")); n != 13 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	_, _ = m.Stream(Stderr).Write([]byte("hello-stderr\n"))
	_, _ = m.Stream(Stdout).Write(nil)
	want := "\x01\x00\x00\x00\x00\x00\x00\rhello-stdout\n\x02\x00\x00\x00\x00\x00\x00\rhello-stderr\n"
	if buf.String() != want {
		t.Errorf("wire = %q\nwant   %q", buf.String(), want)
	}
}

func TestMuxWriterConcurrentFramesStayWhole(t *testing.T) {
	var buf bytes.Buffer
	m := NewMuxWriter(&buf)
	var wg sync.WaitGroup
	for _, s := range []StdStream{Stdout, Stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := m.Stream(s)
			for i := range 200 {
				fmt.Fprintf(w, "%d-%d;", s, i)
			}
		}()
	}
	wg.Wait()
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, &buf); err != nil {
		t.Fatal(err)
	}
	var wantOut, wantErr bytes.Buffer
	for i := range 200 {
		fmt.Fprintf(&wantOut, "1-%d;", i)
		fmt.Fprintf(&wantErr, "2-%d;", i)
	}
	if out.String() != wantOut.String() || errOut.String() != wantErr.String() {
		t.Errorf("demultiplexed streams differ from what was written")
	}
}
