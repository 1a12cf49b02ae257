package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Containers made by docker are named cpD..., by berth cpB...: the same
// length, so table columns line up the same way.
const (
	dockerPrefix = "cpD"
	berthPrefix  = "cpB"
)

type parityCase struct {
	name  string
	args  string // {n} is the tool's name prefix, {dir} the test's temp dir
	stdin string
	// loose collapses runs of spaces: for tables whose columns hold times
	// ("2 seconds ago") that may differ between the two runs.
	loose bool
	// code is the exit code both must have.
	code int
	// digits hides numbers (PIDs).
	digits bool
	// targetCode overrides code for one target (by name) where the
	// daemons legitimately differ.
	targetCode map[string]int
	// concurrent runs both CLIs at the same time (for commands that block
	// until a container exits, so that each sees its container running).
	concurrent bool
	// skipOn skips the case on a target, with the reason (a known gap of
	// that daemon, not of the CLI).
	skipOn map[string]string
}

var (
	reID64   = regexp.MustCompile(`\b(sha256:)?[0-9a-f]{64}\b`)
	reID12   = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	reAgo    = regexp.MustCompile(`(Less than a second|About an? \w+|\d+ \w+) ago`)
	reUp     = regexp.MustCompile(`Up (Less than a second|About an? \w+|\d+ \w+)`)
	reTime   = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} UTC|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	reSpaces = regexp.MustCompile(` {2,}`)
	reDigits = regexp.MustCompile(`\d+`)
)

// normalize hides what legitimately differs between the two runs: IDs,
// times, the name prefix and the program name in messages.
func normalize(s, prefix string, loose, digits bool) string {
	s = strings.ReplaceAll(s, prefix, "<N>")
	s = strings.ReplaceAll(s, strings.ToLower(prefix), "<n>")
	s = strings.NewReplacer("docker: ", "berth: ", "'docker ", "'berth ", "Usage:  docker ", "Usage:  berth ", "unknown command: docker ", "unknown command: berth ").Replace(s)
	s = reID64.ReplaceAllString(s, "<ID64>")
	s = reID12.ReplaceAllString(s, "<ID12>")
	s = reAgo.ReplaceAllString(s, "<AGO>")
	s = reUp.ReplaceAllString(s, "Up <DUR>")
	s = reTime.ReplaceAllString(s, "<TIME>")
	if digits {
		// A PID's width shifts the columns after it: hide both.
		s = reDigits.ReplaceAllString(s, "0")
		s = reSpaces.ReplaceAllString(s, "  ")
	}
	if loose {
		s = reSpaces.ReplaceAllString(s, "  ")
	}
	return s
}

func expand(args, prefix string) []string {
	var out []string
	for _, a := range splitArgs(args) {
		a = strings.ReplaceAll(a, "{n}", prefix)
		a = strings.ReplaceAll(a, "{lower}", strings.ToLower(prefix))
		a = strings.ReplaceAll(a, "{dir}", env.tmp)
		out = append(out, a)
	}
	return out
}

// splitArgs splits on spaces, keeping '...' quoted words together.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, has := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			inQuote = !inQuote
			has = true
		case r == ' ' && !inQuote:
			if has {
				out = append(out, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(r)
			has = true
		}
	}
	if has {
		out = append(out, cur.String())
	}
	return out
}

// check runs one case with both CLIs and compares what a user sees.
func check(t *testing.T, c parityCase) {
	t.Helper()
	checkWith(t, c, nil, nil)
}

