package seccomp

import (
	"golang.org/x/sys/unix"
)

// Classic BPF opcodes used by the compiler (linux/bpf_common.h).
const (
	opLdAbsW = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	opAndK   = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	opJa     = unix.BPF_JMP | unix.BPF_JA
	opJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	opJgtK   = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	opJgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	opRetK   = unix.BPF_RET | unix.BPF_K

	// maxJump is the furthest a conditional jump reaches (its offsets are 8 bits).
	maxJump = 255

	// maxInsns is the kernel's BPF_MAXINSNS.
	maxInsns = 4096

	// Offsets in struct seccomp_data.
	offNr   = 0
	offArch = 4
)

// target is where a jump goes: an emitted instruction (label) or a return of
// a value, which the assembler places (and copies) where it is in reach.
type target struct {
	ret   bool
	value uint32 // the returned value if ret
	label int    // the instruction's index counted from the program's end
}

func retTarget(v uint32) target { return target{ret: true, value: v} }

// asm builds a program back to front: every jump target is emitted before
// the jump, so offsets are known when a jump is written.
type asm struct {
	rev  []unix.SockFilter // instructions, last first
	rets map[uint32]int    // label of the most recent return of each value
}

func newAsm() *asm { return &asm{rets: map[uint32]int{}} }

// emit prepends one instruction and returns its label.
func (a *asm) emit(ins unix.SockFilter) target {
	a.rev = append(a.rev, ins)
	return target{label: len(a.rev) - 1}
}

// next is the label of the instruction emitted last, which the next emitted
// instruction falls through to.
func (a *asm) next() target { return target{label: len(a.rev) - 1} }

func (a *asm) ret(v uint32) target {
	t := a.emit(unix.SockFilter{Code: opRetK, K: v})
	a.rets[v] = t.label
	return t
}

func (a *asm) stmt(code uint16, k uint32) target {
	return a.emit(unix.SockFilter{Code: code, K: k})
}

// distance is the jump offset from an instruction emitted now to t.
func (a *asm) distance(t target) int { return len(a.rev) - 1 - t.label }

// reach returns a label for t that a conditional jump emitted after up to
// slack more instructions still reaches, emitting a trampoline if needed.
func (a *asm) reach(t target, slack int) target {
	if t.ret {
		if l, ok := a.rets[t.value]; ok && a.distance(target{label: l})+slack <= maxJump {
			return target{label: l}
		}
		return a.ret(t.value)
	}
	if a.distance(t)+slack <= maxJump {
		return t
	}
	return a.emit(unix.SockFilter{Code: opJa, K: uint32(a.distance(t))})
}

// jump emits a conditional jump on the accumulator compared with k.
func (a *asm) jump(code uint16, k uint32, jt, jf target) target {
	jt = a.reach(jt, 1)
	jf = a.reach(jf, 0)
	return a.emit(unix.SockFilter{Code: code, Jt: uint8(a.distance(jt)), Jf: uint8(a.distance(jf)), K: k})
}

// place makes t the instruction the next emitted one falls through to.
func (a *asm) place(t target) {
	if t.ret {
		a.ret(t.value)
		return
	}
	if t.label != len(a.rev)-1 {
		a.emit(unix.SockFilter{Code: opJa, K: uint32(a.distance(t))})
	}
}

// program returns the instructions in execution order.
func (a *asm) program() []unix.SockFilter {
	p := make([]unix.SockFilter, len(a.rev))
	for i, ins := range a.rev {
		p[len(p)-1-i] = ins
	}
	return p
}
