package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/testutil"
)

// rawExt reads the docker-only fields of an image's stored config, as
// docker inspect and the engine's container create read them.
func rawExt(t *testing.T, img Image) dockerspec.DockerOCIImageConfigExt {
	t.Helper()
	var raw struct {
		Config dockerspec.DockerOCIImageConfigExt `json:"config"`
	}
	if err := json.Unmarshal(img.ConfigRaw, &raw); err != nil {
		t.Fatal(err)
	}
	return raw.Config
}

// CommitOptions.ConfigExt writes Healthcheck, Shell and OnBuild under
// docker's names into the config JSON; a child without ConfigExt inherits
// them; Changes set them too; Created fixes the times.
func TestCreateFromDiffDockerConfig(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s := newTestService(t, "")
	rootfs := makeTar(t, tarEntry{name: "bin/", typ: '5'}, tarEntry{name: "bin/tool", body: "x", mode: 0o755})
	base, err := s.Import(ctx, bytes.NewReader(rootfs), ImportOptions{Ref: "base:1"})
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(1700000000, 0).UTC()
	hc := &dockerspec.HealthcheckConfig{Test: []string{"CMD-SHELL", "true"}, Interval: 5 * time.Second, Timeout: time.Second, StartPeriod: 2 * time.Second, StartInterval: time.Second, Retries: 3}
	img, err := s.CreateFromDiff(ctx, base, nil, CommitOptions{
		Ref: "ext:1", EmptyLayer: true, Config: &ocispec.ImageConfig{Cmd: []string{"sh"}},
		ConfigExt: &dockerspec.DockerOCIImageConfigExt{Healthcheck: hc, Shell: []string{"/bin/bash", "-c"}, OnBuild: []string{"RUN echo hi"}},
		Created:   &epoch,
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Config map[string]json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(img.ConfigRaw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Healthcheck", "Shell", "OnBuild", "Cmd"} {
		if _, ok := doc.Config[k]; !ok {
			t.Errorf("config JSON has no %q: %s", k, img.ConfigRaw)
		}
	}
	if got := string(doc.Config["Healthcheck"]); got != `{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Timeout":1000000000,"StartPeriod":2000000000,"StartInterval":1000000000,"Retries":3}` {
		t.Errorf("Healthcheck JSON %s", got)
	}
	if !img.Created.Equal(epoch) || !img.Config.History[len(img.Config.History)-1].Created.Equal(epoch) {
		t.Errorf("created %v, history %v; want %v", img.Created, img.Config.History[len(img.Config.History)-1].Created, epoch)
	}
	// A commit without ConfigExt inherits them; Changes set them.
	child, err := s.CreateFromDiff(ctx, img, bytes.NewReader(makeTar(t, tarEntry{name: "new", body: "n"})), CommitOptions{Ref: "ext:2", Changes: []string{"CMD true"}})
	if err != nil {
		t.Fatal(err)
	}
	if child.LastTagTime.IsZero() {
		t.Error("a commit with a name has no LastTagTime")
	}
	if ext := rawExt(t, child); ext.Healthcheck == nil || ext.Healthcheck.Retries != 3 || strings.Join(ext.Shell, " ") != "/bin/bash -c" || len(ext.OnBuild) != 1 {
		t.Errorf("inherited ext %+v", ext)
	}
	changed, err := s.CreateFromDiff(ctx, child, nil, CommitOptions{EmptyLayer: true, Changes: []string{
		`HEALTHCHECK --interval=7s --retries=2 CMD ["/bin/tool","check"]`, `SHELL ["/bin/ash","-eo","pipefail","-c"]`, "ONBUILD COPY . /app",
	}})
	if err != nil {
		t.Fatal(err)
	}
	ext := rawExt(t, changed)
	if ext.Healthcheck == nil || strings.Join(ext.Healthcheck.Test, " ") != "CMD /bin/tool check" || ext.Healthcheck.Interval != 7*time.Second || ext.Healthcheck.Retries != 2 {
		t.Errorf("HEALTHCHECK change gave %+v", ext.Healthcheck)
	}
	if strings.Join(ext.Shell, " ") != "/bin/ash -eo pipefail -c" || strings.Join(ext.OnBuild, "|") != "RUN echo hi|COPY . /app" {
		t.Errorf("SHELL/ONBUILD changes gave %+v", ext)
	}
	none, err := s.CreateFromDiff(ctx, changed, nil, CommitOptions{EmptyLayer: true, Changes: []string{"HEALTHCHECK NONE"}})
	if err != nil {
		t.Fatal(err)
	}
	if hc := rawExt(t, none).Healthcheck; hc == nil || strings.Join(hc.Test, " ") != "NONE" {
		t.Errorf("HEALTHCHECK NONE gave %+v", hc)
	}
	for _, bad := range []string{"HEALTHCHECK --interval=x CMD true", "SHELL sh -c", "ONBUILD FROM x"} {
		if _, err := s.CreateFromDiff(ctx, child, nil, CommitOptions{EmptyLayer: true, Changes: []string{bad}}); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), bad) {
			t.Errorf("change %q: %v, want an invalid-argument error naming it", bad, err)
		}
	}
}