// checkWith is check with a per-tool rewrite of the arguments before
// expansion and of the output before normalization.
func checkWith(t *testing.T, c parityCase, rewrite func(args, prefix string) string, hide func(out, prefix string) string) {
	t.Helper()
	if rewrite == nil {
		rewrite = func(a, _ string) string { return a }
	}
	if hide == nil {
		hide = func(s, _ string) string { return s }
	}
	var b result
	var berr error
	berthDone := make(chan struct{})
	runBerth := func() {
		b, berr = runCLIErr(env.berth, c.stdin, expand(rewrite(c.args, berthPrefix), berthPrefix)...)
		close(berthDone)
	}
	if c.concurrent {
		go runBerth()
	}
	d := runCLI(t, dockerCLI, c.stdin, expand(rewrite(c.args, dockerPrefix), dockerPrefix)...)
	if !c.concurrent {
		runBerth()
	}
	<-berthDone
	if berr != nil {
		t.Fatal(berr)
	}
	d.stdout, d.stderr = hide(d.stdout, dockerPrefix), hide(d.stderr, dockerPrefix)
	b.stdout, b.stderr = hide(b.stdout, berthPrefix), hide(b.stderr, berthPrefix)
	want := c.code
	if tc, ok := c.targetCode[currentTarget]; ok {
		want = tc
	}
	if d.code != want {
		t.Errorf("docker %s: exit %d, the case expects %d\nstdout: %s\nstderr: %s", c.args, d.code, want, d.stdout, d.stderr)
	}
	if b.code != d.code {
		t.Errorf("berth %s: exit %d, docker exited %d\nberth stderr: %s\ndocker stderr: %s", c.args, b.code, d.code, b.stderr, d.stderr)
	}
	if dn, bn := normalize(d.stdout, dockerPrefix, c.loose, c.digits), normalize(b.stdout, berthPrefix, c.loose, c.digits); dn != bn {
		t.Errorf("%s: stdout differs\ndocker:\n%s\nberth:\n%s", c.args, dn, bn)
	}
	if dn, bn := normalize(d.stderr, dockerPrefix, c.loose, c.digits), normalize(b.stderr, berthPrefix, c.loose, c.digits); dn != bn {
		t.Errorf("%s: stderr differs\ndocker:\n%s\nberth:\n%s", c.args, dn, bn)
	}
}

func runCases(t *testing.T, cases []parityCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if why, ok := c.skipOn[currentTarget]; ok {
				t.Skip(why)
			}
			check(t, c)
		})
	}
}

// cleanupContainers removes the containers both CLIs made with names
// starting with the prefixes.
func cleanupContainers(t *testing.T) {
	t.Cleanup(func() {
		for _, p := range []string{dockerPrefix, berthPrefix} {
			r := runCLI(t, dockerCLI, "", "ps", "-aq", "--filter", "name="+p)
			if ids := strings.Fields(r.stdout); len(ids) > 0 {
				runCLI(t, dockerCLI, "", append([]string{"rm", "-f"}, ids...)...)
			}
		}
	})
}

// TestRunParity: foreground run with exit codes, streams, stdin, docker's
// run errors (125 flag, 125 daemon, 127 missing command, 1 for
// conflicting options) and the flags whose parsing matters most.
func TestRunParity(t *testing.T) { forEachTarget(t, testRunParity) }

