package runtime

import (
	"encoding/json"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fastDecodeSpec decodes config.json's bytes without encoding/json's
// reflection, for the fields the specs of runc, docker and containerd hold.
// A fresh process's first encoding/json decode of a spec builds decoders
// and encoders for every type a spec can hold (Windows, Solaris, VM, z/OS,
// every cgroup knob), about 0.6 ms of CPU before the init can be sent its
// plan; this takes a tenth of that.
//
// It returns ok false for anything else, and parseSpec then decodes with
// encoding/json, whose result and errors stay the reference: a key that
// names a field only case-folded, a field it does not handle (a process's
// scheduler, IO priority or CPU affinity; the spec's other platforms; the
// Linux intelRdt, memoryPolicy, personality, timeOffsets, netDevices; the
// network, rdma and per-device blockIO limits), a key that repeats, a
// number that is not an integer in its field's range, a value of the wrong
// type, nesting deeper than a spec needs. FuzzFastDecodeSpec checks that
// what it decodes is what encoding/json decodes.
func fastDecodeSpec(data []byte) (*specs.Spec, bool) {
	if len(data) > fastSpecMax {
		return nil, false
	}
	p := jparser{b: data}
	root := p.value(0)
	p.ws()
	if p.bad || p.i != len(data) || root.k != 'o' {
		return nil, false
	}
	var d specDecoder
	s := new(specs.Spec)
	d.spec(&root, s)
	if d.bad {
		return nil, false
	}
	return s, true
}

// fastSpecMax bounds what fastDecodeSpec parses: its tree of values takes
// a few times the input's size (real specs are tens of KB; the docker
// seccomp profile makes the largest), the rest up to maxSpecSize goes to
// encoding/json.
const fastSpecMax = 1 << 20

// jv is a parsed JSON value: kind 'o' (object: keys and kids), 'a' (array:
// kids), 's' (string: s), 'n' (number: its text in s), 't', 'f', 'z'
// (null).
type jv struct {
	k    byte
	s    string
	keys []string
	kids []jv
}

// jparser parses RFC 8259 JSON; bad is set at the first thing it does not
// take (encoding/json then says what).
type jparser struct {
	b   []byte
	i   int
	bad bool
}

// jMaxDepth bounds nesting: a spec needs 6 levels.
const jMaxDepth = 32

func (p *jparser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jparser) value(depth int) jv {
	p.ws()
	if p.bad || p.i >= len(p.b) || depth > jMaxDepth {
		p.bad = true
		return jv{}
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		p.i++
		v := jv{k: 'a'}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return v
		}
		for !p.bad {
			v.kids = append(v.kids, p.value(depth+1))
			p.ws()
			if p.i >= len(p.b) {
				p.bad = true
			} else if p.b[p.i] == ',' {
				p.i++
			} else if p.b[p.i] == ']' {
				p.i++
				return v
			} else {
				p.bad = true
			}
		}
		return v
	case c == '"':
		return jv{k: 's', s: p.str()}
	case c == 't':
		return p.literal("true", 't')
	case c == 'f':
		return p.literal("false", 'f')
	case c == 'n':
		return p.literal("null", 'z')
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	p.bad = true
	return jv{}
}

func (p *jparser) object(depth int) jv {
	p.i++
	v := jv{k: 'o'}
	var seen map[string]bool // past a few keys: finding repeats stays linear
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return v
	}
	for !p.bad {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			p.bad = true
			break
		}
		key := p.str()
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			p.bad = true
			break
		}
		p.i++
		// A repeated key: which one counts, and how, is encoding/json's to
		// say.
		if seen == nil && len(v.keys) == 16 {
			seen = make(map[string]bool, 32)
			for _, k := range v.keys {
				seen[k] = true
			}
		}
		if seen != nil {
			if seen[key] {
				p.bad = true
			}
			seen[key] = true
		} else {
			for _, k := range v.keys {
				if k == key {
					p.bad = true
				}
			}
		}
		v.keys = append(v.keys, key)
		v.kids = append(v.kids, p.value(depth+1))
		p.ws()
		if p.i >= len(p.b) {
			p.bad = true
		} else if p.b[p.i] == ',' {
			p.i++
		} else if p.b[p.i] == '}' {
			p.i++
			return v
		} else {
			p.bad = true
		}
	}
	return v
}

