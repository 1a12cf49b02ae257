package engine

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
)

func TestValidateCPUs(t *testing.T) {
	for _, c := range []struct {
		hc   container.HostConfig
		want string // "" for accepted
	}{
		{container.HostConfig{}, ""},
		{container.HostConfig{Resources: container.Resources{CpusetCpus: "0", CpusetMems: "0", NanoCPUs: 5e8}}, ""},
		{container.HostConfig{Resources: container.Resources{CpusetCpus: "4096"}}, "Requested CPUs are not available - requested 4096, available: "},
		{container.HostConfig{Resources: container.Resources{CpusetCpus: "0-1,x"}}, "Invalid value 0-1,x for cpuset cpus"},
		{container.HostConfig{Resources: container.Resources{CpusetCpus: "3-1"}}, "Invalid value 3-1 for cpuset cpus"},
		{container.HostConfig{Resources: container.Resources{CpusetMems: "77"}}, "Requested memory nodes are not available - requested 77, available: "},
		{container.HostConfig{Resources: container.Resources{NanoCPUs: 1e6}}, "Range of CPUs is from 0.01 to "},
		{container.HostConfig{Resources: container.Resources{NanoCPUs: 1e15}}, "CPUs available"},
	} {
		err := validateHostConfig(&c.hc)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v refused: %v", c.hc.Resources, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errdefs.IsInvalidArgument(err)):
			t.Errorf("%+v: %v, want an invalid-argument error with %q", c.hc.Resources, err, c.want)
		}
	}
}

func TestParseCPUSet(t *testing.T) {
	s, err := parseCPUSet("0-2, 5,7-7")
	if err != nil || len(s) != 5 || !s[0] || !s[2] || !s[5] || !s[7] || s[3] {
		t.Fatalf("parseCPUSet: %v %v", s, err)
	}
	for _, bad := range []string{"", "-1", "1-", "a", "0-999999999"} {
		if _, err := parseCPUSet(bad); err == nil {
			t.Errorf("parseCPUSet(%q) accepted", bad)
		}
	}
}
