package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	gosync "sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maxSpecSize bounds config.json: a larger file is refused before parsing.
const maxSpecSize = 16 << 20

// loadSpec reads and parses bundle/config.json. Errors start with
// "config.json:" and say what is wrong: a missing file, a file over
// maxSpecSize, invalid JSON (with the byte offset), a top-level value that is
// not an object, or a value of the wrong type for a field.
// BundleConfig is a bundle's config.json as read by ReadBundleConfig, for a
// caller that needs to know a field before Create and passes it on as
// CreateOpts.Config, so that the file is read once.
type BundleConfig struct {
	data   []byte
	launch *specs.Spec

	decodeOnce gosync.Once
	spec       *specs.Spec
	decodeErr  error
}

// DecodeAhead starts decoding the whole spec on a goroutine of its own, for
// Create to find done: about a millisecond in a fresh process
// (encoding/json builds its codecs for every type a spec can hold), while
// the caller's way to the start of the init leaves the second CPU idle. A
// spec fastDecodeSpec took is decoded already.
func (b *BundleConfig) DecodeAhead() {
	if b.spec != nil {
		return
	}
	go func() { _, _ = b.decoded() }()
}

// decoded is the whole spec, decoded once (by decodeLaunch, when
// fastDecodeSpec took it).
func (b *BundleConfig) decoded() (*specs.Spec, error) {
	b.decodeOnce.Do(func() { b.spec, b.decodeErr = parseSpecJSON(b.data) })
	return b.spec, b.decodeErr
}

// ReadBundleConfig reads bundle's config.json; Create decodes and validates
// it.
func ReadBundleConfig(bundle string) (*BundleConfig, error) {
	abs, err := absPath(bundle)
	if err != nil {
		return nil, err
	}
	data, err := readSpecFile(abs)
	if err != nil {
		return nil, err
	}
	b := &BundleConfig{data: data}
	var whole *specs.Spec
	if b.launch, whole = decodeLaunch(data); whole != nil {
		b.decodeOnce.Do(func() { b.spec = whole })
	}
	return b, nil
}

// decodeLaunch returns what Create needs of the spec before the init is
// started (see parseLaunchSpec), and the whole spec when fastDecodeSpec
// takes it, in a tenth of a millisecond: then launch is that spec, or nil
// if it has no process or linux section, as parseLaunchSpec says.
func decodeLaunch(data []byte) (launch, whole *specs.Spec) {
	if s, ok := fastDecodeSpec(data); ok {
		if s.Process == nil || s.Linux == nil {
			return nil, s
		}
		return s, s
	}
	return parseLaunchSpec(data), nil
}

// Terminal says whether the process asks for a terminal (false when the
// config does not decode: Create reports that).
func (b *BundleConfig) Terminal() bool {
	return b.launch != nil && b.launch.Process != nil && b.launch.Process.Terminal
}

func loadSpec(bundle string) (*specs.Spec, error) {
	data, err := readSpecFile(bundle)
	if err != nil {
		return nil, err
	}
	return parseSpec(data)
}

