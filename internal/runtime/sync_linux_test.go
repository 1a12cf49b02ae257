package runtime

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestInitSpecRoundTrip checks that what the init reads of the spec
// survives the trip through initSpec and JSON, and that what it does not
// read stays out of the message.
func TestInitSpecRoundTrip(t *testing.T) {
	s := DefaultSpec()
	s.Domainname = "example.org"
	s.Hooks = &specs.Hooks{
		CreateContainer: []specs.Hook{{Path: "/bin/true", Args: []string{"true", "cc"}}},
		StartContainer:  []specs.Hook{{Path: "/bin/true", Env: []string{"A=1"}}},
	}
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}
	s.Linux.RootfsPropagation = "rslave"
	s.Linux.CgroupsPath = "/not/for/the/init"
	s.Annotations = map[string]string{"not": "for the init"}

	b, err := json.Marshal(newInitSpec(s))
	if err != nil {
		t.Fatal(err)
	}
	var is initSpec
	if err := json.Unmarshal(b, &is); err != nil {
		t.Fatal(err)
	}
	got := is.spec()

	want := *s
	want.Annotations = nil
	wl := *s.Linux
	want.Linux = &specs.Linux{Namespaces: wl.Namespaces, Devices: wl.Devices, Sysctl: wl.Sysctl, Seccomp: wl.Seccomp,
		RootfsPropagation: wl.RootfsPropagation, MaskedPaths: wl.MaskedPaths, ReadonlyPaths: wl.ReadonlyPaths}
	if !reflect.DeepEqual(got, &want) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(&want)
		t.Errorf("after the round trip:\n got %s\nwant %s", gb, wb)
	}
	if got.Linux.Resources != nil || got.Linux.CgroupsPath != "" {
		t.Errorf("the init was sent linux.resources or cgroupsPath: %s", b)
	}
	if newInitSpec(nil) != nil {
		t.Error("newInitSpec(nil) != nil")
	}
}