// A builder's step image (an intermediate name) is found by name and ID
// and kept by GC, but not listed (unless All) nor dangling; rmi by ID of
// a built image that also has a tag deletes it without a conflict and
// reports only the tag; removing the intermediate name of a tagged image
// only drops that name.
func TestIntermediateImagesHidden(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s := newTestService(t, "")
	rootfs := makeTar(t, tarEntry{name: "f", body: "x"})
	step, err := s.Import(ctx, bytes.NewReader(rootfs), ImportOptions{Ref: IntermediateName("k1")})
	if err != nil {
		t.Fatal(err)
	}
	if len(step.RepoTags) != 0 || step.Dangling {
		t.Errorf("step image tags %v dangling %v, want none and false", step.RepoTags, step.Dangling)
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, step.ID.String()); err != nil {
		t.Fatalf("step image after GC: %v", err)
	}
	list, err := s.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("List shows %d images (%v), want the step image hidden", len(list), list[0].RepoTags)
	}
	if all, _ := s.List(ctx, ListOptions{All: true}); len(all) != 1 {
		t.Errorf("List All shows %d images, want 1", len(all))
	}
	if d, _ := s.List(ctx, ListOptions{Filters: map[string][]string{"dangling": {"true"}}}); len(d) != 0 {
		t.Errorf("dangling filter lists %d step images", len(d))
	}
	if rep, err := s.Prune(ctx, PruneOptions{}); err != nil || len(rep.Deleted) != 0 {
		t.Errorf("image prune (dangling) removed %v, %v", rep.Deleted, err)
	}
	// The final step of a build gets a tag as well.
	final, err := s.CreateFromDiff(ctx, step, nil, CommitOptions{Ref: IntermediateName("k2"), EmptyLayer: true, Changes: []string{"CMD x"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, final.ID.String(), "app:1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "app:1")
	if err != nil || strings.Join(got.RepoTags, ",") != "app:1" {
		t.Fatalf("app:1 tags %v, %v", got.RepoTags, err)
	}
	// Dropping the intermediate name keeps the user's tag.
	if _, err := s.Remove(ctx, IntermediateName("k2"), RemoveOptions{NoPrune: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "app:1"); err != nil {
		t.Fatalf("app:1 after its step name was removed: %v", err)
	}
	if err := s.Tag(ctx, final.ID.String(), IntermediateName("k2")); err != nil {
		t.Fatal(err)
	}
	del, err := s.Remove(ctx, final.ID.String(), RemoveOptions{})
	if err != nil {
		t.Fatalf("rmi by ID of a built image: %v", err)
	}
	var lines []string
	for _, d := range del {
		lines = append(lines, d.Untagged+d.Deleted)
	}
	if strings.Join(lines, ",") != "app:1,"+final.ID.String() {
		t.Errorf("rmi answered %v, want app:1 untagged and the image deleted", lines)
	}
	if _, err := s.Get(ctx, final.ID.String()); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("removed image still found: %v", err)
	}
}