// str parses a string at p.i (a '"'): plain printable ASCII is taken as it
// is, anything with escapes or other bytes is unquoted by encoding/json
// (a string needs none of its reflection).
func (p *jparser) str() string {
	start := p.i
	p.i++
	plain := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if plain {
				return string(p.b[start+1 : p.i-1])
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				p.bad = true
			}
			return s
		case c == '\\':
			plain = false
			p.i += 2
			continue
		case c < 0x20:
			p.bad = true
			return ""
		case c >= 0x80:
			plain = false
		}
		p.i++
	}
	p.bad = true
	return ""
}

func (p *jparser) literal(word string, k byte) jv {
	if string(p.b[p.i:min(len(p.b), p.i+len(word))]) != word {
		p.bad = true
		return jv{}
	}
	p.i += len(word)
	return jv{k: k}
}

// number takes JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jparser) number() jv {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		p.bad = true
		return jv{}
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			p.bad = true
			return jv{}
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			p.bad = true
			return jv{}
		}
	}
	return jv{k: 'n', s: string(p.b[start:p.i])}
}

// specDecoder sets spec fields from parsed values as encoding/json would,
// and sets bad where it would not know how or encoding/json would fail.
type specDecoder struct{ bad bool }

// fields calls set with the index in names of each of v's keys. names are
// all the JSON names of the Go struct's fields; a key that matches none is
// skipped, as encoding/json skips it, unless it matches one case-folded.
// A null leaves the struct as it is.
func (d *specDecoder) fields(v *jv, names []string, set func(i int, v *jv)) {
	if v.k == 'z' {
		return
	}
	if v.k != 'o' {
		d.bad = true
		return
	}
	for i, key := range v.keys {
		match := -1
		for j, n := range names {
			if key == n {
				match = j
				break
			}
			if strings.EqualFold(key, n) {
				d.bad = true
				return
			}
		}
		if match >= 0 {
			set(match, &v.kids[i])
		}
	}
}

// unhandled marks a field this decoder leaves to encoding/json.
func (d *specDecoder) unhandled(*jv) { d.bad = true }

func (d *specDecoder) str(v *jv, dst *string) {
	switch v.k {
	case 's':
		*dst = v.s
	case 'z':
	default:
		d.bad = true
	}
}

func (d *specDecoder) boolean(v *jv, dst *bool) {
	switch v.k {
	case 't':
		*dst = true
	case 'f':
		*dst = false
	case 'z':
	default:
		d.bad = true
	}
}

// number calls set with a number's text, and marks the spec bad if it
// refuses it; null leaves the field as it is.
func (d *specDecoder) number(v *jv, set func(string) bool) {
	switch v.k {
	case 'n':
		if !set(v.s) {
			d.bad = true
		}
	case 'z':
	default:
		d.bad = true
	}
}

// setInt and setUint take an integer in their field's range, as
// encoding/json does (no fraction or exponent).
func setInt[T ~int | ~int16 | ~int32 | ~int64](d *specDecoder, v *jv, dst *T) {
	d.number(v, func(s string) bool {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || int64(T(n)) != n {
			return false
		}
		*dst = T(n)
		return true
	})
}

func setUint[T ~uint | ~uint16 | ~uint32 | ~uint64](d *specDecoder, v *jv, dst *T) {
	d.number(v, func(s string) bool {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || uint64(T(n)) != n {
			return false
		}
		*dst = T(n)
		return true
	})
}

// optInt and optUint decode a pointer to an integer.
func optInt[T ~int | ~int16 | ~int32 | ~int64](d *specDecoder, v *jv, dst **T) {
	ptr(v, dst, func(v *jv, x *T) { setInt(d, v, x) })
}

func optUint[T ~uint | ~uint16 | ~uint32 | ~uint64](d *specDecoder, v *jv, dst **T) {
	ptr(v, dst, func(v *jv, x *T) { setUint(d, v, x) })
}

// ptr decodes a pointer field: null is nil, anything else a new value.
func ptr[T any](v *jv, dst **T, set func(*jv, *T)) {
	if v.k == 'z' {
		*dst = nil
		return
	}
	x := new(T)
	set(v, x)
	*dst = x
}

// list decodes a slice: null is nil, an array a new slice (empty, not nil,
// for []), its null elements zero values.
func list[T any](d *specDecoder, v *jv, dst *[]T, set func(*jv, *T)) {
	switch v.k {
	case 'z':
		*dst = nil
	case 'a':
		out := make([]T, len(v.kids))
		for i := range v.kids {
			set(&v.kids[i], &out[i])
		}
		*dst = out
	default:
		d.bad = true
	}
}

