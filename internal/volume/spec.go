package volume

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
)

// MountPoint is a parsed and validated mount request of a container, from
// -v (ParseVolumeSpec) or --mount (ValidateMount).
type MountPoint struct {
	Type        mount.Type        // bind, volume, tmpfs or image
	Source      string            // bind: cleaned host path; volume: name, "" for anonymous; image: its reference
	Destination string            // cleaned absolute path in the container
	RW          bool              // false for ro / readonly
	Mode        string            // -v's third field as given ("ro,z"), "" otherwise
	Propagation mount.Propagation // bind: rprivate unless asked
	CopyData    bool              // volume: copy the image's content up (not nocopy)
	Spec        mount.Mount       // the request, as inspect's HostConfig.Mounts shows it
}

var (
	rwModes          = map[string]bool{"rw": true, "ro": true}
	labelModes       = map[string]bool{"z": true, "Z": true}
	consistencyModes = map[mount.Consistency]bool{mount.ConsistencyFull: true, mount.ConsistencyCached: true, mount.ConsistencyDelegated: true}
	propagationModes = map[mount.Propagation]bool{
		mount.PropagationPrivate: true, mount.PropagationRPrivate: true, mount.PropagationSlave: true,
		mount.PropagationRSlave: true, mount.PropagationShared: true, mount.PropagationRShared: true,
	}
)

// errVolumeTargetIsRoot is dockerd's refusal of "/" as a destination.
var errVolumeTargetIsRoot = errors.New("invalid specification: destination can't be '/'")

func invalidSpec(raw string) error {
	return fmt.Errorf("invalid volume specification: '%s'", raw)
}

// validMode tells whether mode is a comma list with at most one of each
// kind: rw/ro, z/Z, a propagation, nocopy, a consistency.
func validMode(mode string) bool {
	if mode == "" {
		return true
	}
	var rw, label, prop, cp, cons int
	for _, o := range strings.Split(mode, ",") {
		switch {
		case rwModes[o]:
			rw++
		case labelModes[o]:
			label++
		case propagationModes[mount.Propagation(o)]:
			prop++
		case o == "nocopy":
			cp++
		case consistencyModes[mount.Consistency(o)]:
			cons++
		default:
			return false
		}
	}
	return rw <= 1 && label <= 1 && prop <= 1 && cp <= 1 && cons <= 1
}

