package cgroups

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runDeviceProgram interprets prog for one device access the way the kernel
// runs a BPF_PROG_TYPE_CGROUP_DEVICE program, and returns r0. It knows only
// the instructions the device filter emits and fails on anything else, and
// rejects backward jumps (the verifier would).
func runDeviceProgram(t *testing.T, prog []bpfInsn, typ, major, minor, access uint32) uint64 {
	t.Helper()
	var ctx [12]byte
	binary.LittleEndian.PutUint32(ctx[0:], access<<16|typ)
	binary.LittleEndian.PutUint32(ctx[4:], major)
	binary.LittleEndian.PutUint32(ctx[8:], minor)
	var reg [11]uint64
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		dst, src := in.regs&0xf, in.regs>>4
		imm := uint64(int64(in.imm))
		jump := func(cond bool) {
			if in.off < 0 {
				t.Fatalf("pc %d: backward jump", pc)
			}
			if cond {
				pc += int(in.off)
			}
		}
		switch in.code {
		case opLdxW:
			if src != regCtx || in.off < 0 || int(in.off)+4 > len(ctx) {
				t.Fatalf("pc %d: load outside the context", pc)
			}
			reg[dst] = uint64(binary.LittleEndian.Uint32(ctx[in.off:]))
		case opAndK:
			reg[dst] &= imm
		case opRshK:
			reg[dst] >>= imm
		case opMovK:
			reg[dst] = imm
		case opMovX:
			reg[dst] = reg[src]
		case opJeqK:
			jump(reg[dst] == imm)
		case opJneK:
			jump(reg[dst] != imm)
		case opExit:
			return reg[0]
		default:
			t.Fatalf("pc %d: unknown opcode %#x", pc, in.code)
		}
	}
	t.Fatal("program ran off its end")
	return 0
}

func rule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major >= 0 {
		r.Major = &major
	}
	if minor >= 0 {
		r.Minor = &minor
	}
	return r
}

// dockerDevices is Docker's default device cgroup list.
var dockerDevices = []specs.LinuxDeviceCgroup{
	rule(false, "a", -1, -1, "rwm"),
	rule(true, "c", -1, -1, "m"),
	rule(true, "b", -1, -1, "m"),
	rule(true, "c", 1, 3, "rwm"),
	rule(true, "c", 1, 5, "rwm"),
	rule(true, "c", 1, 7, "rwm"),
	rule(true, "c", 5, 0, "rwm"),
	rule(true, "c", 5, 1, "rwm"),
	rule(true, "c", 1, 8, "rwm"),
	rule(true, "c", 1, 9, "rwm"),
	rule(true, "c", 5, 2, "rwm"),
	rule(true, "c", 136, -1, "rwm"),
	rule(true, "c", 10, 200, "rwm"),
	rule(false, "c", 10, 229, "rwm"),
}

type deviceCase struct {
	typ, major, minor, access uint32
	allow                     bool
}

func checkDecisions(t *testing.T, rules []specs.LinuxDeviceCgroup, cases []deviceCase) {
	t.Helper()
	parsed, err := parseDeviceRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	prog := deviceFilterProgram(parsed)
	for _, c := range cases {
		name := fmt.Sprintf("type %d %d:%d access %03b", c.typ, c.major, c.minor, c.access)
		if got := deviceAllowed(parsed, c.typ, c.major, c.minor, c.access); got != c.allow {
			t.Errorf("%s: reference decision %v, want %v", name, got, c.allow)
		}
		if got := runDeviceProgram(t, prog, c.typ, c.major, c.minor, c.access); got != map[bool]uint64{true: 1}[c.allow] {
			t.Errorf("%s: program returned %d, want allow=%v", name, got, c.allow)
		}
	}
}

func TestDeviceFilterDockerDefaults(t *testing.T) {
	rw, m := accRead|accWrite, accMknod
	checkDecisions(t, dockerDevices, []deviceCase{
		{devChar, 1, 3, rw, true},          // /dev/null
		{devChar, 1, 5, accRead, true},     // /dev/zero
		{devChar, 136, 4, rw, true},        // /dev/pts/4
		{devChar, 5, 2, rw, true},          // /dev/ptmx
		{devChar, 10, 200, rw, true},       // /dev/net/tun
		{devChar, 10, 229, rw, false},      // /dev/fuse, denied last
		{devChar, 10, 229, m, false},       // even mknod: the deny names m
		{devChar, 4, 1, m, true},           // mknod of any char device
		{devBlock, 8, 0, m, true},          // mknod of any block device
		{devBlock, 8, 0, accRead, false},   // reading /dev/sda
		{devChar, 1, 1, rw, false},         // /dev/mem
		{devChar, 1, 1, rw | m, false},     // mknod allowed but rw not
		{devChar, 1, 3, accRead | m, true}, // all bits allowed by rule c 1:3
		{devChar, 13, 64, accWrite, false}, // input devices
		{devBlock, 1, 3, accRead, false},   // a block device with /dev/null's numbers
	})
}

