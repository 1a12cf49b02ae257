package cli

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// startRegistry runs Debian's docker-registry on 127.0.0.1 with its own
// root and htpasswd auth for user:pass; it returns host:port.
func startRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	return testutil.StartDockerRegistry(t, user, pass)
}

// TestRegistryParity: login (wrong and right password), push and pull
// with their progress output, the implicit pull of run, and logout, each
// CLI against its own registry (so neither finds the other's layers) and
// its own config.json.
func TestRegistryParity(t *testing.T) { forEachTarget(t, testRegistryParity) }

func testRegistryParity(t *testing.T) {
	needEnv(t)
	cleanupContainers(t)
	regs := map[string]string{dockerPrefix: startRegistry(t, "u", "p"), berthPrefix: startRegistry(t, "u", "p")}
	if len(regs[dockerPrefix]) != len(regs[berthPrefix]) {
		t.Skipf("registry addresses %v differ in length; the output would not align", regs)
	}
	reg := func(prefix string) string { return regs[prefix] }
	t.Cleanup(func() {
		for p, r := range regs {
			runCLI(t, dockerCLI, "", "rmi", r+"/"+strings.ToLower(p)+"/bb:1")
		}
	})
	cases := []parityCase{
		{name: "wrong password", args: "login -u u --password-stdin {reg}", stdin: "wrong\n", code: 1},
		{name: "login", args: "login -u u --password-stdin {reg}", stdin: "p\n"},
		{name: "tag", args: "tag busybox {reg}/{lower}/bb:1"},
		{name: "push", args: "push {reg}/{lower}/bb:1"},
		{name: "push again", args: "push {reg}/{lower}/bb:1"},
		{name: "rmi", args: "rmi {reg}/{lower}/bb:1"},
		{name: "pull", args: "pull {reg}/{lower}/bb:1"},
		{name: "pull again", args: "pull {reg}/{lower}/bb:1"},
		{name: "pull unknown tag", args: "pull {reg}/{lower}/bb:nope", code: 1},
		{name: "rmi before run", args: "rmi {reg}/{lower}/bb:1"},
		{name: "run pulls", args: "run --rm --network none {reg}/{lower}/bb:1 echo ran"},
		{name: "pull quiet", args: "pull -q {reg}/{lower}/bb:1"},
		{name: "logout", args: "logout {reg}"},
		{name: "logout again", args: "logout {reg}"},
		{name: "push without credentials", args: "push {reg}/{lower}/bb:1", code: 1},
	}
	for _, c := range cases {
		if c.name == "logout" {
			t.Run("pull on a terminal", func(t *testing.T) { pullOnTerminal(t, reg) })
		}
		t.Run(c.name, func(t *testing.T) {
			checkWith(t, c, func(args, prefix string) string {
				return strings.ReplaceAll(args, "{reg}", reg(prefix))
			}, func(s, prefix string) string {
				return strings.ReplaceAll(strings.ReplaceAll(s, reg(prefix), "<REG>"), configDir(map[string]string{dockerPrefix: dockerCLI, berthPrefix: env.berth}[prefix]), "<CONFIG>")
			})
		})
	}
	for _, p := range []string{dockerPrefix, berthPrefix} {
		bin := map[string]string{dockerPrefix: dockerCLI, berthPrefix: env.berth}[p]
		b, err := os.ReadFile(filepath.Join(configDir(bin), "config.json"))
		if err != nil || strings.Contains(string(b), reg(p)) {
			t.Errorf("%s config.json after logout still names %s (or is missing: %v):\n%s", p, reg(p), err, b)
		}
	}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// pullOnTerminal: on a TTY both CLIs draw per-layer progress in place and
// end with the layer complete, the digest, the status and the reference.
func pullOnTerminal(t *testing.T, reg func(string) string) {
	for _, tool := range []struct{ name, bin, prefix string }{{"docker", dockerCLI, dockerPrefix}, {"berth", env.berth, berthPrefix}} {
		t.Run(tool.name, func(t *testing.T) {
			// A fresh layer (random content), so that the pull downloads it.
			dir := t.TempDir()
			random := make([]byte, 256<<10)
			if _, err := rand.Read(random); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "random"), random, 0o644); err != nil {
				t.Fatal(err)
			}
			tarball := filepath.Join(dir, "layer.tar")
			if out, err := exec.Command("tar", "-C", dir, "-cf", tarball, "random").CombinedOutput(); err != nil {
				t.Fatalf("tar: %v %s", err, out)
			}
			ref := reg(tool.prefix) + "/" + strings.ToLower(tool.prefix) + "/fresh:1"
			for _, args := range [][]string{{"import", tarball, ref}, {"push", ref}, {"rmi", ref}} {
				if r := runCLI(t, tool.bin, "", args...); r.code != 0 {
					t.Fatalf("%v: %s", args, r.stderr)
				}
			}
			t.Cleanup(func() { _, _ = runCLIErr(tool.bin, "", "rmi", ref) })
			p := startPty(t, tool.bin, "pull", ref)
			if code := p.exit(t); code != 0 {
				t.Fatalf("pull on a terminal: exit %d: %q", code, p.output())
			}
			<-p.done
			out := p.output()
			plain := ansi.ReplaceAllString(out, "")
			for _, want := range []string{"1: Pulling from ", ": Pull complete", "Digest: sha256:", "Status: Downloaded newer image for " + ref, ref} {
				if !strings.Contains(plain, want) {
					t.Errorf("terminal lacks %q: %q", want, out)
				}
			}
			if !strings.Contains(out, "\x1b[") {
				t.Errorf("no cursor movement on a terminal: %q", out)
			}
		})
	}
}