func strList[T ~string](d *specDecoder, v *jv, dst *[]T) {
	list(d, v, dst, func(v *jv, x *T) {
		var s string
		d.str(v, &s)
		*x = T(s)
	})
}

func (d *specDecoder) strMap(v *jv, dst *map[string]string) {
	switch v.k {
	case 'z':
		*dst = nil
	case 'o':
		m := make(map[string]string, len(v.keys))
		for i, k := range v.keys {
			var s string
			d.str(&v.kids[i], &s)
			m[k] = s
		}
		*dst = m
	default:
		d.bad = true
	}
}

func (d *specDecoder) spec(v *jv, s *specs.Spec) {
	d.fields(v, []string{"ociVersion", "process", "root", "hostname", "domainname", "mounts", "hooks", "annotations", "linux",
		"solaris", "windows", "vm", "zos", "freebsd"}, func(i int, v *jv) {
		switch i {
		case 0:
			d.str(v, &s.Version)
		case 1:
			ptr(v, &s.Process, d.process)
		case 2:
			ptr(v, &s.Root, func(v *jv, r *specs.Root) {
				d.fields(v, []string{"path", "readonly"}, func(i int, v *jv) {
					if i == 0 {
						d.str(v, &r.Path)
					} else {
						d.boolean(v, &r.Readonly)
					}
				})
			})
		case 3:
			d.str(v, &s.Hostname)
		case 4:
			d.str(v, &s.Domainname)
		case 5:
			list(d, v, &s.Mounts, d.mount)
		case 6:
			ptr(v, &s.Hooks, d.hooks)
		case 7:
			d.strMap(v, &s.Annotations)
		case 8:
			ptr(v, &s.Linux, d.linux)
		default:
			d.unhandled(v)
		}
	})
}

func (d *specDecoder) process(v *jv, p *specs.Process) {
	d.fields(v, []string{"terminal", "consoleSize", "user", "args", "commandLine", "env", "cwd", "capabilities", "rlimits",
		"noNewPrivileges", "apparmorProfile", "oomScoreAdj", "selinuxLabel", "scheduler", "ioPriority", "execCPUAffinity"}, func(i int, v *jv) {
		switch i {
		case 0:
			d.boolean(v, &p.Terminal)
		case 1:
			ptr(v, &p.ConsoleSize, func(v *jv, b *specs.Box) {
				d.fields(v, []string{"height", "width"}, func(i int, v *jv) {
					if i == 0 {
						setUint(d, v, &b.Height)
					} else {
						setUint(d, v, &b.Width)
					}
				})
			})
		case 2:
			d.fields(v, []string{"uid", "gid", "umask", "additionalGids", "username"}, func(i int, v *jv) {
				u := &p.User
				switch i {
				case 0:
					setUint(d, v, &u.UID)
				case 1:
					setUint(d, v, &u.GID)
				case 2:
					optUint(d, v, &u.Umask)
				case 3:
					list(d, v, &u.AdditionalGids, func(v *jv, x *uint32) { setUint(d, v, x) })
				case 4:
					d.str(v, &u.Username)
				}
			})
		case 3:
			strList(d, v, &p.Args)
		case 4:
			d.str(v, &p.CommandLine)
		case 5:
			strList(d, v, &p.Env)
		case 6:
			d.str(v, &p.Cwd)
		case 7:
			ptr(v, &p.Capabilities, func(v *jv, c *specs.LinuxCapabilities) {
				sets := []*[]string{&c.Bounding, &c.Effective, &c.Inheritable, &c.Permitted, &c.Ambient}
				d.fields(v, []string{"bounding", "effective", "inheritable", "permitted", "ambient"}, func(i int, v *jv) {
					strList(d, v, sets[i])
				})
			})
		case 8:
			list(d, v, &p.Rlimits, func(v *jv, r *specs.POSIXRlimit) {
				d.fields(v, []string{"type", "hard", "soft"}, func(i int, v *jv) {
					switch i {
					case 0:
						d.str(v, &r.Type)
					case 1:
						setUint(d, v, &r.Hard)
					case 2:
						setUint(d, v, &r.Soft)
					}
				})
			})
		case 9:
			d.boolean(v, &p.NoNewPrivileges)
		case 10:
			d.str(v, &p.ApparmorProfile)
		case 11:
			optInt(d, v, &p.OOMScoreAdj)
		case 12:
			d.str(v, &p.SelinuxLabel)
		default:
			d.unhandled(v)
		}
	})
}