func hasMode(mode, want string) bool {
	for _, o := range strings.Split(mode, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// ParseVolumeSpec parses a -v value (HostConfig.Binds entry or a
// Config.Volumes key) with dockerd's Linux rules and messages:
// DEST (anonymous volume), SRC:DEST or SRC:DEST:MODE, where SRC is an
// absolute host path (bind) or a volume name, and MODE a comma list of
// rw|ro, z|Z, a propagation (bind only effect), nocopy and a consistency.
// Errors are errdefs.ErrInvalidArgument. A bind source need not exist
// (dockerd creates it); see BindDaemonRoot for the data-root rule.
func ParseVolumeSpec(raw string) (*MountPoint, error) {
	mp, err := parseVolumeSpec(raw)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	return mp, nil
}

func parseVolumeSpec(raw string) (*MountPoint, error) {
	arr := strings.SplitN(raw, ":", 4)
	if arr[0] == "" {
		return nil, invalidSpec(raw)
	}
	var spec mount.Mount
	var mode string
	switch len(arr) {
	case 1:
		spec.Target = arr[0]
	case 2:
		if validMode(arr[1]) {
			// DEST:MODE is no volume: volumes take no mode alone.
			return nil, invalidSpec(raw)
		}
		spec.Source, spec.Target = arr[0], arr[1]
	case 3:
		spec.Source, spec.Target, mode = arr[0], arr[1], arr[2]
	default:
		return nil, invalidSpec(raw)
	}
	if !validMode(mode) {
		return nil, fmt.Errorf("invalid mode: %v", mode)
	}
	spec.Type = mount.TypeVolume
	if path.IsAbs(spec.Source) {
		spec.Type = mount.TypeBind
	}
	spec.ReadOnly = hasMode(mode, "ro")
	if hasMode(mode, "nocopy") {
		spec.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
	}
	for _, o := range strings.Split(mode, ",") {
		if propagationModes[mount.Propagation(o)] {
			spec.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(o)}
		}
	}
	mp, err := validateMount(spec, false)
	if err != nil {
		return nil, fmt.Errorf("%v: %v", invalidSpec(raw), err)
	}
	mp.Mode = mode
	if mode == "" && spec.Type == mount.TypeVolume {
		mp.Mode = "z" // dockerd's mode of a -v volume of the local driver
	}
	return mp, nil
}

// ValidateMount checks one HostConfig.Mounts entry as dockerd does
// (a bind source must exist) and returns its mount point. Errors are
// errdefs.ErrInvalidArgument, worded "invalid mount config for type ...".
func ValidateMount(m mount.Mount) (*MountPoint, error) {
	mp, err := validateMount(m, true)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	return mp, nil
}

func validateMount(m mount.Mount, bindSourceMustExist bool) (*MountPoint, error) {
	bad := func(err error) error { return fmt.Errorf("invalid mount config for type %q: %v", m.Type, err) }
	if m.Target == "" {
		return nil, bad(errors.New("field Target must not be empty"))
	}
	if path.Clean(m.Target) == "/" {
		return nil, bad(errVolumeTargetIsRoot)
	}
	if !path.IsAbs(m.Target) {
		return nil, bad(fmt.Errorf("invalid mount path: '%s' mount path must be absolute", m.Target))
	}
	mp := &MountPoint{Type: m.Type, RW: !m.ReadOnly, Destination: path.Clean(m.Target), Spec: m}
	switch m.Type {
	case mount.TypeBind:
		if m.Source == "" {
			return nil, bad(errors.New("field Source must not be empty"))
		}
		if m.BindOptions != nil && m.BindOptions.Propagation != "" && !propagationModes[m.BindOptions.Propagation] {
			return nil, bad(fmt.Errorf("invalid propagation mode: %s", m.BindOptions.Propagation))
		}
		if m.VolumeOptions != nil {
			return nil, bad(errors.New("field VolumeOptions must not be specified"))
		}
		if m.TmpfsOptions != nil {
			return nil, bad(errors.New("field TmpfsOptions must not be specified"))
		}
		if !path.IsAbs(m.Source) {
			return nil, bad(fmt.Errorf("invalid mount path: '%s' mount path must be absolute", m.Source))
		}
		if bindSourceMustExist {
			if _, err := os.Stat(m.Source); err != nil {
				create := m.BindOptions != nil && m.BindOptions.CreateMountpoint
				if !os.IsNotExist(err) {
					return nil, bad(err)
				}
				if !create {
					return nil, bad(fmt.Errorf("bind source path does not exist: %s", m.Source))
				}
			}
		}
		mp.Source = path.Clean(m.Source)
		mp.Propagation = mount.PropagationRPrivate
		if m.BindOptions != nil && m.BindOptions.Propagation != "" {
			mp.Propagation = m.BindOptions.Propagation
		}
	case mount.TypeVolume:
		if m.BindOptions != nil {
			return nil, bad(errors.New("field BindOptions must not be specified"))
		}
		if m.TmpfsOptions != nil {
			return nil, bad(errors.New("field TmpfsOptions must not be specified"))
		}
		if m.Source == "" && m.ReadOnly {
			return nil, bad(errors.New("must not set ReadOnly mode when using anonymous volumes"))
		}
		if m.VolumeOptions != nil && m.VolumeOptions.Subpath != "" {
			if m.Source == "" {
				return nil, bad(errors.New("must not set Subpath when using anonymous volumes"))
			}
			if !filepath.IsLocal(m.VolumeOptions.Subpath) {
				return nil, bad(errors.New("subpath must be a relative path within the volume"))
			}
		}
		mp.Source = m.Source
		mp.CopyData = m.VolumeOptions == nil || !m.VolumeOptions.NoCopy
	case mount.TypeTmpfs:
		if m.BindOptions != nil {
			return nil, bad(errors.New("field BindOptions must not be specified"))
		}
		if m.VolumeOptions != nil {
			return nil, bad(errors.New("field VolumeOptions must not be specified"))
		}
		if m.Source != "" {
			return nil, bad(errors.New("field Source must not be specified"))
		}
		if _, err := TmpfsOptions(m.TmpfsOptions, m.ReadOnly); err != nil {
			return nil, bad(err)
		}
	case mount.TypeImage:
		// Another image's filesystem, read-only (API 1.48, Docker 28).
		if m.Source == "" {
			return nil, bad(errors.New("field Source must not be empty"))
		}
		if m.BindOptions != nil {
			return nil, bad(errors.New("field BindOptions must not be specified"))
		}
		if m.VolumeOptions != nil {
			return nil, bad(errors.New("field VolumeOptions must not be specified"))
		}
		if m.TmpfsOptions != nil {
			return nil, bad(errors.New("field TmpfsOptions must not be specified"))
		}
		if o := m.ImageOptions; o != nil && o.Subpath != "" && !filepath.IsLocal(o.Subpath) {
			return nil, bad(errors.New("subpath must be a relative path within the volume")) // dockerd's words, for images too
		}
		mp.Source = m.Source
		mp.RW = false
	default:
		return nil, bad(errors.New("mount type unknown"))
	}
	return mp, nil
}

// TmpfsOptions is the mount data of a tmpfs mount: ro, mode=OCTAL and
// size=N[kmg] (the largest unit that divides it), then exec/noexec.
func TmpfsOptions(o *mount.TmpfsOptions, readOnly bool) (string, error) {
	var opts []string
	if readOnly {
		opts = append(opts, "ro")
	}
	if o != nil && o.Mode != 0 {
		opts = append(opts, fmt.Sprintf("mode=%o", o.Mode))
	}
	if o != nil && o.SizeBytes != 0 {
		size, suffix := o.SizeBytes, ""
		for _, u := range []struct {
			s string
			d int64
		}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
			if size%u.d == 0 {
				size, suffix = size/u.d, u.s
				break
			}
		}
		opts = append(opts, fmt.Sprintf("size=%d%s", size, suffix))
	}
	if o != nil {
		for _, kv := range o.Options {
			if len(kv) < 1 || len(kv) > 2 {
				return "", errors.New("invalid option array length")
			}
			if kv[0] != "exec" && kv[0] != "noexec" {
				return "", errors.New("invalid option: " + kv[0])
			}
			opts = append(opts, strings.Join(kv, "="))
		}
	}
	return strings.Join(opts, ","), nil
}

