package container

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string][]byte{"ctrl-p,ctrl-q": {16, 17}, "a,ctrl-@": {'a', 0}, "ctrl-[": {27}} {
		got, err := ParseDetachKeys(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ParseDetachKeys(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"ctrl-", "ab", "ctrl-1"} {
		if _, err := ParseDetachKeys(bad); err == nil || !strings.Contains(err.Error(), "invalid detach keys") {
			t.Errorf("ParseDetachKeys(%q) error = %v", bad, err)
		}
	}
}

func TestEscapeReader(t *testing.T) {
	// A lone ctrl-p is forwarded once the next byte breaks the sequence;
	// the full sequence ends the stream and is not forwarded.
	r := &escapeReader{r: strings.NewReader("a\x10b\x10\x11rest"), keys: []byte{16, 17}}
	got, err := io.ReadAll(r)
	if !errors.Is(err, errDetached) || string(got) != "a\x10b" {
		t.Errorf("read %q, %v; want %q, errDetached", got, err, "a\x10b")
	}
}

func TestDisplayablePorts(t *testing.T) {
	ip := netip.MustParseAddr("0.0.0.0")
	ports := []container.PortSummary{
		{PrivatePort: 81, Type: "tcp"}, {PrivatePort: 80, Type: "tcp"}, {PrivatePort: 82, Type: "tcp"},
		{IP: ip, PrivatePort: 9000, PublicPort: 9000, Type: "udp"},
		{IP: ip, PrivatePort: 443, PublicPort: 8443, Type: "tcp"},
	}
	want := "80-82/tcp, 0.0.0.0:9000->9000/udp, 0.0.0.0:8443->443/tcp"
	if got := DisplayablePorts(ports); got != want {
		t.Errorf("DisplayablePorts = %q, want %q", got, want)
	}
}

type row struct{ id, name string }

func (r row) ID() string                   { return r.id }
func (r row) Names() string                { return r.name }
func (r row) MarshalJSON() ([]byte, error) { return MarshalMethods(r) }
func (r row) Label(name string) string     { return name }

func TestRender(t *testing.T) {
	rows := []any{row{"abc", "first-container"}, row{"def", "x"}}
	headers := map[string]string{"ID": "CONTAINER ID", "Names": "NAMES"}
	for _, c := range []struct{ format, want string }{
		{"table {{.ID}}\t{{.Names}}", "CONTAINER ID   NAMES\nabc            first-container\ndef            x\n"},
		{`table {{.Names}}\t{{.ID}}`, "NAMES             CONTAINER ID\nfirst-container   abc\nx                 def\n"},
		{"{{.ID}}", "abc\ndef\n"},
		{"json", `{"ID":"abc","Names":"first-container"}` + "\n" + `{"ID":"def","Names":"x"}` + "\n"},
		{"table {{json .Names}}", "\n\"first-container\"\n\"x\"\n"},
	} {
		var b bytes.Buffer
		if err := Render(&b, c.format, headers, rows); err != nil {
			t.Fatalf("Render(%q): %v", c.format, err)
		}
		if b.String() != c.want {
			t.Errorf("Render(%q) =\n%q\nwant\n%q", c.format, b.String(), c.want)
		}
	}
	if err := Render(io.Discard, "{{.ID", headers, rows); err == nil || !strings.Contains(err.Error(), "template parsing error") {
		t.Errorf("bad template error = %v", err)
	}
}

func parseRun(t *testing.T, args ...string) (*containerConfig, error) {
	t.Helper()
	o := newCreateOptions()
	f := pflag.NewFlagSet("run", pflag.ContinueOnError)
	o.addFlags(f)
	if err := f.Parse(args); err != nil {
		return nil, err
	}
	return o.parse(f, f.Arg(0), f.Args()[1:])
}

func TestParseRunFlags(t *testing.T) {
	cc, err := parseRun(t, "-i", "--memory", "64m", "--memory-swap", "-1", "--cpus", "1.5", "--ulimit", "nofile=1024:2048",
		"-v", "/host:/ctr:ro", "-v", "/anon", "-e", "A=1", "-l", "k=v", "-p", "127.0.0.1:8080:80", "--entrypoint", "",
		"--restart", "on-failure:3", "--init", "--tmpfs", "/run:size=1m", "--device", "/dev/fuse:/dev/f:r", "busybox", "sh", "-c", "x")
	if err != nil {
		t.Fatal(err)
	}
	c, h := cc.Config, cc.HostConfig
	if h.Memory != 64<<20 || h.MemorySwap != -1 || h.NanoCPUs != 1500000000 {
		t.Errorf("limits: memory %d swap %d nanocpus %d", h.Memory, h.MemorySwap, h.NanoCPUs)
	}
	if len(h.Ulimits) != 1 || h.Ulimits[0].Name != "nofile" || h.Ulimits[0].Soft != 1024 || h.Ulimits[0].Hard != 2048 {
		t.Errorf("ulimits %+v", h.Ulimits)
	}
	if len(h.Binds) != 1 || h.Binds[0] != "/host:/ctr:ro" {
		t.Errorf("binds %v", h.Binds)
	}
	if _, ok := c.Volumes["/anon"]; !ok {
		t.Errorf("volumes %v", c.Volumes)
	}
	if !c.OpenStdin || !c.AttachStdin || !c.StdinOnce || !c.AttachStdout {
		t.Errorf("stdin flags %+v", c)
	}
	if len(c.Entrypoint) != 1 || c.Entrypoint[0] != "" || strings.Join(c.Cmd, " ") != "sh -c x" || c.Image != "busybox" {
		t.Errorf("entrypoint %q cmd %q image %q", c.Entrypoint, c.Cmd, c.Image)
	}
	if h.RestartPolicy.Name != "on-failure" || h.RestartPolicy.MaximumRetryCount != 3 || h.Init == nil || !*h.Init {
		t.Errorf("restart %+v init %v", h.RestartPolicy, h.Init)
	}
	p := network.MustParsePort("80/tcp")
	if b := h.PortBindings[p]; len(b) != 1 || b[0].HostIP.String() != "127.0.0.1" || b[0].HostPort != "8080" {
		t.Errorf("port bindings %v", h.PortBindings)
	}
	if h.Tmpfs["/run"] != "size=1m" || len(h.Devices) != 1 || h.Devices[0].PathInContainer != "/dev/f" || h.Devices[0].CgroupPermissions != "r" {
		t.Errorf("tmpfs %v devices %+v", h.Tmpfs, h.Devices)
	}
	if c.Env[0] != "A=1" || c.Labels["k"] != "v" {
		t.Errorf("env %v labels %v", c.Env, c.Labels)
	}
	for _, bad := range [][]string{
		{"--memory", "abc", "busybox"},
		{"--ulimit", "nofile=x", "busybox"},
		{"--rm", "--restart", "always", "busybox"},
		{"-v", "relative", "busybox"},
		{"--device", "/dev/x:/dev/y:q", "busybox"},
		{"--no-healthcheck", "--health-cmd", "true", "busybox"},
	} {
		if _, err := parseRun(t, bad...); err == nil {
			t.Errorf("parse %v: no error", bad)
		}
	}
}

// Ellipsis counts terminal columns as docker's formatter does: wide
// characters take two.
func TestEllipsis(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"sleep 100", 20, "sleep 100"},
		{"sh -c 'while true; do sleep 1; done'", 20, "sh -c 'while true; …"},
		{"12345678901234567890", 20, "12345678901234567890"},
		{"123456789012345678901", 20, "1234567890123456789…"},
		{"echo 你好世界你好世界你好", 12, "echo 你好世…"},
		{"你好", 4, "你好"},
		{"abc", 1, "a"},
		{"abc", 0, ""},
		{"", 5, ""},
	} {
		if got := Ellipsis(tc.in, tc.max); got != tc.want {
			t.Errorf("Ellipsis(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
