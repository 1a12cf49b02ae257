package runtime

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A spec as docker and containerd write them: seccomp with arguments,
// resources, hooks, mappings, escapes and non-ASCII in strings.
const dockerLikeSpec = `{"ociVersion":"1.2.0","process":{"terminal":false,"consoleSize":{"height":24,"width":80},
"user":{"uid":1000,"gid":1000,"umask":18,"additionalGids":[5,7]},"args":["sh","-c","echo \"hi\" \u00e9\t"],
"env":["PATH=/usr/bin","HOSTNAME=x","LANG=é"],"cwd":"/","capabilities":{"bounding":["CAP_CHOWN"],"effective":["CAP_CHOWN"],
"permitted":["CAP_CHOWN"],"inheritable":[],"ambient":null},"rlimits":[{"type":"RLIMIT_NOFILE","hard":1048576,"soft":1024}],
"noNewPrivileges":true,"apparmorProfile":"docker-default","oomScoreAdj":-500,"selinuxLabel":""},
"root":{"path":"rootfs","readonly":true},"hostname":"h","domainname":"d",
"mounts":[{"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},
{"destination":"/data","type":"bind","source":"/srv","options":["rbind","ro"],"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[]}],
"hooks":{"prestart":[{"path":"/bin/true","args":["true"],"env":["A=1"],"timeout":5}],"poststop":[{"path":"/bin/true","timeout":null}]},
"annotations":{"a":"b","org.example/x":""},
"linux":{"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"sysctl":{"net.ipv4.ip_forward":"1"},
"resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}],
"memory":{"limit":67108864,"reservation":0,"swap":-1,"swappiness":60,"disableOOMKiller":false,"useHierarchy":null},
"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0-1","mems":"0","idle":0},"pids":{"limit":100},
"blockIO":{"weight":500},"hugepageLimits":[{"pageSize":"2MB","limit":0}],"unified":{"memory.high":"max"}},
"cgroupsPath":"/docker/abc","namespaces":[{"type":"pid"},{"type":"network","path":"/var/run/netns/x"}],
"devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438,"uid":0,"gid":0}],
"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],"flags":["SECCOMP_FILTER_FLAG_LOG"],
"syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
{"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}]},
"rootfsPropagation":"rslave","maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"],"mountLabel":""}}`

// fastDecodeSpec must decode what encoding/json decodes, or leave it to it.
func checkFastDecode(t *testing.T, data []byte) (fast bool) {
	t.Helper()
	got, ok := fastDecodeSpec(data)
	var want specs.Spec
	err := json.Unmarshal(data, &want)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("fast decode took what encoding/json refuses (%v): %q", err, data)
	}
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("fast decode differs from encoding/json for %q:\n got %+v\nwant %+v", data, got, &want)
	}
	return true
}

func TestFastDecodeSpec(t *testing.T) {
	runcSpec, err := json.Marshal(exampleSpec())
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"runc spec": string(runcSpec), "docker-like": dockerLikeSpec, "empty": `{}`, "nulls": `{"process":null,"linux":{"resources":null,"sysctl":null},"mounts":null}`} {
		if !checkFastDecode(t, []byte(data)) {
			t.Errorf("%s: left to encoding/json, want decoded", name)
		}
	}
	// What is left to encoding/json (it decodes some, refuses others).
	for _, data := range []string{
		`{"Process":{}}`, `{"process":{"Cwd":"/"}}`, // case-folded names
		`{"hostname":"a","hostname":"b"}`, // a repeated key
		`{"process":{"scheduler":{"policy":"SCHED_OTHER"}}}`,
		`{"windows":{}}`, `{"linux":{"intelRdt":{}}}`, `{"linux":{"resources":{"network":{}}}}`,
		`{"process":{"user":{"uid":-1}}}`, `{"process":{"user":{"uid":4294967296}}}`, `{"process":{"user":{"uid":1.5}}}`,
		`{"process":{"user":{"uid":"0"}}}`, `{"hostname":1}`, `{"mounts":{}}`, `{"process":{"args":[1]}}`,
		`{"hostname":"\x01"}`, `{"hostname":"\q"}`, `{"a":1}x`, `[]`, `null`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":tru}`,
	} {
		if checkFastDecode(t, []byte(data)) {
			t.Errorf("%s: decoded, want it left to encoding/json", data)
		}
	}
	// Unknown keys are skipped, as encoding/json skips them.
	if !checkFastDecode(t, []byte(`{"ociVersion":"1.0.2","x-vendor":{"deep":[1,{"a":null}]},"process":{"cwd":"/","extra":true}}`)) {
		t.Error("unknown keys: left to encoding/json, want decoded")
	}
}

func exampleSpec() *specs.Spec {
	umask := uint32(0o22)
	return &specs.Spec{Version: specs.Version, Hostname: "runc",
		Process: &specs.Process{Args: []string{"sh"}, Env: []string{"PATH=/bin", "TERM=xterm"}, Cwd: "/", User: specs.User{Umask: &umask},
			Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}},
			Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}, NoNewPrivileges: true},
		Root:   &specs.Root{Path: "rootfs", Readonly: true},
		Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}, {Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}}},
		Linux: &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			Namespaces:    []specs.LinuxNamespace{{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}, {Type: "cgroup"}},
			MaskedPaths:   []string{"/proc/acpi", "/proc/kcore"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/sys"}},
	}
}

func FuzzFastDecodeSpec(f *testing.F) {
	runcSpec, _ := json.Marshal(exampleSpec())
	f.Add(runcSpec)
	f.Add([]byte(dockerLikeSpec))
	if b, err := os.ReadFile("testdata/config.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"process":{"user":{"uid":1}},"linux":{"sysctl":{"a":"b"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastDecode(t, data)
	})
}

