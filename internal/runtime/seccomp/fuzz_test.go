package seccomp

import (
	"encoding/json"
	"hash/fnv"
	"math/rand"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzCompile decodes a LinuxSeccomp from JSON and compiles it: Compile must
// not panic, and a program it returns must pass the kernel's checks and
// agree with the reference semantics.
func FuzzCompile(f *testing.F) {
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"],` +
		`"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":99},{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_KILL_PROCESS","architectures":["SCMP_ARCH_AARCH64","SCMP_ARCH_ARM","SCMP_ARCH_S390X"],` +
		`"flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW",` +
		`"args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},` +
		`{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":4294967295,"op":"SCMP_CMP_EQ"}]},` +
		`{"names":["ioctl"],"action":"SCMP_ACT_TRACE","args":[{"index":1,"value":4294967296,"op":"SCMP_CMP_GE"},{"index":2,"value":5,"op":"SCMP_CMP_LT"}]}]}`))
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 20; i++ {
		js, err := json.Marshal(randomConfig(rng))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(js)
	}
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["nonesuch"],"action":"SCMP_ACT_KILL"}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"op":"SCMP_CMP_EQ"}]}]}`))

	f.Fuzz(func(t *testing.T, in []byte) {
		var s specs.LinuxSeccomp
		if err := json.Unmarshal(in, &s); err != nil {
			return
		}
		flt, err := Compile(&s)
		if err != nil {
			return
		}
		h := fnv.New64a()
		h.Write(in)
		compareWithReference(t, &s, flt, rand.New(rand.NewSource(int64(h.Sum64()))), 64)
	})
}

// FuzzCompileRandom builds configurations from a seed, big ones included so
// that jumps need trampolines, and compares the program with the reference.
func FuzzCompileRandom(f *testing.F) {
	for _, seed := range []int64{1, 2, 3, 42} {
		f.Add(seed, uint8(1))
		f.Add(seed, uint8(40))
	}
	f.Fuzz(func(t *testing.T, seed int64, copies uint8) {
		rng := rand.New(rand.NewSource(seed))
		s := randomConfig(rng)
		// Repeat the rules with fresh conditions to grow the program.
		for i := 0; i < int(copies%64); i++ {
			more := randomConfig(rng)
			s.Syscalls = append(s.Syscalls, more.Syscalls...)
		}
		flt, err := Compile(s)
		if err != nil {
			if strings.Contains(err.Error(), "more than the kernel's limit") {
				return
			}
			t.Fatalf("Compile: %v", err)
		}
		compareWithReference(t, s, flt, rng, 64)
	})
}
