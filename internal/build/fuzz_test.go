package build

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

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

// FuzzExpand runs the ARG/ENV expansion of every instruction of a
// fuzzed Dockerfile against a fuzzed environment.
func FuzzExpand(f *testing.F) {
	f.Add("FROM a\nENV A=${B:-x} C=\"$A\"\nCOPY ${A}/* /d/\nRUN --mount=type=cache,target=$A echo $C\nEXPOSE ${P:?no}\n", "B=1\nP=80")
	f.Add("FROM a\nUSER ${U:+x}\nWORKDIR $W\nLABEL \"k\"='$v'\n", "U=\nW=/a\\")
	f.Fuzz(func(t *testing.T, df, envText string) {
		p, err := parseDockerfile([]byte(df), BuildOptions{})
		if err != nil {
			return
		}
		env := envMap{}
		for _, kv := range strings.Split(envText, "\n") {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		for _, st := range p.stages {
			for _, c := range st.Commands {
				expandCommand(shell.NewLex(p.escape), env, c)
			}
		}
	})
}