// state.json decodes as encoding/json decodes it, whichever way its spec
// is decoded.
func TestDecodeState(t *testing.T) {
	for _, spec := range []string{dockerLikeSpec, `{"process":{"scheduler":{"policy":"SCHED_OTHER"}}}`, `null`} {
		b := []byte(`{"ociVersion":"1.2.0","id":"x","pid":7,"bundle":"/b","rootfs":"/b/rootfs","created":"2026-11-28T03:00:00Z","owner":"",` +
			`"pidStartTime":99,"namespaces":{"pid":"/proc/7/ns/pid"},"cgroupPaths":{"":"/sys/fs/cgroup/unified/x"},"started":true,"spec":` + spec + `}`)
		var got, want State
		if err := decodeState(b, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("state with spec %.30s: got %+v, want %+v", spec, got, want)
		}
	}
	var st State
	if err := decodeState([]byte(`{"id":"x","spec":{"process":{"user":{"uid":"0"}}}}`), &st); err == nil {
		t.Error("a state whose spec encoding/json refuses decoded without error")
	}
}

// Hostile input stays linear: an object of many keys (annotations), a
// repeat among them found; past fastSpecMax it is left to encoding/json.
func TestFastDecodeManyKeys(t *testing.T) {
	var b []byte
	b = append(b, `{"annotations":{`...)
	for i := 0; i < 50000; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `"k`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `":"v"`...)
	}
	start := time.Now()
	s, ok := fastDecodeSpec(append(b, "}}"...))
	if !ok || len(s.Annotations) != 50000 {
		t.Fatalf("50000 annotations (%d bytes): ok %v", len(b), ok)
	}
	if _, ok := fastDecodeSpec(append(b, `,"k7":"again"}}`...)); ok {
		t.Error("a repeated key among 50000 decoded, want it left to encoding/json")
	}
	big := []byte(`{"hostname":"` + strings.Repeat("x", fastSpecMax) + `"}`)
	if _, ok := fastDecodeSpec(big); ok {
		t.Errorf("a spec of %d bytes decoded, want it left to encoding/json", len(big))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("50000 keys took %v", d)
	}
}

// appendState writes what json.Marshal writes for the same state, read
// back as the same values: odd strings, maps (sorted), a spec with spaces
// and <&>, every omitempty field empty and set; a spec that is no JSON is
// refused.
func TestAppendState(t *testing.T) {
	spec := []byte("{\n  \"ociVersion\": \"1.2.0\",\n  \"process\": {\"args\": [\"sh\", \"-c\", \"a <&> b\"]}\n}\n")
	full := State{OCIVersion: "1.2.0", ID: "x\"y\\<\u2028>\x01\xff", Pid: 77, Bundle: "/b é", Rootfs: "/b/rootfs",
		Created: time.Date(2026, 11, 28, 6, 0, 0, 123456789, time.FixedZone("x", 3600)), Owner: "root",
		Annotations: map[string]string{"z": "1", "a": "<2>", "m\n": ""}, PidStartTime: 1 << 60,
		Namespaces:  map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "/proc/1/ns/net", specs.PIDNamespace: "/p"},
		CgroupPaths: map[string]string{"": "/sys/fs/cgroup/unified/x", "pids": "/sys/fs/cgroup/pids/x"},
		Started:     true, NoNewKeyring: true}
	for _, st := range []State{full, {ID: "bare"}} {
		got, err := appendState([]byte("prefix"), &st, spec)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := bytes.CutPrefix(got, []byte("prefix"))
		if !ok {
			t.Fatalf("appendState dropped what it appended to: %s", got)
		}
		want, err := json.Marshal(&rawSpecState{&st, spec})
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("appendState wrote no JSON: %v\n%s", err, got)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("appendState:\n%s\njson.Marshal:\n%s", got, want)
		}
		if bytes.Contains(got, []byte("\n")) {
			t.Errorf("state.json not compact: %s", got)
		}
		var back, wantBack State
		if err := decodeState(got, &back); err != nil || back.Spec == nil {
			t.Fatalf("read back: %+v, %v", back, err)
		}
		if err := decodeState(want, &wantBack); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, wantBack) {
			t.Errorf("read back %+v, want %+v", back, wantBack)
		}
	}
	if _, err := appendState(nil, &full, []byte(`{"a":`)); err == nil {
		t.Error("a spec that is no JSON was written")
	}
	if _, err := appendState(nil, &State{Created: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, spec); err == nil {
		t.Error("a time encoding/json refuses was written")
	}
}

// FuzzDecodeSyncMsg: decodeSyncMsg decodes what encoding/json decodes, and
// fails where it fails.
func FuzzDecodeSyncMsg(f *testing.F) {
	for _, s := range []string{`{"type":"ready"}`, `{"type":"pid","pid":42}` + "\n", `{"type":"error","message":"mount \"/x\": \u003c"}`,
		`{"type":"x","config":null}`, `{"type":"x","config":{"bundle":"/b"}}`, `{"TYPE":"x"}`, `{"type":"a","type":"b"}`,
		`{"pid":1e3}`, `{"pid":99999999999999999999}`, `{"pid":"1"}`, `{"type":1}`, `[1]`, `{"type":"x"} junk`, `{"other":[1,{"a":null}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got, want syncMsg
		gerr := decodeSyncMsg(b, &got)
		werr := json.Unmarshal(b, &want)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%q: decodeSyncMsg error %v, encoding/json %v", b, gerr, werr)
		}
		if gerr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decodeSyncMsg %+v, encoding/json %+v", b, got, want)
		}
	})
}