func (d *specDecoder) idMap(v *jv, m *specs.LinuxIDMapping) {
	d.fields(v, []string{"containerID", "hostID", "size"}, func(i int, v *jv) {
		switch i {
		case 0:
			setUint(d, v, &m.ContainerID)
		case 1:
			setUint(d, v, &m.HostID)
		case 2:
			setUint(d, v, &m.Size)
		}
	})
}

func (d *specDecoder) mount(v *jv, m *specs.Mount) {
	d.fields(v, []string{"destination", "type", "source", "options", "uidMappings", "gidMappings"}, func(i int, v *jv) {
		switch i {
		case 0:
			d.str(v, &m.Destination)
		case 1:
			d.str(v, &m.Type)
		case 2:
			d.str(v, &m.Source)
		case 3:
			strList(d, v, &m.Options)
		case 4:
			list(d, v, &m.UIDMappings, d.idMap)
		case 5:
			list(d, v, &m.GIDMappings, d.idMap)
		}
	})
}

func (d *specDecoder) hooks(v *jv, h *specs.Hooks) {
	lists := []*[]specs.Hook{&h.Prestart, &h.CreateRuntime, &h.CreateContainer, &h.StartContainer, &h.Poststart, &h.Poststop}
	d.fields(v, []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}, func(i int, v *jv) {
		list(d, v, lists[i], func(v *jv, h *specs.Hook) {
			d.fields(v, []string{"path", "args", "env", "timeout"}, func(i int, v *jv) {
				switch i {
				case 0:
					d.str(v, &h.Path)
				case 1:
					strList(d, v, &h.Args)
				case 2:
					strList(d, v, &h.Env)
				case 3:
					optInt(d, v, &h.Timeout)
				}
			})
		})
	})
}

func (d *specDecoder) linux(v *jv, l *specs.Linux) {
	d.fields(v, []string{"uidMappings", "gidMappings", "sysctl", "resources", "cgroupsPath", "namespaces", "devices", "seccomp",
		"rootfsPropagation", "maskedPaths", "readonlyPaths", "mountLabel",
		"netDevices", "intelRdt", "memoryPolicy", "personality", "timeOffsets"}, func(i int, v *jv) {
		switch i {
		case 0:
			list(d, v, &l.UIDMappings, d.idMap)
		case 1:
			list(d, v, &l.GIDMappings, d.idMap)
		case 2:
			d.strMap(v, &l.Sysctl)
		case 3:
			ptr(v, &l.Resources, d.resources)
		case 4:
			d.str(v, &l.CgroupsPath)
		case 5:
			list(d, v, &l.Namespaces, func(v *jv, n *specs.LinuxNamespace) {
				d.fields(v, []string{"type", "path"}, func(i int, v *jv) {
					if i == 0 {
						var s string
						d.str(v, &s)
						n.Type = specs.LinuxNamespaceType(s)
					} else {
						d.str(v, &n.Path)
					}
				})
			})
		case 6:
			list(d, v, &l.Devices, d.device)
		case 7:
			ptr(v, &l.Seccomp, d.seccomp)
		case 8:
			d.str(v, &l.RootfsPropagation)
		case 9:
			strList(d, v, &l.MaskedPaths)
		case 10:
			strList(d, v, &l.ReadonlyPaths)
		case 11:
			d.str(v, &l.MountLabel)
		default:
			d.unhandled(v)
		}
	})
}

func (d *specDecoder) device(v *jv, dev *specs.LinuxDevice) {
	d.fields(v, []string{"path", "type", "major", "minor", "fileMode", "uid", "gid"}, func(i int, v *jv) {
		switch i {
		case 0:
			d.str(v, &dev.Path)
		case 1:
			d.str(v, &dev.Type)
		case 2:
			setInt(d, v, &dev.Major)
		case 3:
			setInt(d, v, &dev.Minor)
		case 4:
			optUint(d, v, &dev.FileMode)
		case 5:
			optUint(d, v, &dev.UID)
		case 6:
			optUint(d, v, &dev.GID)
		}
	})
}