// readSpecFile reads bundle/config.json; see loadSpec.
func readSpecFile(bundle string) ([]byte, error) {
	path := path.Join(bundle, "config.json")
	// Plain system calls, on the critical path of every create and run:
	// os.Open registers a file with Go's poller first (four more calls),
	// io.ReadAll reads from 512 bytes up. O_NONBLOCK: a FIFO is refused,
	// not waited on.
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		if err == unix.ENOENT {
			return nil, fmt.Errorf("config.json: no such file in bundle %s", bundle)
		}
		return nil, fmt.Errorf("config.json: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("config.json: %w", &os.PathError{Op: "stat", Path: path, Err: err})
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("config.json: %s is not a regular file", path)
	}
	// One read as a rule: the size known, and a byte more to see the end.
	data := make([]byte, 0, min(st.Size, maxSpecSize)+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := unix.Read(fd, data[len(data):cap(data)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("config.json: read %s: %w", path, err)
		}
		if n == 0 {
			return data, nil
		}
		data = data[:len(data)+n]
		if len(data) > maxSpecSize {
			return nil, fmt.Errorf("config.json: %s is larger than %d MiB", path, maxSpecSize>>20)
		}
	}
}

// launchSpec is the part of a spec that starting the container's init
// reads (Create): decoding only it takes a tenth of a millisecond in a
// fresh process, where a whole specs.Spec takes about one (encoding/json
// builds its field tables for every type a spec can hold).
type launchSpec struct {
	Process *struct {
		Terminal bool `json:"terminal"`
	} `json:"process"`
	Linux *struct {
		Namespaces  []specs.LinuxNamespace `json:"namespaces"`
		UIDMappings []specs.LinuxIDMapping `json:"uidMappings"`
		GIDMappings []specs.LinuxIDMapping `json:"gidMappings"`
		CgroupsPath string                 `json:"cgroupsPath"`
		Resources   *struct {
			Pids *specs.LinuxPids `json:"pids"`
		} `json:"resources"`
	} `json:"linux"`
}

// parseLaunchSpec decodes the launchSpec part of config.json's bytes into a
// specs.Spec that has only those fields, or returns nil when they do not
// decode or the spec has no process or linux section (Create then decodes
// and validates the whole spec first, and says what is wrong).
func parseLaunchSpec(data []byte) *specs.Spec {
	var l launchSpec
	if err := json.Unmarshal(data, &l); err != nil || l.Process == nil || l.Linux == nil {
		return nil
	}
	s := &specs.Spec{
		Process: &specs.Process{Terminal: l.Process.Terminal},
		Linux: &specs.Linux{Namespaces: l.Linux.Namespaces, UIDMappings: l.Linux.UIDMappings,
			GIDMappings: l.Linux.GIDMappings, CgroupsPath: l.Linux.CgroupsPath},
	}
	if r := l.Linux.Resources; r != nil && r.Pids != nil {
		s.Linux.Resources = &specs.LinuxResources{Pids: r.Pids}
	}
	return s
}

// parseSpec decodes config.json's bytes; see loadSpec.
func parseSpec(data []byte) (*specs.Spec, error) {
	if s, ok := fastDecodeSpec(data); ok {
		return s, nil
	}
	return parseSpecJSON(data)
}

// parseSpecJSON is parseSpec with encoding/json alone, for bytes
// fastDecodeSpec has not taken (decodeLaunch tried it).
func parseSpecJSON(data []byte) (*specs.Spec, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	// The top level must be an object: not null, an array or a scalar.
	tok, err := dec.Token()
	if err != nil {
		return nil, specJSONError(err, int64(len(data)))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("config.json: invalid JSON at offset 0: top-level value must be an object, got %s", jsonKind(tok))
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	var spec specs.Spec
	if err := dec.Decode(&spec); err != nil {
		return nil, specJSONError(err, int64(len(data)))
	}
	// Nothing but white space may follow the object.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("config.json: invalid JSON at offset %d: data after the top-level object", dec.InputOffset())
	}
	return &spec, nil
}

// specJSONError formats a json decoding error with its byte offset; end is
// the input's length, where an unexpected end of input is reported.
func specJSONError(err error, end int64) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("config.json: invalid JSON at offset %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("config.json: invalid JSON at offset %d: %s: cannot use a JSON %s as %s", typ.Offset, field, typ.Value, typ.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("config.json: invalid JSON at offset %d: unexpected end of input", end)
	}
	return fmt.Errorf("config.json: invalid JSON: %w", err)
}

