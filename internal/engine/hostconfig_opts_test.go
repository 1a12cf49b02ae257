package engine

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
)

// --security-opt and --log-opt are read as dockerd reads them: what it
// cannot read is refused at create with its words, never ignored.
func TestHostConfigOptions(t *testing.T) {
	for _, tc := range []struct {
		sec  []string
		logs map[string]string
		nnp  bool
		err  string
	}{
		{sec: []string{"no-new-privileges"}, nnp: true},
		{sec: []string{"no-new-privileges:true"}, nnp: true},
		{sec: []string{"no-new-privileges=true"}, nnp: true},
		{sec: []string{"no-new-privileges=1", "no-new-privileges:false"}, nnp: false},
		{sec: []string{"seccomp=unconfined", "apparmor=unconfined", "label=disable", "label:disable", "writable-cgroups=false"}},
		{sec: []string{"no-new-privileges:bogus"}, err: `invalid --security-opt 2: "no-new-privileges:bogus"`},
		{sec: []string{"nonsense"}, err: `invalid --security-opt 1: "nonsense"`},
		{sec: []string{"colour=red"}, err: `invalid --security-opt 2: "colour=red"`},
		{logs: map[string]string{"mode": "non-blocking", "max-buffer-size": "4m"}},
		{logs: map[string]string{"mode": "blocking"}},
		{logs: map[string]string{"mode": "sometimes"}, err: "logger: logging mode not supported: sometimes"},
		{logs: map[string]string{"max-buffer-size": "4m"}, err: "max-buffer-size option is only supported with 'mode=non-blocking'"},
		{logs: map[string]string{"compress": "true"}, err: "compress cannot be true when max-file is less than 2"},
		{logs: map[string]string{"compress": "true", "max-file": "3"}},
	} {
		hc := &container.HostConfig{SecurityOpt: tc.sec, LogConfig: container.LogConfig{Type: "json-file", Config: tc.logs}}
		applyHostDefaults(hc)
		err := validateHostConfig(hc)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q %v: err %v, want %q", tc.sec, tc.logs, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q %v: %v", tc.sec, tc.logs, err)
		}
		if got := noNewPrivileges(hc); got != tc.nnp {
			t.Errorf("%q: no_new_privs %v, want %v", tc.sec, got, tc.nnp)
		}
	}
}

// The CPU and memory settings dockerd refuses together or out of range.
func TestHostConfigLimits(t *testing.T) {
	for want, hc := range map[string]container.HostConfig{
		"Nano CPUs and CPU Quota cannot both be set":                   {Resources: container.Resources{NanoCPUs: 1e9, CPUQuota: 50000}},
		"Nano CPUs and CPU Period cannot both be set":                  {Resources: container.Resources{NanoCPUs: 1e9, CPUPeriod: 100000}},
		"CPU cfs quota can not be less than 1ms":                       {Resources: container.Resources{CPUQuota: 500}},
		"CPU cfs period can not be less than 1ms":                      {Resources: container.Resources{CPUPeriod: 10}},
		"Minimum memory limit can not be less than memory reservation": {Resources: container.Resources{Memory: 64 << 20, MemoryReservation: 128 << 20}},
		"Minimum memory reservation allowed is 6MB":                    {Resources: container.Resources{MemoryReservation: 1024}},
		"valid memory swappiness range is 0-100":                       {Resources: container.Resources{MemorySwappiness: ptr(int64(101))}},
	} {
		hc := hc
		applyHostDefaults(&hc)
		if err := validateHostConfig(&hc); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", hc.Resources, err, want)
		}
	}
	ok := container.HostConfig{Resources: container.Resources{CPUQuota: 50000, CPUPeriod: 100000, Memory: 128 << 20, MemoryReservation: 64 << 20}}
	applyHostDefaults(&ok)
	if err := validateHostConfig(&ok); err != nil {
		t.Errorf("a quota, a period and a reservation under the limit: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
