package content_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
)

var (
	dgstA = digest.FromString("a")
	dgstB = digest.FromString("b")
)

const ociManifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb","size":7},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d","size":32}]}`

const dockerManifest = `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
 "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb","size":7},
 "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d","size":32}]}`

const dockerList = `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
 "manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb","size":7,"platform":{"architecture":"amd64","os":"linux"}}]}`

const config = `{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"]},
 "rootfs":{"type":"layers","diff_ids":["sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"]},
 "history":[{"created_by":"ADD rootfs"}]}`

func TestParseManifest(t *testing.T) {
	for _, src := range []string{ociManifest, dockerManifest} {
		m, err := content.ParseManifest([]byte(src))
		if err != nil {
			t.Fatalf("ParseManifest: %v", err)
		}
		if m.Config.Digest != dgstA || len(m.Layers) != 1 || m.Layers[0].Digest != dgstB || m.Layers[0].Size != 32 {
			t.Fatalf("ParseManifest = %+v", m)
		}
		if c := content.Children([]byte(src)); len(c) != 2 || c[0].Digest != dgstA || c[1].Digest != dgstB {
			t.Fatalf("Children = %+v, want config then layer", c)
		}
	}
	bad := map[string]string{
		"schema 1":            strings.Replace(ociManifest, `"schemaVersion":2`, `"schemaVersion":1`, 1),
		"index media type":    strings.Replace(ociManifest, "image.manifest.v1", "image.index.v1", 1),
		"bad layer digest":    strings.Replace(ociManifest, "sha256:3e23", "sha256:XX23", 1),
		"negative size":       strings.Replace(ociManifest, `"size":32`, `"size":-1`, 1),
		"not JSON":            "\x1f\x8b\x08 gzip",
		"JSON array":          `[1,2]`,
		"truncated":           ociManifest[:50],
		"over 4 MiB":          `{"schemaVersion":2,"annotations":{"x":"` + strings.Repeat("y", content.MaxManifestSize) + `"}}`,
		"config without type": strings.Replace(ociManifest, `"mediaType":"application/vnd.oci.image.config.v1+json",`, "", 1),
	}
	for name, src := range bad {
		if _, err := content.ParseManifest([]byte(src)); !errdefs.IsInvalidArgument(err) {
			t.Errorf("ParseManifest(%s) = %v, want invalid argument", name, err)
		} else if name == "over 4 MiB" && !strings.Contains(err.Error(), "exceed the limit") {
			t.Errorf("ParseManifest(%s) error %q does not say why", name, err)
		}
	}
}

func TestParseIndex(t *testing.T) {
	idx, err := content.ParseIndex([]byte(dockerList))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Platform.Architecture != "amd64" {
		t.Fatalf("ParseIndex = %+v", idx)
	}
	if c := content.Children([]byte(dockerList)); len(c) != 1 || c[0].Digest != dgstA {
		t.Fatalf("Children(index) = %+v", c)
	}
	if _, err := content.ParseIndex([]byte(dockerManifest)); !errdefs.IsInvalidArgument(err) {
		t.Errorf("ParseIndex(manifest) = %v, want invalid argument", err)
	}
	if _, err := content.ParseManifest([]byte(dockerList)); !errdefs.IsInvalidArgument(err) {
		t.Errorf("ParseManifest(list) = %v, want invalid argument", err)
	}
}

func TestParseConfig(t *testing.T) {
	img, err := content.ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	if img.OS != "linux" || img.Config.Cmd[0] != "sh" || img.RootFS.DiffIDs[0] != dgstB || len(img.History) != 1 {
		t.Fatalf("ParseConfig = %+v", img)
	}
	if c := content.Children([]byte(config)); c != nil {
		t.Fatalf("Children(config) = %+v, want none", c)
	}
	for name, src := range map[string]string{
		"not JSON":     "FROM busybox",
		"rootfs type":  strings.Replace(config, `"type":"layers"`, `"type":"tarball"`, 1),
		"bad diff ID":  strings.Replace(config, "sha256:3e23", "sha256:3e2", 1),
		"wrong shapes": `{"config":{"Env":"PATH"}}`,
	} {
		if _, err := content.ParseConfig([]byte(src)); !errdefs.IsInvalidArgument(err) {
			t.Errorf("ParseConfig(%s) = %v, want invalid argument", name, err)
		}
	}
}

func TestReadManifestFromStore(t *testing.T) {
	ctx := context.Background()
	s := newLocal(t)
	d := put(t, ctx, s, content.MediaTypeDockerManifest, []byte(dockerManifest))
	m, err := content.ReadManifest(ctx, s, d)
	if err != nil || m.Config.Digest != dgstA {
		t.Fatalf("ReadManifest = %+v, %v", m, err)
	}
	if _, err := content.ReadIndex(ctx, s, d); !errdefs.IsInvalidArgument(err) {
		t.Errorf("ReadIndex(manifest) = %v, want invalid argument", err)
	}
	big := d
	big.Size = content.MaxManifestSize + 1
	if _, err := content.ReadManifest(ctx, s, big); !errdefs.IsInvalidArgument(err) {
		t.Errorf("ReadManifest(descriptor over 4 MiB) = %v, want invalid argument", err)
	}
	cd := put(t, ctx, s, ocispec.MediaTypeImageConfig, []byte(config))
	if img, err := content.ReadConfig(ctx, s, cd); err != nil || img.Architecture != "amd64" {
		t.Fatalf("ReadConfig = %+v, %v", img, err)
	}
	if _, err := content.ReadConfig(ctx, s, ocispec.Descriptor{Digest: digest.FromString("absent")}); !errdefs.IsNotFound(err) {
		t.Errorf("ReadConfig(absent) = %v, want not found", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{ociManifest, dockerManifest, dockerList, config, `{}`, `{"layers":null,"config":{}}`, `{"manifests":[{}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		content.Children(b)
		content.ParseConfig(b)
		if m, err := content.ParseManifest(b); err == nil {
			out, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("marshal parsed manifest: %v", err)
			}
			if _, err := content.ParseManifest(out); err != nil && len(out) <= content.MaxManifestSize {
				t.Fatalf("parsed manifest does not parse again: %v\n%s", err, out)
			}
		}
		if idx, err := content.ParseIndex(b); err == nil {
			if _, err := content.SelectManifest(idx, content.DefaultPlatform()); err != nil && !errdefs.IsNotFound(err) {
				t.Fatalf("SelectManifest: %v", err)
			}
			out, _ := json.Marshal(idx)
			if _, err := content.ParseIndex(out); err != nil && len(out) <= content.MaxManifestSize {
				t.Fatalf("parsed index does not parse again: %v\n%s", err, out)
			}
		}
	})
}
