package seccomp

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Filter is a compiled seccomp program with the flags to load it with.
type Filter struct {
	prog  []unix.SockFilter
	flags uint

	notify           bool // some rule returns SECCOMP_RET_USER_NOTIF
	listenerPath     string
	listenerMetadata string
}

// Instructions is the length of the BPF program.
func (f *Filter) Instructions() int { return len(f.prog) }

// Program returns a copy of the BPF program.
func (f *Filter) Program() []unix.SockFilter { return append([]unix.SockFilter(nil), f.prog...) }

// NeedsListener reports whether some rule is SCMP_ACT_NOTIFY: the filter is
// then installed with LoadListener and its listener sent to ListenerPath.
func (f *Filter) NeedsListener() bool { return f.notify }

// ListenerPath is the configuration's listenerPath, the UNIX socket of the
// seccomp agent that receives the listener.
func (f *Filter) ListenerPath() string { return f.listenerPath }

// ListenerMetadata is the configuration's listenerMetadata, passed to the
// agent with the listener.
func (f *Filter) ListenerMetadata() string { return f.listenerMetadata }

// Flags are the SECCOMP_FILTER_FLAG_* bits the configuration asked for
// (Load adds SECCOMP_FILTER_FLAG_TSYNC).
func (f *Filter) Flags() uint { return f.flags }

// badArchAction is what a syscall made with an architecture the filter does
// not cover gets: libseccomp's default SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL.
const badArchAction = unix.SECCOMP_RET_KILL_THREAD

// dispatchLinearMax is the largest syscall set searched linearly; bigger
// sets are split by a binary search.
const dispatchLinearMax = 8

var flagBits = map[specs.LinuxSeccompFlag]uint{
	"SECCOMP_FILTER_FLAG_TSYNC":     unix.SECCOMP_FILTER_FLAG_TSYNC,
	specs.LinuxSeccompFlagLog:       unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow: unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
}

// cond is one argument comparison.
type cond struct {
	index         uint
	op            specs.LinuxSeccompOperator
	value, value2 uint64
}

// rule is one syscall rule: if all conds hold, ret is returned.
type rule struct {
	ret   uint32
	conds []cond
}

// archRules are the rules of one architecture by syscall number.
type archRules struct {
	arch  arch
	rules map[uint32][]rule
	// enosysAbove, if not zero, is the largest syscall number the
	// configuration names for this architecture: larger numbers get ENOSYS.
	enosysAbove uint32
}

// Compile translates a runtime-spec seccomp configuration into a BPF program.
// The package documentation lists the semantics it follows.
func Compile(s *specs.LinuxSeccomp) (*Filter, error) {
	if s == nil {
		return nil, errors.New("seccomp: no configuration")
	}
	defRet, err := actionValue(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	if s.DefaultAction == specs.ActNotify {
		return nil, errors.New("seccomp: defaultAction: SCMP_ACT_NOTIFY cannot be the default action")
	}

	notify := false
	for i, sc := range s.Syscalls {
		if sc.Action != specs.ActNotify {
			continue
		}
		notify = true
		if s.ListenerPath == "" {
			return nil, fmt.Errorf("seccomp: syscalls[%d]: SCMP_ACT_NOTIFY needs listenerPath", i)
		}
		if slices.Contains(sc.Names, "write") {
			// As in runc: the init reports the listener to its parent
			// with write(2), which must not wait for the agent.
			return nil, fmt.Errorf("seccomp: syscalls[%d]: SCMP_ACT_NOTIFY cannot be used for write", i)
		}
	}

	var flags uint
	for _, fl := range s.Flags {
		bit, ok := flagBits[fl]
		if !ok {
			if fl != specs.LinuxSeccompFlagWaitKillableRecv {
				return nil, fmt.Errorf("seccomp: flags: unknown flag %q", fl)
			}
			if !notify {
				return nil, fmt.Errorf("seccomp: flags: %s needs an SCMP_ACT_NOTIFY rule", fl)
			}
			bit = unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		}
		flags |= bit
	}

	native := NativeArch()
	if native == "" {
		return nil, fmt.Errorf("seccomp: architecture %s has no syscall table", goruntime.GOARCH)
	}
	var archList []arch
	seen := map[specs.Arch]bool{}
	for _, name := range append([]specs.Arch{native}, s.Architectures...) {
		if seen[name] || tableless[name] {
			continue
		}
		seen[name] = true
		a, err := lookupArch(name)
		if err != nil {
			return nil, fmt.Errorf("seccomp: %w", err)
		}
		archList = append(archList, a)
	}

	// runc's -ENOSYS stub: syscalls newer than every syscall the profile
	// names get ENOSYS, so that programs fall back to older syscalls rather
	// than fail on the default action, unless the default lets them through
	// or already returns ENOSYS.
	stub := true
	switch s.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		stub = false
	}
	if defRet == unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS) {
		stub = false
	}

	perArch := make([]*archRules, len(archList))
	for i, a := range archList {
		perArch[i] = &archRules{arch: a, rules: map[uint32][]rule{}}
	}
	for i, sc := range s.Syscalls {
		if len(sc.Names) == 0 {
			return nil, fmt.Errorf("seccomp: syscalls[%d]: names is empty", i)
		}
		ret, err := actionValue(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d] (%s): %w", i, sc.Names[0], err)
		}
		conds := make([]cond, 0, len(sc.Args))
		for j, arg := range sc.Args {
			if arg.Index > 5 {
				return nil, fmt.Errorf("seccomp: syscalls[%d] (%s): args[%d]: index %d is not 0 to 5", i, sc.Names[0], j, arg.Index)
			}
			switch arg.Op {
			case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
				specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
			default:
				return nil, fmt.Errorf("seccomp: syscalls[%d] (%s): args[%d]: unknown op %q", i, sc.Names[0], j, arg.Op)
			}
			conds = append(conds, cond{index: arg.Index, op: arg.Op, value: arg.Value, value2: arg.ValueTwo})
		}
		for _, name := range sc.Names {
			known := false
			for _, ar := range perArch {
				nr, ok := syscallTables()[string(ar.arch.name)][name]
				if !ok {
					continue
				}
				known = true
				if stub && nr > ar.enosysAbove {
					ar.enosysAbove = nr
				}
				if ret == defRet {
					continue // as runc: a rule doing what the default does is dropped
				}
				ar.rules[nr] = append(ar.rules[nr], rule{ret: ret, conds: conds})
			}
			if !known && !knownAnywhere(name) {
				return nil, fmt.Errorf("seccomp: syscalls[%d]: unknown syscall %q", i, name)
			}
		}
	}
	for _, ar := range perArch {
		for nr, rules := range ar.rules {
			ar.rules[nr] = resolveRules(rules)
		}
	}

	prog, err := generate(perArch, defRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	return &Filter{prog: prog, flags: flags, notify: notify, listenerPath: s.ListenerPath, listenerMetadata: s.ListenerMetadata}, nil
}