// jsonKind names the JSON type of a json.Token.
func jsonKind(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return string(v)
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// validateSpec checks a bundle's config before anything is created and
// returns a one-line error, starting with "config.json:", naming the first
// offending field. It follows runc's validation where runc has one; things
// only the kernel can judge (mount options, device numbers, cgroup values
// within range) are left to the operations that apply them.
func validateSpec(spec *specs.Spec, bundle string) error {
	if spec == nil {
		return errors.New("config.json: empty config")
	}
	checks := []func(*specs.Spec, string) error{
		validateVersion,
		validateRoot,
		validateProcess,
		validateNamespaces,
		validateIDMappings,
		validateUTS,
		validateSysctl,
		validateMounts,
		validateLinuxPaths,
		validateDevices,
		validateResources,
		validateHooks,
	}
	for _, check := range checks {
		if err := check(spec, bundle); err != nil {
			return fmt.Errorf("config.json: %w", err)
		}
	}
	return nil
}

// ociVersion1 reports whether v is a runtime-spec version this runtime
// implements: `^1\.[0-9]+(\.[0-9]+)?([-+].*)?$` (1.x, 1.x.y, with an optional
// pre-release or build suffix on the same line).
func ociVersion1(v string) bool {
	rest, ok := strings.CutPrefix(v, "1.")
	if !ok {
		return false
	}
	digits := func(s string) (string, bool) {
		i := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return s[i:], i > 0
	}
	if rest, ok = digits(rest); !ok {
		return false
	}
	if after, found := strings.CutPrefix(rest, "."); found {
		if rest, ok = digits(after); !ok {
			return false
		}
	}
	return rest == "" || (rest[0] == '-' || rest[0] == '+') && !strings.Contains(rest, "\n")
}

func validateVersion(spec *specs.Spec, _ string) error {
	if spec.Version == "" {
		return errors.New("ociVersion is required")
	}
	if !ociVersion1(spec.Version) {
		return fmt.Errorf("ociVersion %q is not supported (want 1.x)", spec.Version)
	}
	return nil
}

func validateRoot(spec *specs.Spec, bundle string) error {
	if spec.Root == nil {
		return errors.New("root is required")
	}
	if spec.Root.Path == "" {
		return errors.New("root.path is required")
	}
	p := spec.Root.Path
	if !path.IsAbs(p) {
		p = path.Join(bundle, p)
	}
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("root.path: %s: no such directory", p)
	case err != nil:
		return fmt.Errorf("root.path: %w", err)
	case !st.IsDir():
		return fmt.Errorf("root.path: %s: not a directory", p)
	}
	return nil
}

func validateProcess(spec *specs.Spec, _ string) error {
	p := spec.Process
	if p == nil {
		return errors.New("process is required")
	}
	if len(p.Args) == 0 {
		return errors.New("process.args must not be empty")
	}
	if p.Args[0] == "" {
		return errors.New("process.args[0] must not be empty")
	}
	for i, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("process.args[%d]: contains a NUL byte", i)
		}
	}
	for i, e := range p.Env {
		if strings.IndexByte(e, 0) >= 0 {
			return fmt.Errorf("process.env[%d]: contains a NUL byte", i)
		}
	}
	if p.Cwd == "" {
		return errors.New("process.cwd is required")
	}
	if !path.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd: %q is not an absolute path", p.Cwd)
	}
	if _, err := newProcessCaps(p.Capabilities); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, rl := range p.Rlimits {
		if _, err := parseRlimit(rl.Type); err != nil {
			return fmt.Errorf("process.rlimits[%d].type: %w", i, err)
		}
		if seen[rl.Type] {
			return fmt.Errorf("process.rlimits[%d].type: duplicate rlimit %s", i, rl.Type)
		}
		seen[rl.Type] = true
		if rl.Soft > rl.Hard {
			return fmt.Errorf("process.rlimits[%d]: %s soft limit %d is above the hard limit %d", i, rl.Type, rl.Soft, rl.Hard)
		}
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return fmt.Errorf("process.oomScoreAdj: %d is outside -1000..1000", *p.OOMScoreAdj)
	}
	if p.ApparmorProfile != "" && !apparmorEnabled() {
		return fmt.Errorf("process.apparmorProfile: %q is set but AppArmor is not enabled on this host", p.ApparmorProfile)
	}
	if iop := p.IOPriority; iop != nil {
		switch iop.Class {
		case specs.IOPRIO_CLASS_RT, specs.IOPRIO_CLASS_BE, specs.IOPRIO_CLASS_IDLE:
		default:
			return fmt.Errorf("process.ioPriority.class: unknown class %q", iop.Class)
		}
		if iop.Priority < 0 || iop.Priority > 7 {
			return fmt.Errorf("process.ioPriority.priority: %d is outside 0..7", iop.Priority)
		}
	}
	if p.User.Umask != nil && *p.User.Umask > 0o777 {
		return fmt.Errorf("process.user.umask: %#o is not a permission mask", *p.User.Umask)
	}
	return nil
}

