package compose

import (
	"encoding/json"
	"os"
	"testing"
)

// sdkScript uses the Python docker SDK as its users do and prints what it
// saw as one JSON object.
const sdkScript = `
import docker, io, json, os, time
c = docker.from_env()
out = {}
t0 = int(time.time())
ct = c.containers.run("busybox", ["sh", "-c", "echo one; sleep 0.2; echo two >&2; exec sleep 300"], detach=True, name="sdk1", labels={"k": "v"})
seen = b""
for chunk in ct.logs(stream=True, follow=True):
    seen += chunk
    if b"one" in seen and b"two" in seen:
        break
out["logs"] = seen.decode()
out["stderr_only"] = ct.logs(stdout=False, stderr=True).decode()
# docker-py 5 reads a logs-only attach racily (against dockerd too): only
# the attach event it logs is checked.
ct.attach(stream=False, logs=True)
r = ct.exec_run("sh -c 'echo out; echo err >&2; exit 5'", demux=True)
out["exec"] = [r.exit_code, r.output[0].decode(), r.output[1].decode()]
out["by_label"] = [x.name for x in c.containers.list(filters={"label": ["k=v"]})]
out["top"] = ct.top()["Titles"][-1]
img, _ = c.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN echo built > /f\nLABEL a=b\n"), tag="sdkimg:1", rm=True)
out["build"] = [img.tags, img.labels]
out["run_rm"] = c.containers.run("sdkimg:1", "cat /f", remove=True).decode()
try:
    c.containers.run("busybox", "sh -c 'exit 3'", remove=True)
except docker.errors.ContainerError as e:
    out["container_error"] = e.exit_status
n = c.networks.create("sdknet", driver="bridge")
n.connect(ct, aliases=["foo"])
ct.reload()
out["aliases"] = ct.attrs["NetworkSettings"]["Networks"]["sdknet"]["Aliases"]
old = docker.APIClient(base_url=os.environ["DOCKER_HOST"], version="1.41").inspect_container(ct.id)
out["aliases_1_41"] = old["NetworkSettings"]["Networks"]["sdknet"]["Aliases"]
n.disconnect(ct)
n.remove()
v = c.volumes.create("sdkvol")
out["volume_run"] = c.containers.run("busybox", "sh -c 'echo data > /v/f; cat /v/f'", volumes={"sdkvol": {"bind": "/v", "mode": "rw"}}, remove=True).decode()
ct.stop(timeout=1)
ct.remove()
v.remove()
c.images.remove("sdkimg:1")
c.containers.prune()
ev = set()
for e in c.events(decode=True, since=t0, until=int(time.time()) + 1):
    ev.add(e["Type"] + " " + e["Action"].split(":")[0])
out["events"] = sorted(ev)
out["short_id"] = ct.id[:12]
print(json.dumps(out))
`

// TestPythonSDK runs the Debian python3-docker SDK (the one Compose 1.29
// is built on): containers.run detached, a followed log stream, exec_run
// with demux and exit code, attach with logs only, a label filter, images.build, run with
// remove and its ContainerError, network connect with aliases, a named
// volume, and the events all that logged.
func TestPythonSDK(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skipf("no /usr/bin/python3: %v", err)
	}
	d := newDaemon(t)
	r := d.client(t, t.TempDir(), nil, "/usr/bin/python3", "-c", sdkScript)
	if r.code != 0 {
		t.Fatalf("python3 SDK script: %s\ndaemon log:\n%s", r, d.Log())
	}
	var got struct {
		Exec           []any
		ByLabel        []string `json:"by_label"`
		Build          []any
		ContainerError int      `json:"container_error"`
		Aliases        []string `json:"aliases"`
		Aliases141     []string `json:"aliases_1_41"`
		Events         []string `json:"events"`
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("decode %q: %v", r.stdout, err)
	}
	json.Unmarshal([]byte(r.stdout), &raw)
	str := func(k string) string { s, _ := raw[k].(string); return s }
	if str("logs") != "one\ntwo\n" || str("stderr_only") != "two\n" {
		t.Errorf("logs: stream %q, stderr only %q", str("logs"), str("stderr_only"))
	}
	if b, _ := json.Marshal(got.Exec); string(b) != `[5,"out\n","err\n"]` {
		t.Errorf("exec_run demux: %s, want exit 5 with out and err apart", b)
	}
	if str("top") != "CMD" {
		t.Errorf("top: last title %q, want CMD", str("top"))
	}
	if len(got.ByLabel) != 1 || got.ByLabel[0] != "sdk1" {
		t.Errorf("list by label: %v", got.ByLabel)
	}
	if b, _ := json.Marshal(got.Build); string(b) != `[["sdkimg:1"],{"a":"b"}]` {
		t.Errorf("images.build: %s", b)
	}
	if str("run_rm") != "built\n" || str("volume_run") != "data\n" || got.ContainerError != 3 {
		t.Errorf("run remove=True: %q, with a volume %q, ContainerError exit %d", str("run_rm"), str("volume_run"), got.ContainerError)
	}
	short := str("short_id")
	if len(got.Aliases) != 1 || got.Aliases[0] != "foo" {
		t.Errorf("Aliases at the current API: %v, want [foo]", got.Aliases)
	}
	if len(got.Aliases141) != 2 || got.Aliases141[0] != "foo" || got.Aliases141[1] != short {
		t.Errorf("Aliases at API 1.41: %v, want [foo %s]", got.Aliases141, short)
	}
	have := map[string]bool{}
	for _, e := range got.Events {
		have[e] = true
	}
	for _, want := range []string{"container create", "container start", "container attach", "container exec_create",
		"container exec_start", "container exec_die", "container top", "container die", "container destroy", "container prune", "image tag", "image untag",
		"network create", "network connect", "network disconnect", "network destroy", "volume create", "volume mount", "volume unmount", "volume destroy"} {
		if !have[want] {
			t.Errorf("events lack %q; got %v", want, got.Events)
		}
	}
}
