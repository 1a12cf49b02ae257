package shim

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJSONLogLineFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	l, err := openJSONLog(path, 0, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 19, 27, 9, 675961930, time.FixedZone("x", 3600))
	l.write("stderr", []byte("hello <b>\"x\"\t\n"), at)
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// dockerd's json-file line: UTC, RFC3339Nano (trailing zeros dropped),
	// HTML characters escaped.
	want := `{"log":"hello \u003cb\u003e\"x\"\t\n","stream":"stderr","time":"2026-11-26T18:27:09.67596193Z"}` + "\n"
	if string(b) != want {
		t.Errorf("log line\n got %s\nwant %s", b, want)
	}
}

func TestJSONLogRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	l, err := openJSONLog(path, 300, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := range n {
		l.write("stdout", []byte(fmt.Sprintf("line %02d\n", i)), time.Now())
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3 exists with max-file 3", path)
	}
	// Oldest first: .2, .1, the current file; their lines are the newest
	// ones, in order, without a gap.
	var got []string
	for _, p := range []string{path + ".2", path + ".1", path} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		// As dockerd's: a file is rotated before a line would take it
		// above max-size, so a rotated file holds up to 300 bytes and no
		// room for another line (each is about 80 bytes).
		if p != path && (st.Size() > 300 || st.Size() < 300-100) {
			t.Errorf("%s has %d bytes, want at most max-size 300 and no room for another line", p, st.Size())
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m struct{ Log string }
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			got = append(got, m.Log)
		}
		f.Close()
	}
	if len(got) == 0 || got[len(got)-1] != fmt.Sprintf("line %02d\n", n-1) {
		t.Fatalf("last line %q", got)
	}
	first := n - len(got)
	for i, g := range got {
		if g != fmt.Sprintf("line %02d\n", first+i) {
			t.Fatalf("line %d is %q, want line %02d: a gap", i, g, first+i)
		}
	}
}

func TestJSONLogMaxFileOneTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	l, err := openJSONLog(path, 100, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		l.write("stdout", []byte(strings.Repeat("x", 40)+fmt.Sprint(i)+"\n"), time.Now())
	}
	l.close()
	if _, err := os.Stat(path + ".1"); !os.IsNotExist(err) {
		t.Error("max-file 1 made a .1 file")
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() >= 200 {
		t.Errorf("log size %v, %v: not truncated", st, err)
	}
}

// With compress, rotated files are gzipped (.1.gz, .2.gz) and hold the
// lines in order; the current file stays plain.
func TestJSONLogRotationCompressed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	l, err := openJSONLog(path, 300, 3, true)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := range n {
		l.write("stdout", []byte(fmt.Sprintf("line %02d\n", i)), time.Now())
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{path + ".1", path + ".2", path + ".3.gz", path + ".1.gz.tmp"} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s exists", gone)
		}
	}
	var got []string
	for _, p := range []string{path + ".2.gz", path + ".1.gz", path} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(p, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			r = zr
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var m struct{ Log string }
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			got = append(got, m.Log)
		}
		f.Close()
	}
	first := n - len(got)
	for i, g := range got {
		if g != fmt.Sprintf("line %02d\n", first+i) {
			t.Fatalf("line %d is %q: lines %q", i, g, got)
		}
	}
	if len(got) < 7 { // two rotated files of three lines, and the current one
		t.Errorf("only %d lines kept in three files", len(got))
	}
}