// CheckBindSource refuses a bind source that is, or resolves (through
// symlinks and "..") to, a path inside dataRoot: a bind volume's device must
// not reach other containers' layers, volumes or the daemon's metadata that
// way. A source that does not exist yet is judged by its nearest existing
// parent. The error is errdefs.ErrInvalidArgument naming the source.
func CheckBindSource(dataRoot, source string) error {
	root, src, err := resolveBoth(dataRoot, source)
	if err != nil {
		return err
	}
	if within(root, src) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config for type \"bind\": bind source path %s is inside the daemon's data root %s", source, dataRoot))
	}
	return nil
}

// BindDaemonRoot applies dockerd's rule to a container's bind mount m whose
// source is inside dataRoot or holds it (as -v /:/host does): the bind must
// propagate unmounts from the host, so that the container never keeps the
// host's container and image mounts busy. Without a propagation it gets
// rslave (needsRSlave); rslave and rshared are kept; any other propagation
// is refused with dockerd's message (errdefs.ErrInvalidArgument). Symlinks
// in both paths are resolved first. Other mounts are left alone.
func BindDaemonRoot(dataRoot string, m mount.Mount) (needsRSlave bool, err error) {
	if m.Type != mount.TypeBind {
		return false, nil
	}
	root, src, err := resolveBoth(dataRoot, m.Source)
	if err != nil {
		return false, err
	}
	if !within(root, src) && !within(src, root) {
		return false, nil
	}
	var prop mount.Propagation
	if m.BindOptions != nil {
		prop = m.BindOptions.Propagation
	}
	switch prop {
	case "":
		return true, nil
	case mount.PropagationRSlave, mount.PropagationRShared:
		return false, nil
	}
	return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config: must use either propagation mode \"rslave\" or \"rshared\" when mount source is within the daemon root, daemon root: %q, bind mount source: %q, propagation: %q", dataRoot, m.Source, prop))
}

func resolveBoth(dataRoot, source string) (root, src string, err error) {
	if root, err = resolveExisting(dataRoot); err != nil {
		return "", "", fmt.Errorf("data root %s: %w", dataRoot, err)
	}
	if src, err = resolveExisting(source); err != nil {
		return "", "", fmt.Errorf("bind source %s: %w", source, err)
	}
	return root, src, nil
}

// within reports whether p is dir or a path below it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel) || p == dir
}

