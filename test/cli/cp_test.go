package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCpParity: docker cp in both directions, files and trees, into
// existing directories and new names, and its errors; the trees the two
// CLIs leave behind must be identical.
func TestCpParity(t *testing.T) { forEachTarget(t, testCpParity) }

func testCpParity(t *testing.T) {
	needEnv(t)
	cleanupContainers(t)
	src := filepath.Join(env.tmp, "cpsrc")
	for p, data := range map[string]string{"hello.txt": "hello1234", "tree/a": "a\n", "tree/sub/b": "b\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{dockerPrefix, berthPrefix} {
		if err := os.MkdirAll(filepath.Join(env.tmp, "cpout-"+p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runCases(t, []parityCase{
		{name: "container", args: "run -d --name {n}cp --network none busybox sleep 300"},
		{name: "file into dir", args: "cp {dir}/cpsrc/hello.txt {n}cp:/tmp/"},
		{name: "file to new name", args: "cp {dir}/cpsrc/hello.txt {n}cp:/tmp/renamed.txt"},
		{name: "tree into dir", args: "cp {dir}/cpsrc/tree {n}cp:/tmp/"},
		{name: "tree to new name", args: "cp {dir}/cpsrc/tree {n}cp:/tmp/newtree"},
		{name: "listing", args: "exec {n}cp sh -c 'cd /tmp && find . | sort && cat renamed.txt newtree/sub/b && stat -c %a hello.txt'"},
		{name: "missing local source", args: "cp {dir}/cpsrc/nosuch {n}cp:/tmp/", code: 1},
		{name: "file out", args: "cp {n}cp:/tmp/hello.txt {dir}/cpout-{n}/"},
		{name: "tree out", args: "cp {n}cp:/tmp/newtree {dir}/cpout-{n}/t2"},
		{name: "tree out into dir", args: "cp {n}cp:/tmp/tree {dir}/cpout-{n}/"},
		{name: "tree's content to a new dir", args: "cp {n}cp:/tmp/tree/. {dir}/cpout-{n}/t3"},
		{name: "tree's content into a dir", args: "cp {n}cp:/tmp/newtree/. {dir}/cpout-{n}/t3"},
		{name: "missing container source", args: "cp {n}cp:/nonexistent {dir}/cpout-{n}/", code: 1},
		{name: "missing local dir", args: "cp {n}cp:/tmp/hello.txt {dir}/cpout-{n}/nodir/", code: 1},
		{name: "unknown container", args: "cp nosuch:/x {dir}/cpout-{n}/", code: 1},
	})
	list := func(p string) string {
		out, err := exec.Command("sh", "-c", "cd "+filepath.Join(env.tmp, "cpout-"+p)+" && find . -printf '%p %s %m\\n' | sort && cat hello.txt t2/sub/b").CombinedOutput()
		if err != nil {
			t.Fatalf("list: %v %s", err, out)
		}
		return string(out)
	}
	d, b := list(dockerPrefix), list(berthPrefix)
	if d != b || !strings.Contains(d, "./t2/sub/b") || !strings.Contains(d, "./t3/sub/b") || strings.Contains(d, "./t3/tree") {
		t.Errorf("copied trees differ\ndocker:\n%s\nberth:\n%s", d, b)
	}
}
