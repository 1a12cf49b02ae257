package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/berth/berth/internal/runtime/seccomp"
)

// Features describes what this runtime implements, for `features`.
func Features() *features.Features {
	t := true
	namespaces := []string{}
	for _, ns := range joinOrder {
		namespaces = append(namespaces, string(ns))
	}
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions: []string{
			"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand", "noatime",
			"nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private",
			"rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw",
			"shared", "slave", "strictatime", "suid", "sync", "tmpcopyup", "unbindable",
		},
		Linux: &features.Linux{
			Namespaces:   namespaces,
			Capabilities: capabilityNames(),
			Cgroup:       &features.Cgroup{V1: &t, V2: &t},
			Seccomp: &features.Seccomp{
				Enabled:        &t,
				Actions:        seccomp.Actions(),
				Operators:      seccomp.Operators(),
				Archs:          seccomp.Architectures(),
				KnownFlags:     seccomp.KnownFlags(),
				SupportedFlags: seccomp.SupportedFlags(),
			},
			Apparmor: &features.Apparmor{Enabled: new(bool)},
			Selinux:  &features.Selinux{Enabled: new(bool)},
		},
		Annotations: map[string]string{"io.berth.runtime": "berth"},
	}
}
