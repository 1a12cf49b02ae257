package cgroups

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func devNum(v int64) *int64 { return &v }

// DefaultAllowedDevices are the devices every container may use whatever its
// spec says, as runc allows them: mknod of any character or block device,
// /dev/null, zero, full, random, urandom, tty, ptmx and the pseudo-terminals.
var DefaultAllowedDevices = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Access: "m"},
	{Allow: true, Type: "b", Access: "m"},
	{Allow: true, Type: "c", Major: devNum(1), Minor: devNum(3), Access: "rwm"}, // /dev/null
	{Allow: true, Type: "c", Major: devNum(1), Minor: devNum(8), Access: "rwm"}, // /dev/random
	{Allow: true, Type: "c", Major: devNum(1), Minor: devNum(7), Access: "rwm"}, // /dev/full
	{Allow: true, Type: "c", Major: devNum(5), Minor: devNum(0), Access: "rwm"}, // /dev/tty
	{Allow: true, Type: "c", Major: devNum(1), Minor: devNum(5), Access: "rwm"}, // /dev/zero
	{Allow: true, Type: "c", Major: devNum(1), Minor: devNum(9), Access: "rwm"}, // /dev/urandom
	{Allow: true, Type: "c", Major: devNum(136), Access: "rwm"},                 // /dev/pts/*
	{Allow: true, Type: "c", Major: devNum(5), Minor: devNum(2), Access: "rwm"}, // /dev/ptmx
}

// DeviceRules returns the device rules a runtime gives Set for spec, in
// runc's order (the last matching rule wins): deny everything, then the
// spec's linux.resources.devices, then DefaultAllowedDevices. The nodes of
// linux.devices get no rule of their own, as with runc: what the spec's
// resources allow on them is all a container may do (docker's --device
// /dev/x:/dev/x:r is read-only).
func DeviceRules(spec *specs.Spec) []specs.LinuxDeviceCgroup {
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	if spec != nil && spec.Linux != nil && spec.Linux.Resources != nil {
		rules = append(rules, spec.Linux.Resources.Devices...)
	}
	return append(rules, DefaultAllowedDevices...)
}
