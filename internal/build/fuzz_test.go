package build

import "testing"

// FuzzParseDockerfile feeds hostile Dockerfiles through parsing,
// instruction conversion, stage resolution and ARG expansion: errors are
// fine, panics and hangs are not.
func FuzzParseDockerfile(f *testing.F) {
	for _, s := range []string{
		"FROM busybox\nRUN echo hi\n",
		"ARG B=busybox\nFROM ${B:-x} AS a\nCOPY --from=a --chown=1:1 . /x\n",
		"# escape=`\nFROM scratch\nRUN <<EOF\nhi\nEOF\n",
		"# syntax=foo/bar\nFROM a\n",
		"FROM a\nRUN --mount=type=cache,target=/c --network=none true\nHEALTHCHECK --interval=1s CMD x\n",
	} {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, df, target string) {
		v := "x"
		p, err := parseDockerfile([]byte(df), BuildOptions{Target: target, BuildArgs: map[string]*string{"B": &v}})
		if err != nil {
			return
		}
		if p.target < 0 || p.target >= len(p.stages) {
			t.Fatalf("target %d of %d stages", p.target, len(p.stages))
		}
	})
}
