package build

import (
	"bytes"
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// MaxDockerfileBytes bounds the Dockerfile a build reads.
const MaxDockerfileBytes = 4 << 20

// predefinedArgs may be passed as build args without an ARG instruction,
// as docker's.
var predefinedArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// plan is a parsed Dockerfile: its stages, the global (pre-FROM) args,
// the stage to build and the stages it needs.
type plan struct {
	stages     []instructions.Stage
	escape     rune
	globalArgs map[string]string
	target     int
	// bases[i] is the index of the stage stage i is FROM, or -1 for an
	// image or scratch; baseRefs[i] the expanded image reference.
	bases    []int
	baseRefs []string
	deps     map[int][]int
	// firstStep[i] is the step number of stage i's FROM; total the steps
	// of every stage built.
	firstStep map[int]int
	total     int
	// metaArgNames are the args declared before the first FROM.
	metaArgNames []string
}

// envMap is a shell.EnvGetter over a map.
type envMap map[string]string

func (e envMap) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }

func (e envMap) Keys() []string {
	ks := make([]string, 0, len(e))
	for k := range e {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkSyntax refuses a syntax directive naming a frontend other than
// docker/dockerfile: berth runs no frontend images.
func checkSyntax(df []byte) error {
	ref, _, _, ok := parser.DetectSyntax(df)
	if !ok {
		return nil
	}
	name, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	name = strings.TrimPrefix(name, "docker.io/")
	if name == "docker/dockerfile" || name == "docker/dockerfile-upstream" {
		return nil
	}
	return invalid("dockerfile: syntax directive %q: berth builds only the built-in Dockerfile frontend, not custom frontends", ref)
}

func platformArgs(platform string) map[string]string {
	os_, arch, variant := "linux", runtime.GOARCH, ""
	if platform != "" {
		parts := strings.Split(platform, "/")
		os_ = parts[0]
		if len(parts) > 1 {
			arch = parts[1]
		}
		if len(parts) > 2 {
			variant = parts[2]
		}
	}
	tp := os_ + "/" + arch
	if variant != "" {
		tp += "/" + variant
	}
	return map[string]string{
		"BUILDPLATFORM": "linux/" + runtime.GOARCH, "BUILDOS": "linux", "BUILDARCH": runtime.GOARCH, "BUILDVARIANT": "",
		"TARGETPLATFORM": tp, "TARGETOS": os_, "TARGETARCH": arch, "TARGETVARIANT": variant,
	}
}

// buildArgValue returns the value of build arg k given on the command
// line, and whether there is one.
func buildArgValue(args map[string]*string, k string) (string, bool) {
	v, ok := args[k]
	if !ok {
		return "", false
	}
	if v == nil {
		return os.LookupEnv(k)
	}
	return *v, true
}

func parseDockerfile(df []byte, opts BuildOptions) (*plan, error) {
	if len(df) > MaxDockerfileBytes {
		return nil, invalid("dockerfile: %d bytes, more than the limit of %d", len(df), MaxDockerfileBytes)
	}
	if err := checkSyntax(df); err != nil {
		return nil, err
	}
	if len(df) == 0 { // blank lines are "file with no instructions", as dockerd says
		name := opts.Dockerfile
		if name == "" {
			name = "Dockerfile"
		}
		return nil, invalid("the Dockerfile (%s) cannot be empty", name) // dockerd's words
	}
	res, err := parser.Parse(bytes.NewReader(df))
	if err != nil {
		return nil, invalid("dockerfile parse error: %v", err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, invalid("dockerfile: %v", err)
	}
	if len(stages) == 0 {
		return nil, invalid("dockerfile: no FROM instruction")
	}
	named := map[string]bool{}
	for _, st := range stages {
		if st.Name == "" {
			continue
		}
		if named[st.Name] {
			return nil, invalid("%s stage name already used", st.Name)
		}
		named[st.Name] = true
	}
	p := &plan{stages: stages, escape: res.EscapeToken, globalArgs: map[string]string{}, deps: map[int][]int{}, firstStep: map[int]int{}}
	for k, v := range platformArgs(opts.Platform) {
		p.globalArgs[k] = v
	}
	lex := shell.NewLex(p.escape)
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			p.metaArgNames = append(p.metaArgNames, kv.Key)
			if v, ok := buildArgValue(opts.BuildArgs, kv.Key); ok {
				p.globalArgs[kv.Key] = v
				continue
			}
			if kv.Value != nil {
				v, _, err := lex.ProcessWord(*kv.Value, envMap(p.globalArgs))
				if err != nil {
					return nil, invalid("dockerfile: ARG %s: %v", kv.Key, err)
				}
				p.globalArgs[kv.Key] = v
			} else if _, ok := p.globalArgs[kv.Key]; !ok {
				p.globalArgs[kv.Key] = ""
			}
		}
	}
	p.target = len(stages) - 1
	if opts.Target != "" {
		i, ok := instructions.HasStage(stages, opts.Target)
		if !ok {
			return nil, invalid("failed to reach build target %s in Dockerfile", opts.Target)
		}
		p.target = i
	}
	p.bases = make([]int, len(stages))
	p.baseRefs = make([]string, len(stages))
	for i, st := range stages {
		base, _, err := lex.ProcessWord(st.BaseName, envMap(p.globalArgs))
		if err != nil {
			return nil, invalid("dockerfile: FROM %s: %v", st.BaseName, err)
		}
		if base == "" {
			return nil, invalid("dockerfile: FROM %s: empty base name", st.BaseName)
		}
		p.bases[i] = -1
		if j, ok := instructions.HasStage(stages[:i], base); ok {
			p.bases[i] = j
			p.deps[i] = append(p.deps[i], j)
		}
		p.baseRefs[i] = base
		for _, c := range st.Commands {
			from := ""
			switch c := c.(type) {
			case *instructions.CopyCommand:
				from = c.From
			case *instructions.RunCommand:
				for _, m := range instructions.GetMounts(c) {
					if m.From != "" {
						from = m.From
					}
				}
			}
			if from == "" {
				continue
			}
			from, _, err = lex.ProcessWord(from, envMap(p.globalArgs))
			if err != nil {
				return nil, invalid("dockerfile: --from=%s: %v", from, err)
			}
			if j, ok := instructions.HasStage(stages[:i], from); ok {
				p.deps[i] = append(p.deps[i], j)
			} else if _, later := instructions.HasStage(stages, from); later {
				return nil, invalid("dockerfile: stage %d refers to stage %q before it is defined", i, from)
			}
		}
	}
	// Number the steps of the stages the target needs, in file order.
	need := map[int]bool{}
	var visit func(int)
	visit = func(i int) {
		if need[i] {
			return
		}
		need[i] = true
		for _, d := range p.deps[i] {
			visit(d)
		}
	}
	visit(p.target)
	n := 0
	for i, st := range stages {
		if !need[i] {
			continue
		}
		p.firstStep[i] = n + 1
		n += 1 + len(st.Commands)
	}
	p.total = n
	return p, nil
}
