package api

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth/berth/internal/build"
)

func TestBuildOptionsQuery(t *testing.T) {
	r := httptest.NewRequest("POST", `/build?t=a:1&t=b&dockerfile=sub/Dockerfile.x&buildargs={"A":"1","B":null}&target=final&nocache=1&pull=1&labels={"l":"v"}&networkmode=host&rm=1&forcerm=0&platform=linux/amd64`, nil)
	o, err := buildOptions(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.Tags, ",") != "a:1,b" || o.Dockerfile != "sub/Dockerfile.x" || o.Target != "final" || !o.NoCache || !o.Pull || o.Network != "host" || o.Platform != "linux/amd64" {
		t.Errorf("options: %+v", o)
	}
	if v := o.BuildArgs["A"]; v == nil || *v != "1" {
		t.Errorf("buildargs A: %v", v)
	}
	if v, ok := o.BuildArgs["B"]; !ok || v != nil {
		t.Errorf("buildargs B must be present and nil (from the environment): %v %v", v, ok)
	}
	if o.Labels["l"] != "v" {
		t.Errorf("labels: %v", o.Labels)
	}
	o, err = buildOptions(httptest.NewRequest("POST", "/build", nil))
	if err != nil || o.Network != "default" || o.NoCache || len(o.Tags) != 0 {
		t.Errorf("defaults: %+v %v", o, err)
	}
	for q, check := range map[string]func(error) bool{
		"networkmode=container:x": errdefs.IsInvalidArgument,
		"buildargs={bad":          errdefs.IsInvalidArgument,
		"labels=[1]":              errdefs.IsInvalidArgument,
		"remote=https://x/y.git":  errdefs.IsNotImplemented,
		"t=":                      errdefs.IsInvalidArgument,
		"platform=foobar":         errdefs.IsInvalidArgument,
		"platform=linux/":         errdefs.IsInvalidArgument,
	} {
		if _, err := buildOptions(httptest.NewRequest("POST", "/build?"+q, nil)); err == nil || !check(err) {
			t.Errorf("%s: %v, want a classified error", q, err)
		}
	}
}

func contextTar(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	body := "FROM scratch\n"
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	tw.Close()
	return b.Bytes()
}

// readDockerfile reads the Dockerfile of a context stream.
func readDockerfile(t *testing.T, r io.Reader) string {
	t.Helper()
	tr := tar.NewReader(r)
	h, err := tr.Next()
	if err != nil {
		t.Fatalf("context tar: %v", err)
	}
	b, _ := io.ReadAll(tr)
	return h.Name + ":" + string(b)
}

func TestBuildContextDecompression(t *testing.T) {
	plain := contextTar(t)
	compress := func(name string, args ...string) []byte {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s not installed", name)
		}
		cmd := exec.Command(name, args...)
		cmd.Stdin = bytes.NewReader(plain)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return out
	}
	for name, body := range map[string][]byte{
		"plain": plain,
		"bzip2": compress("bzip2", "-c"),
		"xz":    compress("xz", "-c"),
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/build", bytes.NewReader(body))
			rd, closeFn, err := buildContext(r)
			if err != nil {
				t.Fatal(err)
			}
			defer closeFn()
			if got := readDockerfile(t, rd); got != "Dockerfile:FROM scratch\n" {
				t.Errorf("context: %q", got)
			}
		})
	}
	// An empty body is a Dockerfile-less, context-less build: no reader.
	rd, closeFn, err := buildContext(httptest.NewRequest("POST", "/build", strings.NewReader("")))
	closeFn()
	if err != nil || rd != nil {
		t.Errorf("empty body: %v %v", rd, err)
	}
}

func TestBuildContextLimit(t *testing.T) {
	l := &limitedReader{r: strings.NewReader("0123456789"), n: 4}
	_, err := io.ReadAll(l)
	if err == nil || !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "build context is larger than") {
		t.Errorf("over the limit: %v", err)
	}
	l = &limitedReader{r: strings.NewReader("0123"), n: 4}
	if b, err := io.ReadAll(l); err != nil || string(b) != "0123" {
		t.Errorf("at the limit: %q %v", b, err)
	}
}