// knownAnywhere reports whether any architecture's table has the syscall.
func knownAnywhere(name string) bool {
	for _, t := range syscallTables() {
		if _, ok := t[name]; ok {
			return true
		}
	}
	return false
}

// resolveRules orders the rules of one syscall: the first unconditional
// rule alone decides (as in libseccomp, where later ones are dropped);
// otherwise the conditional rules in their given order.
func resolveRules(rules []rule) []rule {
	for _, r := range rules {
		if len(r.conds) == 0 {
			return []rule{r}
		}
	}
	return rules
}

// actionValue is the SECCOMP_RET_* value of an action.
func actionValue(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	errno := uint(unix.EPERM)
	if errnoRet != nil {
		if act != specs.ActErrno && act != specs.ActTrace {
			return 0, fmt.Errorf("errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not %s", act)
		}
		errno = *errnoRet
		if errno > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("errnoRet %d is more than %d", errno, unix.SECCOMP_RET_DATA)
		}
	}
	switch act {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | uint32(errno), nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | uint32(errno), nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return unix.SECCOMP_RET_USER_NOTIF, nil
	case "":
		return 0, errors.New("action is empty")
	}
	return 0, fmt.Errorf("unknown action %q", act)
}

// generate emits the program, back to front.
func generate(perArch []*archRules, defRet uint32) ([]unix.SockFilter, error) {
	a := newAsm()
	// Group by seccomp_data.arch: x86_64 and x32 share one value.
	type group struct {
		audit uint32
		parts []*archRules
	}
	var groups []*group
	for _, ar := range perArch {
		var g *group
		for _, h := range groups {
			if h.audit == ar.arch.audit {
				g = h
			}
		}
		if g == nil {
			g = &group{audit: ar.arch.audit}
			groups = append(groups, g)
		}
		g.parts = append(g.parts, ar)
	}

	entries := make([]target, len(groups))
	for i := len(groups) - 1; i >= 0; i-- {
		g := groups[i]
		if g.audit != unix.AUDIT_ARCH_X86_64 {
			a.place(a.emitArch(g.parts[0], defRet))
			entries[i] = a.stmt(opLdAbsW, offNr)
			continue
		}
		var x86_64, x32 *archRules
		for _, p := range g.parts {
			if p.arch.name == specs.ArchX32 {
				x32 = p
			} else {
				x86_64 = p
			}
		}
		low, high := retTarget(badArchAction), retTarget(badArchAction)
		if x32 != nil {
			high = a.emitArch(x32, defRet)
		}
		if x86_64 != nil {
			low = a.emitArch(x86_64, defRet)
		}
		a.jump(opJgeK, x32SyscallBit, high, low)
		entries[i] = a.stmt(opLdAbsW, offNr)
	}
	next := retTarget(badArchAction)
	for i := len(groups) - 1; i >= 0; i-- {
		next = a.jump(opJeqK, groups[i].audit, entries[i], next)
	}
	a.stmt(opLdAbsW, offArch)

	prog := a.program()
	if len(prog) > maxInsns {
		return nil, fmt.Errorf("the compiled filter has %d instructions, more than the kernel's limit of %d", len(prog), maxInsns)
	}
	return prog, nil
}

