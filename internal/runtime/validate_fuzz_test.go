package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSpec: config.json is hostile input. parseSpec must not panic, its
// errors must be one line starting with "config.json:", and what it accepts
// must survive validateSpec without a panic.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		`{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}`,
		`{"ociVersion":"1.0.0","linux":{"namespaces":[{"type":"pid"},{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1,"size":1}]}}`,
		`{"linux":{"sysctl":{"net.ipv4.ip_forward":"1"},"resources":{"memory":{"limit":-1}}}}`,
		`[1,2]`, `null`, `{"process":{"args":"x"}}`, `{} {}`, `{"a":`,
	} {
		f.Add([]byte(s))
	}
	bundle := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := parseSpec(data)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "config.json: ") || strings.Contains(msg, "\n") {
				t.Fatalf("parseSpec error not one config.json line: %q", msg)
			}
			return
		}
		if _, err := json.Marshal(spec); err != nil {
			t.Fatalf("accepted spec does not marshal: %v", err)
		}
		if err := validateSpec(spec, bundle); err != nil && !strings.HasPrefix(err.Error(), "config.json: ") {
			t.Fatalf("validateSpec error without the config.json prefix: %q", err)
		}
	})
}

// FuzzResolveUser: /etc/passwd and /etc/group come from the image. A numeric
// uid spec must resolve to that uid whatever the files hold.
func FuzzResolveUser(f *testing.F) {
	f.Add(testPasswd, testGroup, "alice")
	f.Add("a:x:1:2\n::::\n:x:x:x:x\n", "g:x:5:a,,a\n", "1:g")
	f.Add("a:x:4294967295:0\n", "", "4294967295")
	f.Fuzz(func(t *testing.T, passwd, group, spec string) {
		root := t.TempDir()
		if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte(group), 0o644); err != nil {
			t.Fatal(err)
		}
		uid, _, _, err := resolveUser(root, spec)
		user, _, _ := strings.Cut(spec, ":")
		if n, perr := strconv.ParseUint(user, 10, 31); perr == nil && err == nil && uint64(uid) != n {
			t.Fatalf("resolveUser(%q) uid = %d, want %d", spec, uid, n)
		}
	})
}