func (d *specDecoder) resources(v *jv, r *specs.LinuxResources) {
	d.fields(v, []string{"devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "unified", "network", "rdma"}, func(i int, v *jv) {
		switch i {
		case 0:
			list(d, v, &r.Devices, func(v *jv, c *specs.LinuxDeviceCgroup) {
				d.fields(v, []string{"allow", "type", "major", "minor", "access"}, func(i int, v *jv) {
					switch i {
					case 0:
						d.boolean(v, &c.Allow)
					case 1:
						d.str(v, &c.Type)
					case 2:
						optInt(d, v, &c.Major)
					case 3:
						optInt(d, v, &c.Minor)
					case 4:
						d.str(v, &c.Access)
					}
				})
			})
		case 1:
			ptr(v, &r.Memory, func(v *jv, m *specs.LinuxMemory) {
				ints := []**int64{&m.Limit, &m.Reservation, &m.Swap, &m.Kernel, &m.KernelTCP}
				bools := []**bool{&m.DisableOOMKiller, &m.UseHierarchy, &m.CheckBeforeUpdate}
				d.fields(v, []string{"limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness",
					"disableOOMKiller", "useHierarchy", "checkBeforeUpdate"}, func(i int, v *jv) {
					switch {
					case i < 5:
						optInt(d, v, ints[i])
					case i == 5:
						optUint(d, v, &m.Swappiness)
					default:
						ptr(v, bools[i-6], d.boolean)
					}
				})
			})
		case 2:
			ptr(v, &r.CPU, func(v *jv, c *specs.LinuxCPU) {
				d.fields(v, []string{"shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems", "idle"}, func(i int, v *jv) {
					switch i {
					case 0:
						optUint(d, v, &c.Shares)
					case 1:
						optInt(d, v, &c.Quota)
					case 2:
						optUint(d, v, &c.Burst)
					case 3:
						optUint(d, v, &c.Period)
					case 4:
						optInt(d, v, &c.RealtimeRuntime)
					case 5:
						optUint(d, v, &c.RealtimePeriod)
					case 6:
						d.str(v, &c.Cpus)
					case 7:
						d.str(v, &c.Mems)
					case 8:
						optInt(d, v, &c.Idle)
					}
				})
			})
		case 3:
			ptr(v, &r.Pids, func(v *jv, p *specs.LinuxPids) {
				d.fields(v, []string{"limit"}, func(_ int, v *jv) {
					optInt(d, v, &p.Limit)
				})
			})
		case 4:
			ptr(v, &r.BlockIO, func(v *jv, b *specs.LinuxBlockIO) {
				d.fields(v, []string{"weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
					"throttleReadIOPSDevice", "throttleWriteIOPSDevice"}, func(i int, v *jv) {
					switch i {
					case 0:
						optUint(d, v, &b.Weight)
					case 1:
						optUint(d, v, &b.LeafWeight)
					default:
						d.unhandled(v)
					}
				})
			})
		case 5:
			list(d, v, &r.HugepageLimits, func(v *jv, h *specs.LinuxHugepageLimit) {
				d.fields(v, []string{"pageSize", "limit"}, func(i int, v *jv) {
					if i == 0 {
						d.str(v, &h.Pagesize)
					} else {
						setUint(d, v, &h.Limit)
					}
				})
			})
		case 6:
			d.strMap(v, &r.Unified)
		default:
			d.unhandled(v)
		}
	})
}

func (d *specDecoder) seccomp(v *jv, s *specs.LinuxSeccomp) {
	d.fields(v, []string{"defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata", "syscalls"}, func(i int, v *jv) {
		switch i {
		case 0:
			var a string
			d.str(v, &a)
			s.DefaultAction = specs.LinuxSeccompAction(a)
		case 1:
			optUint(d, v, &s.DefaultErrnoRet)
		case 2:
			strList(d, v, &s.Architectures)
		case 3:
			strList(d, v, &s.Flags)
		case 4:
			d.str(v, &s.ListenerPath)
		case 5:
			d.str(v, &s.ListenerMetadata)
		case 6:
			list(d, v, &s.Syscalls, func(v *jv, sc *specs.LinuxSyscall) {
				d.fields(v, []string{"names", "action", "errnoRet", "args"}, func(i int, v *jv) {
					switch i {
					case 0:
						strList(d, v, &sc.Names)
					case 1:
						var a string
						d.str(v, &a)
						sc.Action = specs.LinuxSeccompAction(a)
					case 2:
						optUint(d, v, &sc.ErrnoRet)
					case 3:
						list(d, v, &sc.Args, func(v *jv, a *specs.LinuxSeccompArg) {
							d.fields(v, []string{"index", "value", "valueTwo", "op"}, func(i int, v *jv) {
								switch i {
								case 0:
									setUint(d, v, &a.Index)
								case 1:
									setUint(d, v, &a.Value)
								case 2:
									setUint(d, v, &a.ValueTwo)
								case 3:
									var op string
									d.str(v, &op)
									a.Op = specs.LinuxSeccompOperator(op)
								}
							})
						})
					}
				})
			})
		}
	})
}
