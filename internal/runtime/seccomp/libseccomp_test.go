package seccomp

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The libseccomp oracle: Debian's python3-seccomp (hack/install-deps.sh)
// builds each configuration the way runc's InitSeccomp does (libseccomp
// 2.5, the rules runc would add) and exports the BPF. The test runs both
// programs on the same synthetic syscalls. runc's -ENOSYS stub is applied on
// the libseccomp side by the reference code, since runc adds it after
// libseccomp.
const oraclePy = `
import base64, json, os, sys, tempfile
import seccomp as s

ARCH = {"SCMP_ARCH_X86": s.Arch.X86, "SCMP_ARCH_X86_64": s.Arch.X86_64, "SCMP_ARCH_X32": s.Arch.X32,
        "SCMP_ARCH_ARM": s.Arch.ARM, "SCMP_ARCH_AARCH64": s.Arch.AARCH64, "SCMP_ARCH_MIPS": s.Arch.MIPS,
        "SCMP_ARCH_S390X": s.Arch.S390X, "SCMP_ARCH_PPC64LE": s.Arch.PPC64LE, "SCMP_ARCH_RISCV64": s.Arch.RISCV64}
OP = {"SCMP_CMP_EQ": s.EQ, "SCMP_CMP_NE": s.NE, "SCMP_CMP_LT": s.LT, "SCMP_CMP_LE": s.LE,
      "SCMP_CMP_GT": s.GT, "SCMP_CMP_GE": s.GE, "SCMP_CMP_MASKED_EQ": s.MASKED_EQ}

def action(name, errno):
    if name == "SCMP_ACT_ALLOW": return s.ALLOW
    if name == "SCMP_ACT_ERRNO": return s.ERRNO(1 if errno is None else errno)
    if name == "SCMP_ACT_TRACE": return s.TRACE(1 if errno is None else errno)
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"): return s.KILL
    if name == "SCMP_ACT_KILL_PROCESS": return s.KILL_PROCESS
    if name == "SCMP_ACT_TRAP": return s.TRAP
    if name == "SCMP_ACT_LOG": return s.LOG
    raise ValueError(name)

out = []
for cfg in json.load(sys.stdin):
    res = {"names": {}}
    try:
        default = action(cfg["defaultAction"], cfg.get("defaultErrnoRet"))
        f = s.SyscallFilter(default)
        for a in cfg.get("architectures") or []:
            try:
                f.add_arch(ARCH[a])
            except Exception as e:
                if "17" not in str(e) and "exist" not in str(e).lower():
                    raise
        if len(cfg.get("syscalls") or []) > 32:
            f.set_attr(s.Attr.CTL_OPTIMIZE, 2)
        for a in ["SCMP_ARCH_X86_64"] + (cfg.get("architectures") or []):
            names = res["names"].setdefault(a, {})
            for sc in cfg.get("syscalls") or []:
                for n in sc["names"]:
                    try:
                        nr = s.resolve_syscall(ARCH[a], n)
                    except Exception:
                        continue
                    if nr >= 0:
                        names[n] = nr
        for sc in cfg.get("syscalls") or []:
            act = action(sc["action"], sc.get("errnoRet"))
            if act == default:
                continue
            args = [s.Arg(a["index"], OP[a["op"]], a.get("value", 0), a.get("valueTwo", 0)) for a in sc.get("args") or []]
            for n in sc["names"]:
                if s.resolve_syscall(s.Arch.NATIVE, n) == -1:
                    continue  # runc: unknown syscall ignored
                f.add_rule(act, n, *args)
        with tempfile.TemporaryFile() as t:
            f.export_bpf(t)
            t.seek(0)
            res["prog"] = base64.b64encode(t.read()).decode()
    except Exception as e:
        res["error"] = repr(e)
    out.append(res)
json.dump(out, sys.stdout)
`

type oracleResult struct {
	Names map[string]map[string]int64 `json:"names"`
	Prog  string                      `json:"prog"`
	Error string                      `json:"error"`
}

// libseccompPrograms runs the oracle on configurations.
func libseccompPrograms(t *testing.T, cfgs []*specs.LinuxSeccomp) []oracleResult {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import seccomp").Run(); err != nil {
		t.Skip("python3-seccomp is not installed (hack/install-deps.sh installs it)")
	}
	script := filepath.Join(t.TempDir(), "oracle.py")
	if err := os.WriteFile(script, []byte(oraclePy), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, script)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("libseccomp oracle: %v", err)
	}
	var res []oracleResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("libseccomp oracle output: %v", err)
	}
	return res
}