// apparmorEnabled reports whether the host's AppArmor LSM is enabled.
func apparmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && len(b) > 0 && b[0] == 'Y'
}

// nsCloneFlag maps namespace types to their CLONE_NEW* flag, which is also
// what the NS_GET_NSTYPE ioctl returns.
var nsCloneFlag = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// nsProcName is the name of each namespace type under /proc/self/ns.
var nsProcName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.MountNamespace:   "mnt",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.UserNamespace:    "user",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

func validateNamespaces(spec *specs.Spec, _ string) error {
	if spec.Linux == nil {
		return nil
	}
	seen := map[specs.LinuxNamespaceType]int{}
	for i, ns := range spec.Linux.Namespaces {
		field := fmt.Sprintf("linux.namespaces[%d]", i)
		flag, ok := nsCloneFlag[ns.Type]
		if !ok {
			return fmt.Errorf("%s.type: unknown namespace %q", field, ns.Type)
		}
		if j, dup := seen[ns.Type]; dup {
			return fmt.Errorf("%s.type: duplicate namespace %q (also linux.namespaces[%d])", field, ns.Type, j)
		}
		seen[ns.Type] = i
		if _, err := os.Lstat("/proc/self/ns/" + nsProcName[ns.Type]); err != nil {
			return fmt.Errorf("%s.type: %s namespaces are not supported by this kernel", field, ns.Type)
		}
		if ns.Path == "" {
			continue
		}
		if !path.IsAbs(ns.Path) {
			return fmt.Errorf("%s.path: %q is not an absolute path", field, ns.Path)
		}
		if err := checkNamespaceFile(ns.Path, flag); err != nil {
			return fmt.Errorf("%s.path: %w", field, err)
		}
	}
	if ns, ok := specNamespace(spec, specs.TimeNamespace); len(spec.Linux.TimeOffsets) > 0 {
		if !ok {
			return errors.New("linux.timeOffsets: set but there is no time namespace")
		}
		if ns != "" {
			return errors.New("linux.timeOffsets: cannot be set when joining an existing time namespace")
		}
		for clock := range spec.Linux.TimeOffsets {
			if clock != "monotonic" && clock != "boottime" {
				return fmt.Errorf("linux.timeOffsets: unknown clock %q (want monotonic or boottime)", clock)
			}
		}
	}
	return nil
}

// checkNamespaceFile checks that path is a namespace file (on nsfs) of the
// type whose CLONE_NEW* flag is flag, with the NS_GET_NSTYPE ioctl.
func checkNamespaceFile(path string, flag int) error {
	// Only nsfs files are opened: opening an arbitrary path as root can
	// have side effects (a device such as a watchdog, a FIFO).
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%s: no such namespace file", path)
		}
		return &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	if sfs.Type != unix.NSFS_MAGIC {
		return fmt.Errorf("%s: not a namespace file", path)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	got, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil {
		if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("%s: not a namespace file", path)
		}
		return &os.PathError{Op: "ioctl NS_GET_NSTYPE", Path: path, Err: err}
	}
	if got != flag {
		for t, f := range nsCloneFlag {
			if f == got {
				return fmt.Errorf("%s: is a %s namespace", path, t)
			}
		}
		return fmt.Errorf("%s: is a namespace of another type (%#x)", path, got)
	}
	return nil
}