// resolveExisting resolves symlinks of the longest existing prefix of p
// and appends the rest, cleaned.
func resolveExisting(p string) (string, error) {
	p, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !os.IsNotExist(err) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest), nil
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// ParseMountSpec parses a --mount value as docker's CLI does (CSV of
// key=value fields: type=bind|volume|tmpfs, src|source, dst|destination|
// target, readonly|ro[=bool], bind-propagation, bind-recursive,
// bind-create-src, volume-nocopy, volume-label, volume-driver, volume-opt,
// volume-subpath, tmpfs-size, tmpfs-mode, consistency) into what the CLI
// sends in HostConfig.Mounts, with the CLI's messages.
func ParseMountSpec(value string) (mount.Mount, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return mount.Mount{}, errors.New("value is empty")
	}
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return mount.Mount{}, err
	}
	m := mount.Mount{Type: mount.TypeVolume}
	volOpts := func() *mount.VolumeOptions {
		if m.VolumeOptions == nil {
			m.VolumeOptions = &mount.VolumeOptions{}
		}
		return m.VolumeOptions
	}
	volDriver := func() *mount.Driver {
		if volOpts().DriverConfig == nil {
			m.VolumeOptions.DriverConfig = &mount.Driver{}
		}
		return m.VolumeOptions.DriverConfig
	}
	bindOpts := func() *mount.BindOptions {
		if m.BindOptions == nil {
			m.BindOptions = &mount.BindOptions{}
		}
		return m.BindOptions
	}
	tmpfsOpts := func() *mount.TmpfsOptions {
		if m.TmpfsOptions == nil {
			m.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return m.TmpfsOptions
	}
	setMap := func(target map[string]string, kv string) map[string]string {
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			if target == nil {
				target = map[string]string{}
			}
			target[k] = v
		}
		return target
	}
	for _, field := range fields {
		key, val, hasValue := strings.Cut(field, "=")
		if k := strings.TrimSpace(key); k != key {
			return mount.Mount{}, fmt.Errorf("invalid option '%s' in '%s': option should not have whitespace", k, field)
		}
		if hasValue {
			v := strings.TrimSpace(val)
			if v == "" {
				return mount.Mount{}, fmt.Errorf("invalid value for '%s': value is empty", key)
			}
			if v != val {
				return mount.Mount{}, fmt.Errorf("invalid value for '%s' in '%s': value should not have whitespace", key, field)
			}
		}
		key = strings.ToLower(key)
		if !hasValue {
			switch key {
			case "readonly", "ro", "volume-nocopy", "bind-nonrecursive", "bind-create-src":
			default:
				return mount.Mount{}, fmt.Errorf("invalid field '%s' must be a key=value pair", field)
			}
		}
		switch key {
		case "type":
			m.Type = mount.Type(strings.ToLower(val))
		case "source", "src":
			m.Source = val
			if !filepath.IsAbs(val) && strings.HasPrefix(val, ".") {
				if abs, err := filepath.Abs(val); err == nil {
					m.Source = abs
				}
			}
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			if m.ReadOnly, err = mountBool(key, val, hasValue); err != nil {
				return mount.Mount{}, err
			}
		case "consistency":
			m.Consistency = mount.Consistency(strings.ToLower(val))
		case "bind-propagation":
			bindOpts().Propagation = mount.Propagation(strings.ToLower(val))
		case "bind-nonrecursive":
			return mount.Mount{}, errors.New("bind-nonrecursive is deprecated, use bind-recursive=disabled instead")
		case "bind-recursive":
			switch val {
			case "enabled":
			case "disabled":
				bindOpts().NonRecursive = true
			case "writable":
				bindOpts().ReadOnlyNonRecursive = true
			case "readonly":
				bindOpts().ReadOnlyForceRecursive = true
			default:
				return mount.Mount{}, fmt.Errorf(`invalid value for %s: %s (must be "enabled", "disabled", "writable", or "readonly")`, key, val)
			}
		case "bind-create-src":
			if bindOpts().CreateMountpoint, err = mountBool(key, val, hasValue); err != nil {
				return mount.Mount{}, err
			}
		case "volume-subpath":
			volOpts().Subpath = val
		case "volume-nocopy":
			if volOpts().NoCopy, err = mountBool(key, val, hasValue); err != nil {
				return mount.Mount{}, err
			}
		case "volume-label":
			volOpts().Labels = setMap(volOpts().Labels, val)
		case "volume-driver":
			volDriver().Name = val
		case "volume-opt":
			volDriver().Options = setMap(volDriver().Options, val)
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOpts().SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOpts().Mode = os.FileMode(n)
		default:
			return mount.Mount{}, fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	if m.Type == "" {
		return mount.Mount{}, errors.New("type is required")
	}
	for _, x := range []struct {
		set    bool
		typ    mount.Type
		prefix string
	}{{m.BindOptions != nil, mount.TypeBind, "bind"}, {m.VolumeOptions != nil, mount.TypeVolume, "volume"}, {m.TmpfsOptions != nil, mount.TypeTmpfs, "tmpfs"}} {
		if x.set && m.Type != x.typ {
			return mount.Mount{}, fmt.Errorf("cannot mix '%s-*' options with mount type '%s'", x.prefix, m.Type)
		}
	}
	if b := m.BindOptions; b != nil {
		if b.ReadOnlyNonRecursive && !m.ReadOnly {
			return mount.Mount{}, errors.New("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction")
		}
		if b.ReadOnlyForceRecursive {
			if !m.ReadOnly {
				return mount.Mount{}, errors.New("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction")
			}
			if b.Propagation != mount.PropagationRPrivate {
				return mount.Mount{}, errors.New("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction")
			}
		}
	}
	return m, nil
}

func mountBool(key, val string, hasValue bool) (bool, error) {
	if !hasValue {
		return true, nil
	}
	switch strings.ToLower(val) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf(`invalid value for '%s': invalid boolean value (%q): must be one of "true", "1", "false", or "0" (default "true")`, key, val)
}
