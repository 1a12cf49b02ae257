package image

import (
	"reflect"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// TestApplyChangesAsDockerfile: --change instructions (import, commit)
// follow a Dockerfile's rules for ENTRYPOINT's reset of CMD and for $VAR
// in ENV.
func TestApplyChangesAsDockerfile(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env, cmd   []string
		changes    []string
		wantCmd    []string
		wantEntry  []string
		wantEnvAny []string
	}{
		{name: "ENTRYPOINT drops the image's CMD", cmd: []string{"sh"},
			changes: []string{`ENTRYPOINT ["echo"]`}, wantEntry: []string{"echo"}},
		{name: "a CMD given before ENTRYPOINT stays", cmd: []string{"sh"},
			changes: []string{`CMD ["hi"]`, `ENTRYPOINT ["echo"]`}, wantCmd: []string{"hi"}, wantEntry: []string{"echo"}},
		{name: "a CMD after ENTRYPOINT stays",
			changes: []string{`ENTRYPOINT ["echo"]`, `CMD ["hi"]`}, wantCmd: []string{"hi"}, wantEntry: []string{"echo"}},
		{name: "ENV expands the config's variables", env: []string{"PATH=/bin"},
			changes:    []string{`ENV PATH=/x:$PATH`, `ENV A="${PATH}" B='$PATH'`},
			wantEnvAny: []string{"PATH=/x:/bin", "A=/x:/bin", "B=$PATH"}},
		{name: "ENV of an unset variable is empty",
			changes: []string{`ENV PATH=/x:$PATH`}, wantEnvAny: []string{"PATH=/x:"}},
		{name: "ENV in the legacy form",
			changes: []string{`ENV GREETING hello world`}, wantEnvAny: []string{"GREETING=hello world"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &dockerspec.DockerOCIImageConfig{}
			c.Env = tc.env
			c.Cmd = tc.cmd
			if err := applyChanges(c, tc.changes); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Cmd, tc.wantCmd) || !reflect.DeepEqual(c.Entrypoint, tc.wantEntry) {
				t.Errorf("Cmd %q Entrypoint %q; want %q %q", c.Cmd, c.Entrypoint, tc.wantCmd, tc.wantEntry)
			}
			for _, kv := range tc.wantEnvAny {
				found := false
				for _, e := range c.Env {
					found = found || e == kv
				}
				if !found {
					t.Errorf("Env %q lacks %q", c.Env, kv)
				}
			}
		})
	}
}
