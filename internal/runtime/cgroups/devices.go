package cgroups

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Access bits, as the kernel passes them to a BPF_PROG_TYPE_CGROUP_DEVICE
// program (BPF_DEVCG_ACC_*).
const (
	accMknod uint32 = 1
	accRead  uint32 = 2
	accWrite uint32 = 4
)

// Device types as the kernel passes them (BPF_DEVCG_DEV_*); 'a' (all) has no
// kernel value.
const (
	devBlock uint32 = 1
	devChar  uint32 = 2
)

// deviceRule is a validated linux.resources.devices entry.
type deviceRule struct {
	allow        bool
	typ          byte  // 'a', 'b' or 'c'
	major, minor int64 // -1 for any
	access       uint32
}

func parseDeviceRule(r specs.LinuxDeviceCgroup) (deviceRule, error) {
	d := deviceRule{allow: r.Allow, typ: 'a', major: -1, minor: -1}
	switch r.Type {
	case "", "a":
	case "b", "c":
		d.typ = r.Type[0]
	default:
		return d, fmt.Errorf("type %q: must be a, b or c", r.Type)
	}
	if r.Major != nil && *r.Major >= 0 {
		d.major = *r.Major
	}
	if r.Minor != nil && *r.Minor >= 0 {
		d.minor = *r.Minor
	}
	if d.major > 0xffffffff || d.minor > 0xffffffff {
		return d, fmt.Errorf("device %d:%d: number out of range", d.major, d.minor)
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	for _, c := range access {
		switch c {
		case 'r':
			d.access |= accRead
		case 'w':
			d.access |= accWrite
		case 'm':
			d.access |= accMknod
		default:
			return d, fmt.Errorf("access %q: only r, w and m are allowed", r.Access)
		}
	}
	return d, nil
}

func (d deviceRule) accessString() string {
	var b strings.Builder
	if d.access&accRead != 0 {
		b.WriteByte('r')
	}
	if d.access&accWrite != 0 {
		b.WriteByte('w')
	}
	if d.access&accMknod != 0 {
		b.WriteByte('m')
	}
	return b.String()
}

func parseDeviceRules(rules []specs.LinuxDeviceCgroup) ([]deviceRule, error) {
	out := make([]deviceRule, 0, len(rules))
	for i, r := range rules {
		d, err := parseDeviceRule(r)
		if err != nil {
			return nil, fmt.Errorf("devices[%d]: %w", i, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// deviceAllowed is the reference decision the BPF program implements: an
// access is allowed when, for each of its bits, the last rule matching the
// device and naming that bit allows it; a bit no rule names is denied.
func deviceAllowed(rules []deviceRule, typ, major, minor, access uint32) bool {
	undecided := access
	for i := len(rules) - 1; i >= 0 && undecided != 0; i-- {
		r := rules[i]
		if !r.matches(typ, major, minor) {
			continue
		}
		bits := undecided & r.access
		if bits == 0 {
			continue
		}
		if !r.allow {
			return false
		}
		undecided &^= bits
	}
	return undecided == 0
}

func (r deviceRule) matches(typ, major, minor uint32) bool {
	switch r.typ {
	case 'b':
		if typ != devBlock {
			return false
		}
	case 'c':
		if typ != devChar {
			return false
		}
	}
	return (r.major < 0 || uint32(r.major) == major) && (r.minor < 0 || uint32(r.minor) == minor)
}

// bpfInsn is one eBPF instruction (struct bpf_insn).
type bpfInsn struct {
	code uint8
	regs uint8 // dst in the low nibble, src in the high one
	off  int16
	imm  int32
}

// eBPF opcodes used by the device filter.
const (
	opLdxW    = 0x61 // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
	opAndK    = 0x57 // BPF_ALU64 | BPF_AND | BPF_K
	opRshK    = 0x77 // BPF_ALU64 | BPF_RSH | BPF_K
	opMovK    = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K
	opMovX    = 0xbf // BPF_ALU64 | BPF_MOV | BPF_X
	opJeqK    = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	opJneK    = 0x55 // BPF_JMP | BPF_JNE | BPF_K
	opExit    = 0x95 // BPF_JMP | BPF_EXIT
	regCtx    = 1
	regType   = 2
	regAccess = 3
	regMajor  = 4
	regMinor  = 5
	regLeft   = 6 // access bits still undecided
	regTmp    = 7
)

func insn(code uint8, dst, src uint8, off int16, imm int32) bpfInsn {
	return bpfInsn{code: code, regs: dst | src<<4, off: off, imm: imm}
}

// deviceFilterProgram compiles rules into a BPF_PROG_TYPE_CGROUP_DEVICE
// program implementing deviceAllowed. The context is struct
// bpf_cgroup_dev_ctx {u32 access_type (access<<16 | type); u32 major; u32 minor}.
// Rules are checked last to first; each block:
//
//	if type/major/minor differ: skip block
//	tmp = left & ruleAccess; if tmp == 0: skip block
//	deny:  return 0
//	allow: left &= ^ruleAccess; if left != 0: skip block; return 1
//
// and after the last block the program returns 0.
func deviceFilterProgram(rules []deviceRule) []bpfInsn {
	prog := []bpfInsn{
		insn(opLdxW, regType, regCtx, 0, 0),
		insn(opAndK, regType, 0, 0, 0xffff),
		insn(opLdxW, regAccess, regCtx, 0, 0),
		insn(opRshK, regAccess, 0, 0, 16),
		insn(opLdxW, regMajor, regCtx, 4, 0),
		insn(opLdxW, regMinor, regCtx, 8, 0),
		insn(opMovX, regLeft, regAccess, 0, 0),
	}
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		var block []bpfInsn
		// Jumps with off -1 are patched to the end of the block below.
		switch r.typ {
		case 'b':
			block = append(block, insn(opJneK, regType, 0, -1, int32(devBlock)))
		case 'c':
			block = append(block, insn(opJneK, regType, 0, -1, int32(devChar)))
		}
		if r.major >= 0 {
			block = append(block, insn(opJneK, regMajor, 0, -1, int32(uint32(r.major))))
		}
		if r.minor >= 0 {
			block = append(block, insn(opJneK, regMinor, 0, -1, int32(uint32(r.minor))))
		}
		block = append(block,
			insn(opMovX, regTmp, regLeft, 0, 0),
			insn(opAndK, regTmp, 0, 0, int32(r.access)),
			insn(opJeqK, regTmp, 0, -1, 0),
		)
		if r.allow {
			block = append(block,
				insn(opAndK, regLeft, 0, 0, int32(^r.access)),
				insn(opJneK, regLeft, 0, -1, 0),
				insn(opMovK, 0, 0, 0, 1),
				insn(opExit, 0, 0, 0, 0),
			)
		} else {
			block = append(block,
				insn(opMovK, 0, 0, 0, 0),
				insn(opExit, 0, 0, 0, 0),
			)
		}
		for j := range block {
			if block[j].off == -1 {
				block[j].off = int16(len(block) - j - 1)
			}
		}
		prog = append(prog, block...)
	}
	return append(prog, insn(opMovK, 0, 0, 0, 0), insn(opExit, 0, 0, 0, 0))
}
