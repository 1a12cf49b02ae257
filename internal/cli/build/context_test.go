package build

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tarEntries lists the names in the context cs sends, with each regular
// file's content.
func tarEntries(t *testing.T, cs *contextSource) map[string]string {
	t.Helper()
	var b bytes.Buffer
	if err := cs.writeTo(&b); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(&b)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want root", h.Name, h.Uid, h.Gid)
		}
		body, _ := io.ReadAll(tr)
		out[h.Name] = string(body)
	}
}

func names(m map[string]string) string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, " ")
}

func TestContextDockerignore(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"Dockerfile":     "FROM busybox\n",
		".dockerignore":  "*.log\nsecret/\n!keep.log\nDockerfile\n.dockerignore\n",
		"app.go":         "package main",
		"debug.log":      "x",
		"keep.log":       "kept",
		"secret/key":     "k",
		"sub/nested.log": "not matched by *.log at the root",
	})
	cs, err := prepareContext(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := tarEntries(t, cs)
	// The Dockerfile and .dockerignore are sent even when ignored, as the
	// docker CLI does.
	if want := ".dockerignore Dockerfile app.go keep.log sub/ sub/nested.log"; names(got) != want {
		t.Errorf("context entries:\n got %s\nwant %s", names(got), want)
	}
	if cs.dockerfile != "Dockerfile" {
		t.Errorf("dockerfile %q", cs.dockerfile)
	}
}

func TestContextDockerfileOutsideAndStdin(t *testing.T) {
	dir := writeTree(t, map[string]string{"a.txt": "a"})
	outside := filepath.Join(t.TempDir(), "Other.Dockerfile")
	os.WriteFile(outside, []byte("FROM outside\n"), 0o644)
	cs, err := prepareContext(dir, outside, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := tarEntries(t, cs)
	if !strings.HasPrefix(cs.dockerfile, ".dockerfile.") || got[cs.dockerfile] != "FROM outside\n" || got["a.txt"] != "a" {
		t.Errorf("-f outside the context: dockerfile %q, entries %s", cs.dockerfile, names(got))
	}

	cs, err = prepareContext(dir, "-", strings.NewReader("FROM stdin\n"))
	if err != nil {
		t.Fatal(err)
	}
	got = tarEntries(t, cs)
	if got[cs.dockerfile] != "FROM stdin\n" || got["a.txt"] != "a" {
		t.Errorf("-f -: dockerfile %q, entries %s", cs.dockerfile, names(got))
	}

	// "-" with a Dockerfile: a context of only that Dockerfile.
	cs, err = prepareContext("-", "", strings.NewReader("FROM only\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got = tarEntries(t, cs); names(got) != "Dockerfile" || got["Dockerfile"] != "FROM only\n" {
		t.Errorf("- with a Dockerfile: %v", got)
	}

	// "-" with a tar: sent as it is.
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: 11})
	tw.Write([]byte("FROM tar\n\n\n"[:11]))
	tw.Close()
	cs, err = prepareContext("-", "", bytes.NewReader(tb.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var sent bytes.Buffer
	if err := cs.writeTo(&sent); err != nil || !bytes.Equal(sent.Bytes(), tb.Bytes()) {
		t.Errorf("- with a tar: not passed through (%v)", err)
	}

	if _, err := prepareContext("-", "-", strings.NewReader("")); err == nil {
		t.Error("stdin for both the context and the Dockerfile must fail")
	}
	if _, err := prepareContext(filepath.Join(dir, "missing"), "", nil); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing context: %v", err)
	}
	if _, err := prepareContext(dir, "", nil); err == nil || !strings.Contains(err.Error(), "Dockerfile") {
		t.Errorf("context without a Dockerfile: %v", err)
	}
}

func TestBuildArgsFromFlags(t *testing.T) {
	t.Setenv("FROM_ENV", "env-value")
	m := buildArgs([]string{"A=1", "EMPTY=", "FROM_ENV", "UNSET_BERTH_TEST_VAR"})
	if *m["A"] != "1" || *m["EMPTY"] != "" || *m["FROM_ENV"] != "env-value" {
		t.Errorf("build args: %v", m)
	}
	if v, ok := m["UNSET_BERTH_TEST_VAR"]; !ok || v != nil {
		t.Errorf("a --build-arg without value or environment is sent as null: %v %v", v, ok)
	}
}