func validateIDMappings(spec *specs.Spec, _ string) error {
	l := spec.Linux
	if l == nil {
		return nil
	}
	path, userns := specNamespace(spec, specs.UserNamespace)
	if !userns {
		if len(l.UIDMappings) > 0 {
			return errors.New("linux.uidMappings: set but there is no user namespace")
		}
		if len(l.GIDMappings) > 0 {
			return errors.New("linux.gidMappings: set but there is no user namespace")
		}
		return nil
	}
	if path != "" {
		// Joining: the mappings are the namespace's own.
		return nil
	}
	if len(l.UIDMappings) == 0 {
		return errors.New("linux.uidMappings: a new user namespace needs uid mappings")
	}
	if len(l.GIDMappings) == 0 {
		return errors.New("linux.gidMappings: a new user namespace needs gid mappings")
	}
	for _, m := range []struct {
		field string
		maps  []specs.LinuxIDMapping
	}{{"linux.uidMappings", l.UIDMappings}, {"linux.gidMappings", l.GIDMappings}} {
		for i, e := range m.maps {
			if e.Size == 0 {
				return fmt.Errorf("%s[%d].size: must not be 0", m.field, i)
			}
		}
	}
	if spec.Process == nil {
		return nil
	}
	u := spec.Process.User
	if !idMapped(l.UIDMappings, u.UID) {
		return fmt.Errorf("process.user.uid: %d is not mapped in linux.uidMappings", u.UID)
	}
	if !idMapped(l.GIDMappings, u.GID) {
		return fmt.Errorf("process.user.gid: %d is not mapped in linux.gidMappings", u.GID)
	}
	for i, g := range u.AdditionalGids {
		if !idMapped(l.GIDMappings, g) {
			return fmt.Errorf("process.user.additionalGids[%d]: %d is not mapped in linux.gidMappings", i, g)
		}
	}
	return nil
}

// idMapped reports whether the container id is inside one of the mappings.
func idMapped(maps []specs.LinuxIDMapping, id uint32) bool {
	for _, m := range maps {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return true
		}
	}
	return false
}

func validateUTS(spec *specs.Spec, _ string) error {
	if specHasNamespace(spec, specs.UTSNamespace) {
		return nil
	}
	if spec.Hostname != "" {
		return errors.New("hostname: cannot be set without a uts namespace")
	}
	if spec.Domainname != "" {
		return errors.New("domainname: cannot be set without a uts namespace")
	}
	return nil
}

// validateMounts checks mount destinations. A relative destination is
// accepted and resolved against the container's "/", as runc does.
func validateMounts(spec *specs.Spec, _ string) error {
	for i, m := range spec.Mounts {
		if m.Destination == "" {
			return fmt.Errorf("mounts[%d].destination is required", i)
		}
		if strings.IndexByte(m.Destination, 0) >= 0 || strings.IndexByte(m.Source, 0) >= 0 {
			return fmt.Errorf("mounts[%d]: contains a NUL byte", i)
		}
		for j, o := range m.Options {
			if strings.IndexByte(o, 0) >= 0 {
				return fmt.Errorf("mounts[%d].options[%d]: contains a NUL byte", i, j)
			}
		}
	}
	return nil
}

var validPropagation = map[string]bool{
	"": true, "shared": true, "slave": true, "private": true, "unbindable": true,
	"rshared": true, "rslave": true, "rprivate": true, "runbindable": true,
}

// validateLinuxPaths checks the path lists and modes of the linux section.
func validateLinuxPaths(spec *specs.Spec, _ string) error {
	l := spec.Linux
	if l == nil {
		return nil
	}
	if !validPropagation[l.RootfsPropagation] {
		return fmt.Errorf("linux.rootfsPropagation: unknown propagation %q", l.RootfsPropagation)
	}
	for i, p := range l.MaskedPaths {
		if !path.IsAbs(p) {
			return fmt.Errorf("linux.maskedPaths[%d]: %q is not an absolute path", i, p)
		}
	}
	for i, p := range l.ReadonlyPaths {
		if !path.IsAbs(p) {
			return fmt.Errorf("linux.readonlyPaths[%d]: %q is not an absolute path", i, p)
		}
	}
	if l.Personality != nil {
		switch l.Personality.Domain {
		case specs.PerLinux, specs.PerLinux32:
		default:
			return fmt.Errorf("linux.personality.domain: unknown domain %q", l.Personality.Domain)
		}
	}
	if l.IntelRdt != nil {
		return errors.New("linux.intelRdt: not supported by berth")
	}
	return nil
}

