package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompData is struct seccomp_data as a filter sees it.
type seccompData struct {
	nr        uint32
	arch      uint32
	bigEndian bool // how the caller's architecture lays out 64-bit arguments
	args      [6]uint64
}

// word is the 32-bit load at offset off of seccomp_data.
func (d seccompData) word(off uint32) (uint32, error) {
	if off%4 != 0 || off >= 64 {
		return 0, fmt.Errorf("load at offset %d outside seccomp_data or unaligned", off)
	}
	switch {
	case off == 0:
		return d.nr, nil
	case off == 4:
		return d.arch, nil
	case off < 16:
		return 0, nil // instruction pointer, not used by Berth's filters
	}
	arg := d.args[(off-16)/8]
	high := (off-16)%8 == 4
	if d.bigEndian {
		high = !high
	}
	if high {
		return uint32(arg >> 32), nil
	}
	return uint32(arg), nil
}

// checkProgram applies the kernel's checks of a seccomp program
// (bpf_check_classic and seccomp_check_filter) restricted to the
// instructions the compiler may emit.
func checkProgram(prog []unix.SockFilter) error {
	if len(prog) == 0 || len(prog) > maxInsns {
		return fmt.Errorf("program length %d is not 1 to %d", len(prog), maxInsns)
	}
	for pc, ins := range prog {
		switch ins.Code {
		case opLdAbsW:
			if ins.K%4 != 0 || ins.K >= 64 {
				return fmt.Errorf("insn %d: load at offset %d outside seccomp_data", pc, ins.K)
			}
		case opAndK, opRetK:
		case opJa:
			if uint64(pc)+1+uint64(ins.K) >= uint64(len(prog)) {
				return fmt.Errorf("insn %d: ja %d out of range", pc, ins.K)
			}
		case opJeqK, opJgtK, opJgeK:
			if pc+1+int(ins.Jt) >= len(prog) || pc+1+int(ins.Jf) >= len(prog) {
				return fmt.Errorf("insn %d: jump %d/%d out of range", pc, ins.Jt, ins.Jf)
			}
		default:
			return fmt.Errorf("insn %d: opcode %#x not allowed", pc, ins.Code)
		}
	}
	if prog[len(prog)-1].Code != opRetK {
		return fmt.Errorf("last instruction %#x is not a return", prog[len(prog)-1].Code)
	}
	return nil
}

// run interprets a checked program on data and returns the filter's verdict.
func run(prog []unix.SockFilter, d seccompData) (uint32, error) {
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		ins := prog[pc]
		switch ins.Code {
		case opLdAbsW:
			w, err := d.word(ins.K)
			if err != nil {
				return 0, fmt.Errorf("insn %d: %w", pc, err)
			}
			acc = w
		case opAndK:
			acc &= ins.K
		case opRetK:
			return ins.K, nil
		case opJa:
			pc += int(ins.K)
		case opJeqK, opJgtK, opJgeK:
			var ok bool
			switch ins.Code {
			case opJeqK:
				ok = acc == ins.K
			case opJgtK:
				ok = acc > ins.K
			default:
				ok = acc >= ins.K
			}
			if ok {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		default:
			return 0, fmt.Errorf("insn %d: opcode %#x not allowed", pc, ins.Code)
		}
	}
	return 0, fmt.Errorf("program ran off its end")
}

// reference computes the verdict the package documentation promises for a
// configuration that Compile accepted, directly from the configuration.
func reference(s *specs.LinuxSeccomp, d seccompData) uint32 {
	defRet, _ := actionValue(s.DefaultAction, s.DefaultErrnoRet)
	listed := map[specs.Arch]bool{NativeArch(): true}
	for _, a := range s.Architectures {
		listed[a] = true
	}
	var ar arch
	found := false
	for name := range listed {
		a := arches[name]
		if a.audit != d.arch {
			continue
		}
		if a.audit == unix.AUDIT_ARCH_X86_64 && (d.nr&x32SyscallBit != 0) != (name == specs.ArchX32) {
			continue
		}
		ar, found = a, true
	}
	if !found {
		return badArchAction
	}
	stub := defRet != retENOSYS
	switch s.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		stub = false
	}
	if stub {
		var largest uint32
		for _, sc := range s.Syscalls {
			for _, name := range sc.Names {
				if nr, ok := syscallTables()[string(ar.name)][name]; ok && nr > largest {
					largest = nr
				}
			}
		}
		if largest > 0 && (d.nr > largest || ar.name == specs.ArchS390X && d.nr == 0) {
			return retENOSYS
		}
	}
	var uncond *uint32
	var conds []rule
	for _, sc := range s.Syscalls {
		ret, _ := actionValue(sc.Action, sc.ErrnoRet)
		if ret == defRet {
			continue
		}
		for _, name := range sc.Names {
			nr, ok := syscallTables()[string(ar.name)][name]
			if !ok || nr != d.nr {
				continue
			}
			if len(sc.Args) == 0 {
				if uncond == nil {
					uncond = &ret
				}
				continue
			}
			r := rule{ret: ret}
			for _, a := range sc.Args {
				r.conds = append(r.conds, cond{index: a.Index, op: a.Op, value: a.Value, value2: a.ValueTwo})
			}
			conds = append(conds, r)
		}
	}
	if uncond != nil {
		return *uncond
	}
	for _, r := range conds {
		all := true
		for _, c := range r.conds {
			if !holds(c, d.args[c.index], ar.bits32) {
				all = false
			}
		}
		if all {
			return r.ret
		}
	}
	return defRet
}

func holds(c cond, arg uint64, bits32 bool) bool {
	v, m := c.value, c.value2
	if bits32 {
		arg, v, m = uint64(uint32(arg)), uint64(uint32(v)), uint64(uint32(m))
	}
	switch c.op {
	case specs.OpEqualTo:
		return arg == v
	case specs.OpNotEqual:
		return arg != v
	case specs.OpLessThan:
		return arg < v
	case specs.OpLessEqual:
		return arg <= v
	case specs.OpGreaterThan:
		return arg > v
	case specs.OpGreaterEqual:
		return arg >= v
	case specs.OpMaskedEqual:
		return arg&v == m&v
	}
	panic("unknown op " + c.op)
}
