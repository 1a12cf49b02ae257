package runtime

import (
	"strings"

	"golang.org/x/sys/unix"
)

// mountOptions is a spec mount's options split the way mount(2) and
// mount_setattr(2) take them.
type mountOptions struct {
	flags   uintptr   // MS_* flags to set
	cleared uintptr   // MS_* flags an option explicitly turned off (rw, suid, dev, ...)
	atime   bool      // an access-time option was given
	prop    []uintptr // propagation changes, applied in order after the mount
	// recursive attributes (rro, rnosuid, ...) applied with mount_setattr
	// and AT_RECURSIVE after the mount.
	recSet, recClr uint64
	recAtime       bool
	data           []string // passed to the filesystem as the data string
	idmap          string   // "idmap" or "ridmap" when asked
	// tmpcopyup: a tmpfs gets a copy of what its destination held.
	tmpcopyup bool
}

// flag options: name -> (clear?, flag). From mount(8) and runc.
var mountFlagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"acl":           {false, unix.MS_POSIXACL},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noacl":         {true, unix.MS_POSIXACL},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

var mountPropagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// recursive attribute options (runtime-spec 1.1): name -> (clear?, attr).
var mountRecursiveOptions = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro":          {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":          {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":      {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":        {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":       {false, unix.MOUNT_ATTR_NODEV},
	"rdev":         {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":      {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":        {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":  {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":    {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":   {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// recursive access-time options: they replace the whole atime field.
var mountRecursiveAtime = map[string]uint64{
	"rrelatime":    unix.MOUNT_ATTR_RELATIME,
	"rnoatime":     unix.MOUNT_ATTR_NOATIME,
	"rstrictatime": unix.MOUNT_ATTR_STRICTATIME,
	"ratime":       unix.MOUNT_ATTR_STRICTATIME,
}

const atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// stNoSymfollow is ST_NOSYMFOLLOW of statfs(2) (Linux 5.10), missing from x/sys.
const stNoSymfollow = 0x2000

// parseMountOptions sorts a spec mount's options into flags, propagation,
// recursive attributes and filesystem data. Unknown options are data, as in
// runc, so a filesystem sees e.g. "size=64m" or "mode=755".
func parseMountOptions(options []string) (mountOptions, error) {
	var o mountOptions
	for _, opt := range options {
		if f, ok := mountFlagOptions[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
				o.cleared |= f.flag
			} else {
				o.flags |= f.flag
				o.cleared &^= f.flag
			}
			if f.flag&atimeFlags != 0 {
				o.atime = true
			}
			continue
		}
		if p, ok := mountPropagationOptions[opt]; ok {
			o.prop = append(o.prop, p)
			continue
		}
		if r, ok := mountRecursiveOptions[opt]; ok {
			if r.clear {
				o.recSet &^= r.attr
				o.recClr |= r.attr
			} else {
				o.recSet |= r.attr
				o.recClr &^= r.attr
			}
			continue
		}
		if a, ok := mountRecursiveAtime[opt]; ok {
			o.recSet = o.recSet&^unix.MOUNT_ATTR__ATIME | a
			o.recClr |= unix.MOUNT_ATTR__ATIME
			o.recAtime = true
			continue
		}
		switch opt {
		case "idmap", "ridmap":
			o.idmap = opt
			continue
		case "tmpcopyup":
			o.tmpcopyup = true
			continue
		case "":
			continue
		}
		o.data = append(o.data, opt)
	}
	return o, nil
}

// dataString is the data argument of mount(2).
func (o mountOptions) dataString() string { return strings.Join(o.data, ",") }

// needsRemount reports whether a bind mount needs a second, MS_REMOUNT call to
// apply its flags (the first bind ignores everything but MS_BIND|MS_REC).
func (o mountOptions) needsRemount() bool {
	return o.flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 || o.cleared != 0
}

// statfsToMountFlags converts statfs f_flags (ST_*) into the MS_* flags that
// a bind remount must keep: in a user namespace the kernel refuses a remount
// that would drop a flag locked on the source mount.
func statfsToMountFlags(f int64) uintptr {
	var fl uintptr
	for _, m := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
		{stNoSymfollow, unix.MS_NOSYMFOLLOW},
	} {
		if f&m.st != 0 {
			fl |= m.ms
		}
	}
	return fl
}
