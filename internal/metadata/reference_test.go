package metadata_test

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth/berth/internal/metadata"
)

const hex64 = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa"

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                               "docker.io/library/busybox:latest",
		"busybox:1.36":                          "docker.io/library/busybox:1.36",
		"library/busybox":                       "docker.io/library/busybox:latest",
		"docker.io/busybox":                     "docker.io/library/busybox:latest",
		"index.docker.io/library/busybox:1":     "docker.io/library/busybox:1",
		"user/repo":                             "docker.io/user/repo:latest",
		"user/repo:v1.0_rc-2":                   "docker.io/user/repo:v1.0_rc-2",
		"localhost/repo":                        "localhost/repo:latest",
		"localhost:5000/repo:tag":               "localhost:5000/repo:tag",
		"127.0.0.1:5000/a/b/c":                  "127.0.0.1:5000/a/b/c:latest",
		"ghcr.io/org/image:TAG":                 "ghcr.io/org/image:TAG",
		"Registry.Example.com/repo":             "Registry.Example.com/repo:latest",
		"[::1]:5000/repo":                       "[::1]:5000/repo:latest",
		"repo@sha256:" + hex64:                  "docker.io/library/repo@sha256:" + hex64,
		"repo:tag@sha256:" + hex64:              "docker.io/library/repo@sha256:" + hex64,
		"host:5000/repo:tag@sha256:" + hex64:    "host:5000/repo@sha256:" + hex64,
		"docker.io/library/busybox:latest":      "docker.io/library/busybox:latest",
		"a.b/c__d/e-f.g:h":                      "a.b/c__d/e-f.g:h",
		"quay.io/coreos/etcd:v3.5.0" + "":       "quay.io/coreos/etcd:v3.5.0",
		"my-registry.local:443/ns/img:1.0.0-rc": "my-registry.local:443/ns/img:1.0.0-rc",
	} {
		got, err := metadata.NormalizeName(in)
		if err != nil || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNormalizeNameInvalid(t *testing.T) {
	for in, reason := range map[string]string{
		"":                                 "invalid reference format",
		"Busybox":                          "must be lowercase",
		"user/Repo":                        "must be lowercase",
		hex64:                              "64-byte hexadecimal",
		"busybox:":                         "invalid reference format",
		"busybox@sha256:abc":               "invalid reference format",
		"a//b":                             "invalid reference format",
		"-repo":                            "invalid reference format",
		"repo:tag with space":              "invalid reference format",
		"repo:" + strings.Repeat("t", 129): "invalid reference format",
		"host:port/repo":                   "invalid reference format",
		strings.Repeat("a", 256):           "must not be more than 255 characters",
	} {
		_, err := metadata.NormalizeName(in)
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("NormalizeName(%q) = %v, want invalid argument", in, err)
			continue
		}
		if !strings.Contains(err.Error(), reason) || !strings.Contains(err.Error(), "invalid reference") {
			t.Errorf("NormalizeName(%q) error %q does not say %q", in, err, reason)
		}
	}
}

func TestFamiliarName(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/busybox:latest":       "busybox:latest",
		"docker.io/user/repo:v1":                 "user/repo:v1",
		"localhost:5000/repo:tag":                "localhost:5000/repo:tag",
		"docker.io/library/repo@sha256:" + hex64: "repo@sha256:" + hex64,
		"not a reference":                        "not a reference",
	} {
		if got := metadata.FamiliarName(in); got != want {
			t.Errorf("FamiliarName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"busybox", "user/repo:tag", "localhost:5000/a/b@sha256:" + hex64, "Busybox", "[::1]:5000/x", "a:b@c:d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := metadata.NormalizeName(s)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("NormalizeName(%q) error %v is not invalid argument", s, err)
			}
			return
		}
		again, err := metadata.NormalizeName(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeName not idempotent: %q -> %q -> %q, %v", s, n, again, err)
		}
		back, err := metadata.NormalizeName(metadata.FamiliarName(n))
		if err != nil || back != n {
			t.Fatalf("familiar form of %q (%q) normalises to %q, %v", n, metadata.FamiliarName(n), back, err)
		}
	})
}