func TestDeviceFilterPerAccessBitSemantics(t *testing.T) {
	r, w, rw := accRead, accWrite, accRead|accWrite
	// Two allow rules together allow rw, as the v1 whitelist would.
	checkDecisions(t, []specs.LinuxDeviceCgroup{
		rule(false, "a", -1, -1, ""), rule(true, "c", 1, 3, "r"), rule(true, "c", 1, 3, "w"),
	}, []deviceCase{{devChar, 1, 3, rw, true}, {devChar, 1, 3, accMknod, false}})
	// A later deny of one bit removes only that bit.
	checkDecisions(t, []specs.LinuxDeviceCgroup{
		rule(true, "a", -1, -1, "rwm"), rule(false, "c", 1, 3, "w"),
	}, []deviceCase{{devChar, 1, 3, r, true}, {devChar, 1, 3, w, false}, {devChar, 1, 3, rw, false}, {devChar, 1, 4, rw, true}})
	// A later allow overrides an earlier deny.
	checkDecisions(t, []specs.LinuxDeviceCgroup{
		rule(false, "c", 1, -1, "rwm"), rule(true, "c", 1, 3, "rw"),
	}, []deviceCase{{devChar, 1, 3, rw, true}, {devChar, 1, 5, r, false}})
	// No rules: everything is denied.
	checkDecisions(t, nil, []deviceCase{{devChar, 1, 3, r, false}})
}

// TestDeviceFilterMatchesReference runs random rule lists through the
// compiled program and the reference decision for every access of a grid of
// devices.
func TestDeviceFilterMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	types := []string{"a", "b", "c"}
	nums := []int64{-1, 1, 3, 5, 136}
	accesses := []string{"r", "w", "m", "rw", "rm", "wm", "rwm"}
	for iter := 0; iter < 300; iter++ {
		n := rng.Intn(8)
		var rules []specs.LinuxDeviceCgroup
		for i := 0; i < n; i++ {
			rules = append(rules, rule(rng.Intn(2) == 0, types[rng.Intn(3)], nums[rng.Intn(len(nums))],
				nums[rng.Intn(len(nums))], accesses[rng.Intn(len(accesses))]))
		}
		parsed, err := parseDeviceRules(rules)
		if err != nil {
			t.Fatal(err)
		}
		prog := deviceFilterProgram(parsed)
		for _, typ := range []uint32{devBlock, devChar} {
			for _, major := range []uint32{1, 3, 136} {
				for _, minor := range []uint32{0, 3, 5} {
					for access := uint32(1); access <= 7; access++ {
						want := deviceAllowed(parsed, typ, major, minor, access)
						got := runDeviceProgram(t, prog, typ, major, minor, access)
						if (got == 1) != want {
							t.Fatalf("rules %+v: device %d %d:%d access %03b: program %d, reference %v", parsed, typ, major, minor, access, got, want)
						}
					}
				}
			}
		}
	}
}

func TestDeviceRuleString(t *testing.T) {
	for _, tt := range []struct {
		r    specs.LinuxDeviceCgroup
		want string
	}{
		{rule(false, "", -1, -1, ""), "a *:* rwm"},
		{rule(true, "c", 1, 3, "mwr"), "c 1:3 rwm"},
		{rule(true, "b", 8, -1, "r"), "b 8:* r"},
	} {
		got, err := deviceRuleString(tt.r)
		if err != nil || got != tt.want {
			t.Errorf("deviceRuleString(%+v) = %q, %v; want %q", tt.r, got, err, tt.want)
		}
	}
}

func TestDeviceRulesForSpec(t *testing.T) {
	spec := &specs.Spec{Linux: &specs.Linux{
		Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			rule(true, "c", 10, 200, "rwm"), // /dev/net/tun asked for
			rule(false, "c", 1, 3, "rwm"),   // overridden by the defaults, as in runc
		}},
		Devices: []specs.LinuxDevice{
			{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
			{Path: "/dev/sdb", Type: "b", Major: 8, Minor: 16},
			{Path: "/dev/fifo", Type: "p"},
		},
	}}
	rw := accRead | accWrite
	checkDecisions(t, DeviceRules(spec), []deviceCase{
		{devChar, 1, 3, rw, true},        // /dev/null: defaults come last
		{devChar, 1, 5, rw, true},        // /dev/zero
		{devChar, 136, 2, rw, true},      // a pty
		{devChar, 10, 200, rw, true},     // from resources.devices
		{devChar, 10, 229, rw, false},    // in linux.devices only: no access, as runc
		{devBlock, 8, 16, rw, false},     // in linux.devices only
		{devBlock, 8, 0, accRead, false}, // the host's disk
		{devChar, 1, 1, accRead, false},  // /dev/mem
		{devChar, 4, 1, accMknod, true},  // mknod of anything
	})
	// No spec at all: deny everything but the defaults.
	checkDecisions(t, DeviceRules(nil), []deviceCase{{devChar, 1, 3, rw, true}, {devChar, 10, 200, rw, false}})
}