// dispatchEntry sends one syscall number to its code.
type dispatchEntry struct {
	nr uint32
	to target
}

// emitArch emits the dispatch over one architecture's syscalls and their
// rules; the code expects the syscall number in the accumulator.
func (a *asm) emitArch(ar *archRules, defRet uint32) target {
	nrs := make([]uint32, 0, len(ar.rules))
	for nr := range ar.rules {
		nrs = append(nrs, nr)
	}
	sort.Slice(nrs, func(i, j int) bool { return nrs[i] < nrs[j] })
	entries := make([]dispatchEntry, len(nrs))
	// Rule blocks are emitted first (they follow the dispatch in the program).
	for i := len(nrs) - 1; i >= 0; i-- {
		entries[i] = dispatchEntry{nr: nrs[i], to: a.emitRules(ar.arch, ar.rules[nrs[i]], defRet)}
	}
	d := a.emitDispatch(entries, retTarget(defRet))
	if ar.enosysAbove == 0 {
		return d
	}
	d = a.jump(opJgtK, ar.enosysAbove, retTarget(retENOSYS), d)
	if ar.arch.name == specs.ArchS390X {
		// s390x multiplexes syscalls the kernel does not know through
		// syscall 0 (setup), unused otherwise: ENOSYS as well, as runc does.
		d = a.jump(opJeqK, 0, retTarget(retENOSYS), d)
	}
	return d
}

const retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)

// emitDispatch emits a binary search over sorted entries; numbers not among
// them go to otherwise.
func (a *asm) emitDispatch(entries []dispatchEntry, otherwise target) target {
	if len(entries) <= dispatchLinearMax {
		next := otherwise
		for i := len(entries) - 1; i >= 0; i-- {
			next = a.jump(opJeqK, entries[i].nr, entries[i].to, next)
		}
		return next
	}
	mid := len(entries) / 2
	right := a.emitDispatch(entries[mid:], otherwise)
	left := a.emitDispatch(entries[:mid], otherwise)
	return a.jump(opJgeK, entries[mid].nr, right, left)
}

// emitRules emits the rules of one syscall, tried in order; if none matches,
// the default action is returned.
func (a *asm) emitRules(ar arch, rules []rule, defRet uint32) target {
	if len(rules) == 1 && len(rules[0].conds) == 0 {
		return retTarget(rules[0].ret)
	}
	next := retTarget(defRet)
	for i := len(rules) - 1; i >= 0; i-- {
		pass := retTarget(rules[i].ret)
		for j := len(rules[i].conds) - 1; j >= 0; j-- {
			pass = a.emitCond(ar, rules[i].conds[j], pass, next)
		}
		next = pass
	}
	return next
}

// emitCond emits one unsigned comparison of a syscall argument: to pass if
// it holds, else to fail.
func (a *asm) emitCond(ar arch, c cond, pass, fail target) target {
	loOff, hiOff := ar.argOffsets(c.index)
	v, m := c.value, uint64(0)
	if c.op == specs.OpMaskedEqual {
		// As libseccomp: (arg & mask) == (value & mask).
		m, v = c.value, c.value2&c.value
	}
	vlo, vhi := uint32(v), uint32(v>>32)
	mlo, mhi := uint32(m), uint32(m>>32)

	// Low half: its test decides once the high halves are equal.
	var lo func(t, f target) target
	switch c.op {
	case specs.OpEqualTo:
		lo = func(t, f target) target { return a.jump(opJeqK, vlo, t, f) }
	case specs.OpNotEqual:
		lo = func(t, f target) target { return a.jump(opJeqK, vlo, f, t) }
	case specs.OpGreaterThan:
		lo = func(t, f target) target { return a.jump(opJgtK, vlo, t, f) }
	case specs.OpGreaterEqual:
		lo = func(t, f target) target { return a.jump(opJgeK, vlo, t, f) }
	case specs.OpLessThan:
		lo = func(t, f target) target { return a.jump(opJgeK, vlo, f, t) }
	case specs.OpLessEqual:
		lo = func(t, f target) target { return a.jump(opJgtK, vlo, f, t) }
	case specs.OpMaskedEqual:
		lo = func(t, f target) target {
			a.jump(opJeqK, vlo, t, f)
			return a.stmt(opAndK, mlo)
		}
	}
	lo(pass, fail)
	loCode := a.stmt(opLdAbsW, loOff)
	if ar.bits32 {
		return loCode
	}
	// High half.
	switch c.op {
	case specs.OpEqualTo:
		a.jump(opJeqK, vhi, loCode, fail)
	case specs.OpNotEqual:
		a.jump(opJeqK, vhi, loCode, pass)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.jump(opJeqK, vhi, loCode, fail)
		a.jump(opJgtK, vhi, pass, a.next())
	case specs.OpLessThan, specs.OpLessEqual:
		a.jump(opJeqK, vhi, loCode, pass)
		a.jump(opJgtK, vhi, fail, a.next())
	case specs.OpMaskedEqual:
		a.jump(opJeqK, vhi, loCode, fail)
		a.stmt(opAndK, mhi)
	}
	return a.stmt(opLdAbsW, hiOff)
}