// runAny interprets a seccomp program that may use any of the instructions
// libseccomp emits.
func runAny(prog []unix.SockFilter, d seccompData) (uint32, error) {
	var acc, x uint32
	for pc := 0; pc < len(prog); pc++ {
		ins := prog[pc]
		switch ins.Code {
		case opLdAbsW:
			w, err := d.word(ins.K)
			if err != nil {
				return 0, err
			}
			acc = w
		case unix.BPF_LDX | unix.BPF_IMM:
			x = ins.K
		case unix.BPF_MISC | unix.BPF_TAX:
			x = acc
		case unix.BPF_MISC | unix.BPF_TXA:
			acc = x
		case opAndK:
			acc &= ins.K
		case unix.BPF_ALU | unix.BPF_OR | unix.BPF_K:
			acc |= ins.K
		case opRetK:
			return ins.K, nil
		case unix.BPF_RET | unix.BPF_A:
			return acc, nil
		case opJa:
			pc += int(ins.K)
		case opJeqK, opJgtK, opJgeK, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var ok bool
			switch ins.Code {
			case opJeqK:
				ok = acc == ins.K
			case opJgtK:
				ok = acc > ins.K
			case opJgeK:
				ok = acc >= ins.K
			default:
				ok = acc&ins.K != 0
			}
			if ok {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		default:
			return 0, fmt.Errorf("insn %d: opcode %#x not interpreted", pc, ins.Code)
		}
	}
	return 0, fmt.Errorf("program ran off its end")
}

func decodeProgram(t *testing.T, b64 string) []unix.SockFilter {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw)%8 != 0 {
		t.Fatalf("oracle program: %v (%d bytes)", err, len(raw))
	}
	prog := make([]unix.SockFilter, len(raw)/8)
	for i := range prog {
		b := raw[8*i:]
		prog[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	return prog
}

// oracleConfig is a random configuration within what both implementations
// define the same way: no two conditions on one argument in a rule (runc
// splits those), at most one action per syscall.
func oracleConfig(rng *rand.Rand) *specs.LinuxSeccomp {
	s := &specs.LinuxSeccomp{DefaultAction: testActions[rng.Intn(len(testActions))]}
	// Docker lists the native architecture; runc adds its -ENOSYS stub only
	// for listed ones. libseccomp refuses to mix endiannesses (no s390x).
	s.Architectures = []specs.Arch{specs.ArchX86_64}
	for _, a := range []specs.Arch{specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM} {
		if rng.Intn(3) == 0 {
			s.Architectures = append(s.Architectures, a)
		}
	}
	// No socket: libseccomp turns it into socketcall(SYS_SOCKET, ...) on x86.
	names := []string{"read", "write", "mkdirat", "clone", "ioctl", "personality", "execve", "openat", "kill"}
	// libseccomp 2.5.4 loses the syscall number load of an architecture
	// block whose first rule is for a syscall the architecture lacks (mkdir
	// on aarch64, socketcall on aarch64, arm and x32 with x86_64): its
	// rules then never match.
	has := func(a specs.Arch) bool { return slices.Contains(s.Architectures, a) }
	if !has(specs.ArchAARCH64) {
		names = append(names, "mkdir")
		if !has(specs.ArchARM) && !has(specs.ArchX32) {
			names = append(names, "socketcall")
		}
	}
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for _, name := range names[:rng.Intn(len(names))] {
		act := testActions[rng.Intn(len(testActions))]
		errno := uintp(uint(1 + rng.Intn(100)))
		// One conditional rule per syscall: libseccomp 2.5.4 miscompiles some
		// merged rule trees (it reuses an accumulator it has overwritten),
		// which its own pseudo-code output does not show.
		for k := 2; k > 0; k-- {
			sc := specs.LinuxSyscall{Names: []string{name}, Action: act}
			if act == specs.ActErrno {
				sc.ErrnoRet = errno
			}
			perm := rng.Perm(6)
			for c := rng.Intn(3); c > 0; c-- {
				sc.Args = append(sc.Args, specs.LinuxSeccompArg{
					Index: uint(perm[c]), Op: testOps[rng.Intn(len(testOps))],
					Value: testValues[rng.Intn(len(testValues))], ValueTwo: testValues[rng.Intn(len(testValues))],
				})
			}
			s.Syscalls = append(s.Syscalls, sc)
			if len(sc.Args) > 0 || rng.Intn(2) == 0 {
				break
			}
			// After an unconditional rule, any other rule is dropped.
			act = testActions[rng.Intn(len(testActions))]
		}
	}
	return s
}

func TestAgainstLibseccomp(t *testing.T) {
	if NativeArch() != specs.ArchX86_64 {
		t.Skip("the oracle is set up for an x86_64 host")
	}
	rng := rand.New(rand.NewSource(4))
	cfgs := []*specs.LinuxSeccomp{dockerDefault(t)}
	for i := 0; i < 500; i++ {
		cfgs = append(cfgs, oracleConfig(rng))
	}
	results := libseccompPrograms(t, cfgs)
	compared, skipped := 0, 0
	for i, s := range cfgs {
		res := results[i]
		js, _ := json.Marshal(s)
		if res.Error != "" {
			skipped++
			t.Logf("config %d: libseccomp refused it (%s): %s", i, res.Error, js)
			continue
		}
		f, err := Compile(s)
		if err != nil {
			t.Errorf("config %d: libseccomp accepts it, Compile says %v: %s", i, err, js)
			continue
		}
		// The tables agree with libseccomp's where both know a name, and
		// verdicts are compared only for numbers both give the same name.
		skip := map[specs.Arch]map[uint32]bool{}
		largest := map[specs.Arch]uint32{} // runc's stub bound: names libseccomp knows
		var nrs []uint32
		for a, names := range res.Names {
			arch := specs.Arch(a)
			skip[arch] = map[uint32]bool{}
			for name, n := range names {
				if uint32(n) > largest[arch] {
					largest[arch] = uint32(n)
				}
				nrs = append(nrs, uint32(n))
				got, ok := syscallTables()[a][name]
				if ok && int64(got) == n {
					continue
				}
				if multiplexer(arch, n) {
					// libseccomp turns socket(2) and the SysV IPC calls into
					// socketcall/ipc on x86; Berth filters the direct syscall.
					skip[arch][got], skip[arch][uint32(n)] = true, true
					continue
				}
				t.Errorf("%s %s: libseccomp says %d, our table %d (%v)", a, name, n, got, ok)
			}
			for _, sc := range s.Syscalls {
				for _, name := range sc.Names {
					if n, ok := syscallTables()[a][name]; ok {
						if _, known := names[name]; !known {
							skip[arch][n] = true // libseccomp 2.5.4 is older
						}
					}
				}
			}
		}
		oracle := decodeProgram(t, res.Prog)
		nrs = append(nrs, 0, 1, 2, 59, 300, 1000)
		for k := 0; k < 300; k++ {
			a := testArches[rng.Intn(len(testArches))]
			d := data(a, nrs[rng.Intn(len(nrs))]&^x32SyscallBit)
			if a == specs.ArchX32 {
				d.nr |= x32SyscallBit
			}
			if skip[a][d.nr] {
				continue
			}
			for j := range d.args {
				d.args[j] = testValues[rng.Intn(len(testValues))]
			}
			got, err := run(f.prog, d)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			want, err := runAny(oracle, d)
			if err != nil {
				t.Fatalf("config %d: oracle program: %v", i, err)
			}
			if stubbed, ours, ok := enosysStub(s, d, largest[a]); ok {
				if !stubbed {
					continue // between libseccomp's and our largest number
				}
				want = retENOSYS
				_ = ours
			}
			if got != want {
				t.Errorf("config %d %s\ndata %+v: ours %#x, libseccomp (+ runc's stub) %#x", i, js, d, got, want)
				break
			}
			compared++
		}
	}
	t.Logf("%d configurations, %d refused by libseccomp, %d verdicts compared", len(cfgs), skipped, compared)
}

// multiplexer reports whether n is x86's socketcall or ipc.
func multiplexer(a specs.Arch, n int64) bool {
	return a == specs.ArchX86 && (n == 102 || n == 117)
}

// enosysStub tells whether runc's -ENOSYS stub, whose bound is largest (the
// largest number libseccomp resolves among the names), answers for d:
// ok is false if the stub does not apply or the syscall is below both
// bounds; stubbed is false if only one of runc and Berth answers ENOSYS.
func enosysStub(s *specs.LinuxSeccomp, d seccompData, largest uint32) (stubbed, ours, ok bool) {
	defRet, _ := actionValue(s.DefaultAction, s.DefaultErrnoRet)
	switch s.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		return false, false, false
	}
	if defRet == retENOSYS {
		return false, false, false
	}
	for _, name := range append([]specs.Arch{NativeArch()}, s.Architectures...) {
		a := arches[name]
		if a.audit != d.arch || a.audit == unix.AUDIT_ARCH_X86_64 && (d.nr&x32SyscallBit != 0) != (name == specs.ArchX32) {
			continue
		}
		var ourLargest uint32
		for _, sc := range s.Syscalls {
			for _, n := range sc.Names {
				if v, ok := syscallTables()[string(name)][n]; ok && v > ourLargest {
					ourLargest = v
				}
			}
		}
		if largest == 0 || ourLargest == 0 {
			return false, false, largest != ourLargest
		}
		runc, berth := d.nr > largest, d.nr > ourLargest
		if !runc && !berth {
			return false, false, false
		}
		return runc == berth, berth, true
	}
	return false, false, false
}