func testRunParity(t *testing.T) {
	needEnv(t)
	cleanupContainers(t)
	if err := os.WriteFile(filepath.Join(env.tmp, "envfile"), []byte("# comment\nB=from-file\nC\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(env.tmp, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "f"), []byte("bound\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runCases(t, []parityCase{
		{name: "exit code and both streams", args: "run --name {n}1 --network none busybox sh -c 'echo out; echo err >&2; exit 3'", code: 3},
		{name: "missing command is 127", args: "run --rm --network none busybox nosuch", code: 127},
		{name: "non-executable is 126", args: "run --rm --network none busybox /etc/passwd", code: 126},
		{name: "bad memory value", args: "run --memory abc busybox", code: 125},
		{name: "unknown flag", args: "run --bogus busybox", code: 125},
		{name: "no image argument", args: "run", code: 1},
		{name: "detach with attach", args: "run -d -a stdout busybox", code: 1},
		{name: "invalid name", args: "run --name 1 busybox", code: 125},
		{name: "name conflict", args: "run --name {n}1 --network none busybox true", code: 125},
		{name: "restart with rm", args: "run --rm --restart always busybox", code: 125},
		{name: "unknown capability", args: "run --name {n}cap --network none --cap-add BOGUS busybox true", code: 125},
		{name: "unknown dropped capability", args: "create --name {n}cap --network none --cap-drop NOPE busybox true", code: 1},
		{name: "invalid stop signal", args: "run --name {n}cap --network none --stop-signal BOGUS busybox true", code: 125},
		{name: "nothing created by refused runs", args: "ps -aq --filter name={n}cap"},
		{name: "platform of another architecture", args: "run --rm --pull never --platform linux/arm64 --network none busybox true", code: 125},
		{name: "platform of the image", args: "run --rm --pull never --platform linux/amd64 --network none busybox true"},
		{name: "hostname in inspect", args: "create --name {n}hn --network none busybox"},
		{name: "inspect hostname is the short ID", args: "inspect -f '{{len .Config.Hostname}} {{eq .Config.Hostname (slice .Id 0 12)}}' {n}hn"},
		{name: "host network's hostname", args: "create --name {n}hh --network host busybox"},
		{name: "inspect hostname with the host network", args: "inspect -f '{{.Config.Hostname}}' {n}hh"},
		{name: "tty without a terminal", args: "run -it --rm busybox true", code: 1},
		{name: "stdin", args: "run -i --rm --network none busybox sh -c 'cat; echo done'", stdin: "hello\n"},
		{name: "env workdir user", args: "run --rm --network none -e A=1 --env-file {dir}/envfile -w /tmp -u 1:2 busybox sh -c 'echo $A $B; pwd; id'"},
		{name: "ulimit", args: "run --rm --network none --ulimit nofile=1024:2048 busybox sh -c 'ulimit -n; ulimit -Hn'"},
		{name: "read-only bind mount", args: "run --rm --network none -v {dir}/data:/data:ro busybox sh -c 'cat /data/f; touch /data/x'", code: 1},
		{name: "entrypoint and hostname", args: "run --rm --network none -h myhost --entrypoint hostname busybox"},
		{name: "read-only rootfs and tmpfs", args: "run --rm --network none --read-only --tmpfs /scratch busybox sh -c 'touch /scratch/ok && echo ok; touch /nope'", code: 1},
		{name: "labels and limits in inspect", args: "create --name {n}lim --network none -l a=b --memory 64m --memory-swap 128m --cpus 1.5 --cpu-shares 512 --pids-limit 50 --shm-size 32m --stop-signal SIGUSR1 --stop-timeout 7 --restart on-failure:3 --cap-add NET_ADMIN --cap-drop MKNOD --security-opt no-new-privileges busybox"},
		{name: "inspect of limits", args: "inspect -f '{{.Config.Labels}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.ShmSize}} {{.Config.StopSignal}} {{.Config.StopTimeout}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.HostConfig.CapAdd}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}}' {n}lim"},
		{name: "ports", args: "create --name {n}port --network none -p 127.0.0.1:8080:80 -p 9000-9001:9000-9001/udp --expose 7000 busybox"},
		{name: "inspect of ports", args: "inspect -f '{{json .HostConfig.PortBindings}} {{json .Config.ExposedPorts}}' {n}port"},
	})
}

// TestLifecycleParity: detached containers through start, stop, kill,
// pause, exec, logs, wait, rename, rm, and the listing and inspect
// output of each state.
func TestLifecycleParity(t *testing.T) { forEachTarget(t, testLifecycleParity) }

func testLifecycleParity(t *testing.T) {
	needEnv(t)
	cleanupContainers(t)
	runCases(t, []parityCase{
		{name: "run detached", args: "run -d --name {n}2 --network none busybox sh -c 'echo started; sleep 300'"},
		{name: "exec exit code", args: "exec {n}2 sh -c 'echo in-exec; exit 4'", code: 4},
		{name: "exec stdin", args: "exec -i {n}2 cat", stdin: "piped\n"},
		{name: "exec env workdir user", args: "exec -e X=y -w /tmp -u 5 {n}2 sh -c 'echo $X; pwd; id -u'"},
		// dockerd 20.10 reports the failed exec in the stream, exit 126;
		// newer dockerd and berth fail the exec start, exit 127.
		{name: "exec missing command", args: "exec {n}2 nosuch", code: 126, targetCode: map[string]int{"berth": 127}},
		{name: "exec in unknown container", args: "exec nosuch true", code: 1},
		{name: "exec -it without a terminal", args: "exec -it {n}2 sh", code: 1},
		{name: "logs", args: "logs {n}2"},
		{name: "logs tail", args: "logs --tail 1 {n}2"},
		{name: "ps running", args: "ps --filter name={n}2", loose: true},
		{name: "ps no-trunc format", args: "ps --no-trunc --filter name={n}2 --format '{{.Names}} {{.Command}} {{.State}} {{.Image}}'"},
		{name: "ps json", args: "ps --filter name={n}2 --format json"},
		{name: "ps table template", args: "ps --filter name={n}2 --format 'table {{.Names}}\\t{{.Image}}\\t{{.State}}'"},
		{name: "ps quiet", args: "ps -q --filter name={n}2"},
		{name: "ps bad filter", args: "ps --filter nokey", code: 125},
		{name: "ps bad format", args: "ps --format '{{.Nope'", code: 1},
		{name: "prune bad filter", args: "container prune -f --filter nokey", code: 125},
		{name: "ps label filter and Label", args: "ps -a --filter label=nosuch --format '{{.Label \"x\"}}'"},
		{name: "ps table with Label", args: "ps --filter name={n}2 --format 'table {{.Names}}\\t{{.Label \"com.example.some-key\"}}'"},
		{name: "update without flags", args: "update {n}2", code: 1},
		{name: "rm -f unknown", args: "rm -f nosuch{n}"},
		{name: "container prune answered no", args: "container prune", stdin: "n\n"},
		{name: "pause", args: "pause {n}2"},
		{name: "paused state", args: "inspect -f '{{.State.Status}} {{.State.Paused}}' {n}2"},
		{name: "unpause", args: "unpause {n}2"},
		{name: "rm running", args: "rm {n}2", code: 1},
		{name: "rename", args: "rename {n}2 {n}3"},
		{name: "rename unknown", args: "rename nosuch {n}4", code: 1},
		{name: "kill signal", args: "kill -s KILL {n}3"},
		{name: "wait", args: "wait {n}3"},
		{name: "exited state", args: "inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.Name}}' {n}3"},
		{name: "ps exited", args: "ps -a --filter name={n}3 --format '{{.Names}}\\t{{.Status}}'"},
		{name: "ps name filter is a regexp", args: "ps -a --filter 'name=^/?{n}[3]$' --format '{{.Names}}'"},
		{name: "ps size", args: "ps -a -s --filter name={n}3 --format '{{.Names}} {{.Size}}'"},
		{name: "ps size table", args: "ps -a -s --filter name={n}3", loose: true},
		{name: "start", args: "start {n}3"},
		{name: "stop", args: "stop -t 1 {n}3"},
		{name: "restart", args: "restart -t 1 {n}3"},
		{name: "stop again", args: "stop -t 0 {n}3"},
		{name: "create then start attached", args: "create --name {n}5 --network none busybox sh -c 'echo attached; exit 2'"},
		{name: "start -a", args: "start -a {n}5", code: 2},
		{name: "diff", args: "diff {n}3"},
		{name: "commit", args: "commit -c 'CMD [\"echo\",\"committed\"]' -m msg -a me {n}3 {lower}/commit:1"},
		{name: "run committed", args: "run --rm --network none {lower}/commit:1"},
		{name: "committed image", args: "image inspect -f '{{.Config.Cmd}} {{.Author}} {{.Comment}}' {lower}/commit:1"},
		{name: "rmi committed", args: "rmi {lower}/commit:1"},
		{name: "commit unknown", args: "commit nosuch", code: 1},
		{name: "commit bad reference", args: "commit {n}3 Bad:ref", code: 1},
		{name: "tag for a container", args: "tag busybox {lower}/gone:1"},
		{name: "container of the tag", args: "create --name {n}img --network none {lower}/gone:1"},
		{name: "untag it", args: "rmi {lower}/gone:1"},
		{name: "ps shows the image ID once the name is gone", args: "ps -a --filter name={n}img --format '{{len .Image}}'"},
		{name: "rm", args: "rm {n}3 {n}5 {n}img"},
		{name: "rm unknown", args: "rm nosuch nosuch2", code: 1},
		{name: "rm without arguments", args: "rm", code: 1},
		{name: "ps with an argument", args: "ps x", code: 1},
		{name: "port without arguments", args: "port", code: 1},
		{name: "unknown container subcommand", args: "container nosuch", code: 1},
		{name: "start unknown", args: "start nosuch", code: 1},
		{name: "stop unknown", args: "stop nosuch", code: 1},
		{name: "inspect unknown", args: "inspect nosuch", code: 1},
		{name: "container inspect unknown", args: "container inspect nosuch", code: 1},
		{name: "logs unknown", args: "logs nosuch", code: 1},
		{name: "wait unknown", args: "wait nosuch", code: 1},
		{name: "rm -f running", args: "run -d --name {n}6 --network none busybox sleep 300"},
		{name: "top", args: "top {n}6 -o pid,comm", digits: true},
		{name: "update limits", args: "update --memory 96m --memory-swap 192m --cpu-shares 256 --pids-limit 80 --restart on-failure:2 {n}6"},
		{name: "updated limits", args: "inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}' {n}6"},
		{name: "update without flags", args: "update {n}6", code: 1},
		{name: "stats one-shot", args: "stats --no-stream --format '{{.Name}} {{.Container}}' {n}6"},
		{name: "port without bindings", args: "port {n}6"},
		{name: "inspect type container", args: "inspect --type container -f '{{.Name}}' {n}6"},
		{name: "inspect type image of a container", args: "inspect --type image {n}6", code: 1},
		{name: "ps last", args: "ps -n 1 --filter name={n}6 --format '{{.Names}}'"},
		{name: "ps latest quiet no-trunc", args: "ps -lq --no-trunc --filter name={n}6"},
		{name: "commit", args: "commit -m msg -c 'ENV COMMITTED=1' {n}6 {lower}/commit:1"},
		{name: "committed image", args: "image inspect -f '{{.Comment}} {{.Config.Env}}' {lower}/commit:1"},
		{name: "export", args: "export -o {dir}/{lower}-export.tar {n}6"},
		{name: "rmi committed", args: "rmi {lower}/commit:1"},
		{name: "rm -f", args: "rm -f {n}6"},
		{name: "follow logs to the end", args: "run -d --name {n}f --network none busybox sh -c 'echo a; sleep 1; echo b >&2'"},
		{name: "logs -f", args: "logs -f {n}f"},
		{name: "attach until exit", args: "run -d --name {n}at --network none busybox sh -c 'sleep 5; echo late; echo late-err >&2; exit 5'"},
		{name: "attach", args: "attach {n}at", code: 5, concurrent: true},
		{name: "wait several", args: "wait {n}f {n}at nosuch", code: 1},
		{name: "prune by label", args: "run --name {n}7 --network none -l {lower}prune=1 busybox true"},
		{name: "container prune", args: "container prune -f --filter label={lower}prune=1"},
	})
	// The two exports hold the same files.
	var lists []string
	for _, p := range []string{dockerPrefix, berthPrefix} {
		out, err := exec.Command("sh", "-c", "tar -tvf "+filepath.Join(env.tmp, strings.ToLower(p)+"-export.tar")+" | awk '{print $1, $2, $3, $6}' | sort").CombinedOutput()
		if err != nil {
			t.Fatalf("tar -t: %v %s", err, out)
		}
		lists = append(lists, string(out))
	}
	if lists[0] != lists[1] || !strings.Contains(lists[0], "bin/busybox") {
		t.Errorf("exports differ or lack bin/busybox\ndocker:\n%s\nberth:\n%s", lists[0], lists[1])
	}
}

// TestImageParity: image listing, inspect, history, tag, rmi, save/load
// and the untyped inspect on an image.
func TestImageParity(t *testing.T) { forEachTarget(t, testImageParity) }

func testImageParity(t *testing.T) {
	needEnv(t)
	cleanupContainers(t)
	// A small rootfs for import, one per CLI (different content, so that
	// neither import shares the other's layer).
	for _, p := range []string{dockerPrefix, berthPrefix} {
		lower := strings.ToLower(p)
		rootfs := filepath.Join(env.tmp, "rootfs-"+lower)
		if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rootfs, "hello"), []byte("imported "+lower+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "/bin/busybox", filepath.Join(rootfs, "bin/cat")).CombinedOutput(); err != nil {
			t.Fatalf("cp busybox: %v %s", err, out)
		}
		if out, err := exec.Command("tar", "-C", rootfs, "-cf", rootfs+".tar", ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v %s", err, out)
		}
	}
	t.Cleanup(func() {
		for _, p := range []string{dockerPrefix, berthPrefix} {
			runCLI(t, dockerCLI, "", "rmi", strings.ToLower(p)+"/img:1", strings.ToLower(p)+"/img:2")
		}
	})
	runCases(t, []parityCase{
		{name: "images", args: "images busybox"},
		{name: "images json", args: "images busybox --format json"},
		{name: "images quiet", args: "images -q busybox"},
		{name: "images too many arguments", args: "images a b", code: 1},
		{name: "tag one argument", args: "tag busybox", code: 1},
		{name: "unknown image subcommand", args: "image nosuch", code: 1},
		{name: "unknown command", args: "nosuchcmd", code: 1},
		{name: "global flag after the command", args: "images -H unix:///nosuch", code: 125},
		{name: "history -H is --human", args: "history -H=false --format '{{.Size}} {{.CreatedSince}}' busybox"},
		{name: "login too many arguments", args: "login a b", code: 1},
		{name: "images filters", args: "images --filter reference=busy* --filter dangling=false"},
		{name: "images bad format", args: "images --format '{{.Nope'", code: 1},
		{name: "images bad filter", args: "images --filter nokey", code: 125},
		{name: "image inspect bad format", args: "image inspect -f '{{.Nope' busybox", code: 64},
		{name: "history bad format", args: "history --format '{{.Nope' busybox", code: 1},
		{name: "images digests", args: "images --digests busybox"},
		{name: "images no-trunc", args: "images --no-trunc busybox"},
		{name: "images table template", args: "images --format 'table {{.Repository}}:{{.Tag}}\\t{{.Size}}' busybox"},
		{name: "image inspect format", args: "image inspect -f '{{.Os}} {{.Architecture}} {{.Config.Cmd}} {{json .Config.Env}}' busybox"},
		{name: "inspect image untyped", args: "inspect -f '{{.RepoTags}}' busybox"},
		{name: "image inspect unknown", args: "image inspect nosuch:1", code: 1},
		{name: "history", args: "history busybox"},
		{name: "history no-trunc json", args: "history --no-trunc --format json busybox"},
		{name: "tag", args: "tag busybox {lower}/img:1"},
		{name: "tag twice", args: "tag busybox {lower}/img:2"},
		{name: "images reference", args: "images {lower}/img"},
		{name: "images quiet, a line per tag", args: "images -q {lower}/img"},
		{name: "rmi", args: "rmi {lower}/img:1"},
		{name: "rmi unknown", args: "rmi nosuch:1", code: 1},
		{name: "rmi -f unknown", args: "rmi -f nosuch:1"},
		{name: "image prune answered no", args: "image prune", stdin: "n\n"},
		{name: "save and load", args: "save -o {dir}/{lower}.tar {lower}/img:2"},
		{name: "load", args: "load -i {dir}/{lower}.tar"},
		{name: "image rm", args: "image rm {lower}/img:2"},
		{name: "pull never", args: "run --pull never --rm nosuch.invalid/x:1", code: 125},
		{name: "import", args: "import -c 'CMD [\"/bin/sh\"]' -m imported {dir}/rootfs-{lower}.tar {lower}/imp:1"},
		{name: "imported image", args: "image inspect -f '{{.Config.Cmd}} {{.Comment}}' {lower}/imp:1"},
		{name: "run imported", args: "run --rm --network none {lower}/imp:1 cat /hello"},
		{name: "untag imported", args: "rmi {lower}/imp:1"},
		{name: "image prune", args: "image prune -f"},
		{name: "image prune filter", args: "image prune -f --filter label=nosuch=1"},
	})
}