func validateDevices(spec *specs.Spec, _ string) error {
	if spec.Linux == nil {
		return nil
	}
	for i, d := range spec.Linux.Devices {
		field := fmt.Sprintf("linux.devices[%d]", i)
		if !path.IsAbs(d.Path) {
			return fmt.Errorf("%s.path: %q is not an absolute path", field, d.Path)
		}
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return fmt.Errorf("%s.type: unknown device type %q (want c, b, u or p)", field, d.Type)
		}
		if d.Major < 0 || d.Minor < 0 {
			return fmt.Errorf("%s: negative major or minor number", field)
		}
	}
	return nil
}

func validateResources(spec *specs.Spec, _ string) error {
	if spec.Linux == nil || spec.Linux.Resources == nil {
		return nil
	}
	r := spec.Linux.Resources
	for i, d := range r.Devices {
		field := fmt.Sprintf("linux.resources.devices[%d]", i)
		switch d.Type {
		case "", "a", "b", "c":
		default:
			return fmt.Errorf("%s.type: unknown device type %q (want a, b or c)", field, d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return fmt.Errorf("%s.access: %q is not a combination of r, w and m", field, d.Access)
		}
	}
	if m := r.Memory; m != nil {
		for _, v := range []struct {
			name string
			val  *int64
		}{{"limit", m.Limit}, {"reservation", m.Reservation}, {"swap", m.Swap}, {"kernel", m.Kernel}, {"kernelTCP", m.KernelTCP}} {
			if v.val != nil && *v.val < -1 {
				return fmt.Errorf("linux.resources.memory.%s: %d is negative (only -1, unlimited, is allowed)", v.name, *v.val)
			}
		}
		if m.Limit != nil && m.Swap != nil && *m.Limit > 0 && *m.Swap > 0 && *m.Swap < *m.Limit {
			return fmt.Errorf("linux.resources.memory.swap: %d is below memory.limit %d (swap is memory plus swap)", *m.Swap, *m.Limit)
		}
		if m.Swappiness != nil && *m.Swappiness > 100 {
			return fmt.Errorf("linux.resources.memory.swappiness: %d is outside 0..100", *m.Swappiness)
		}
	}
	if c := r.CPU; c != nil && c.Quota != nil && *c.Quota < -1 {
		return fmt.Errorf("linux.resources.cpu.quota: %d is negative (only -1, unlimited, is allowed)", *c.Quota)
	}
	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit < -1 {
		return fmt.Errorf("linux.resources.pids.limit: %d is negative (only -1, unlimited, is allowed)", *p.Limit)
	}
	if b := r.BlockIO; b != nil && b.Weight != nil && *b.Weight != 0 && (*b.Weight < 10 || *b.Weight > 1000) {
		return fmt.Errorf("linux.resources.blockIO.weight: %d is outside 10..1000", *b.Weight)
	}
	return nil
}

func validateHooks(spec *specs.Spec, _ string) error {
	h := spec.Hooks
	if h == nil {
		return nil
	}
	for _, set := range []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, //nolint:staticcheck // deprecated but still run
		{"createRuntime", h.CreateRuntime},
		{"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer},
		{"poststart", h.Poststart},
		{"poststop", h.Poststop},
	} {
		for i, hk := range set.hooks {
			if !path.IsAbs(hk.Path) {
				return fmt.Errorf("hooks.%s[%d].path: %q is not an absolute path", set.name, i, hk.Path)
			}
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				return fmt.Errorf("hooks.%s[%d].timeout: %d must be positive", set.name, i, *hk.Timeout)
			}
		}
	}
	return nil
}