// TestBuildFail: a failed RUN ends the stream with errorDetail.code (the
// docker CLI's exit status), even before any other line; other errors
// before the first line are HTTP errors with their class's status.
func TestBuildFail(t *testing.T) {
	w := httptest.NewRecorder()
	ps := newProgressStream(w, httptest.NewRequest("POST", "/build", nil), nil)
	ps.send(streamMessage{Stream: "Step 1/2 : FROM busybox\n"})
	buildFail(ps, &build.StepError{Step: 2, Instruction: "RUN exit 7", Err: &build.ExitError{Code: 7}})
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\r\n")
	var last struct {
		ErrorDetail struct {
			Code    int
			Message string
		} `json:"errorDetail"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("%v: %s", err, w.Body.String())
	}
	const msg = "The command 'RUN exit 7' returned a non-zero code: 7"
	if w.Code != http.StatusOK || last.ErrorDetail.Code != 7 || last.ErrorDetail.Message != msg || last.Error != msg {
		t.Errorf("status %d, last line %+v", w.Code, last)
	}

	w = httptest.NewRecorder()
	ps = newProgressStream(w, httptest.NewRequest("POST", "/build", nil), nil)
	buildFail(ps, &build.StepError{Step: 2, Instruction: "RUN exit 3", Err: &build.ExitError{Code: 3, Cmd: "/bin/sh -c exit 3"}})
	if !strings.Contains(w.Body.String(), `The command '/bin/sh -c exit 3' returned a non-zero code: 3`) {
		t.Errorf("a RUN failure does not name the command as it ran: %s", w.Body.String())
	}

	w = httptest.NewRecorder()
	ps = newProgressStream(w, httptest.NewRequest("POST", "/build", nil), nil)
	buildFail(ps, &build.StepError{Step: 2, Instruction: "RUN exit 3", Err: &build.ExitError{Code: 3}})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"code":3`) {
		t.Errorf("quiet failed RUN: %d %s", w.Code, w.Body.String())
	}

	w = httptest.NewRecorder()
	ps = newProgressStream(w, httptest.NewRequest("POST", "/build", nil), nil)
	buildFail(ps, errdefs.ErrInvalidArgument.WithMessage("dockerfile parse error line 1: unknown instruction: FORM"))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "unknown instruction: FORM") {
		t.Errorf("parse error: %d %s", w.Code, w.Body.String())
	}
}

// X-Registry-Config, base64url JSON of registry -> AuthConfig as the
// docker CLI sends it, becomes the build's per-registry credentials.
func TestBuildRegistryConfigHeader(t *testing.T) {
	r := httptest.NewRequest("POST", "/build", nil)
	r.Header.Set("X-Registry-Config", base64.URLEncoding.EncodeToString([]byte(`{"127.0.0.1:5000":{"username":"u","password":"p","serveraddress":"127.0.0.1:5000"},"https://index.docker.io/v1/":{"auth":"dTpw"},"empty":{}}`)))
	m, err := registryConfig(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["127.0.0.1:5000"].Username != "u" || m["127.0.0.1:5000"].Password != "p" || m["https://index.docker.io/v1/"].Auth != "dTpw" {
		t.Errorf("registry config %+v", m)
	}
	r.Header.Set("X-Registry-Config", base64.URLEncoding.EncodeToString([]byte(`{}`)))
	if m, err := registryConfig(r); err != nil || m != nil {
		t.Errorf("{}: %v %v", m, err)
	}
	for _, bad := range []string{"!!!", base64.URLEncoding.EncodeToString([]byte(`["x"]`))} {
		r.Header.Set("X-Registry-Config", bad)
		if _, err := registryConfig(r); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "X-Registry-Config") {
			t.Errorf("%q: %v, want an invalid-argument error naming the header", bad, err)
		}
	}
}
